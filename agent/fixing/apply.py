"""Carry a plan out on the target, journaled: packages first (what later fixes configure must be
installed), then each change's files and commands in plan order. Any failure stops the apply,
restores every backup and undoes what ran, and raises ApplyFailed naming the requirement and why
in one line. Nothing is half-written: each file is replaced by rename.

On an image (``--root``) commands run inside it with chroot (pam-auth-update, apt-get: the real
programs, with the image's own maintainer scripts), and systemctl runs here with ``--root``,
which edits an image's unit links without a running systemd. While apt-get runs, a
policy-rc.d that answers 101 keeps maintainer scripts from starting daemons on this machine.
Commands that act on a running system (reloads, ``sysctl -w``) are left out on an image.
"""
from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from typing import Any, Sequence

from agent.fixing import ApplyFailed
from agent.fixing.journal import Journal, command_env, last_line, restore
from agent.fixing.planner import Change, Plan
from agent.fixing.targetfs import Refused, TargetFS, no_daemons
from checks.fixes.package import STATUS, installed
from checks.fixes.pam_option import STACKS
from checks.fixes.model import Command, Packages, Remove, SetAttributes, Symlink, WriteFile

APT_OPTIONS = ("-y", "-q", "-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold")
INVERSE = {"mask": "unmask", "unmask": "mask", "enable": "disable", "disable": "enable"}


class Failure(Exception):
    def __init__(self, requirement: str, why: str) -> None:
        super().__init__(f"{requirement}: {why}")


@dataclass
class Applied:
    journal: Journal
    changed: list[str] = field(default_factory=list)  # requirement ids whose actions all ran
    warnings: list[str] = field(default_factory=list)


def apply(plan: Plan, target: TargetFS, state_dir: str, timeout: float = 1800.0,
          journal: Journal | None = None, about: dict[str, Any] | None = None) -> Applied:
    """Apply ``plan``; with ``journal``, as a further round of that apply (a failure rolls back
    every round). The journal is left ``applied``: the caller adds the re-scan's result.
    ``about``: for a new journal, who applies and how (agent.fixing.journal.Journal.start)."""
    if journal is None:
        journal = Journal.start(state_dir, target.root, plan.to_json(), about)
    else:
        journal.data.setdefault("rounds", []).append(plan.to_json())
        journal.save()
    done = Applied(journal)
    # Commands for the running system (checks, reloads, running values) wait until every file
    # is written, and each runs once: ten sshd settings make one sshd -t and one reload.
    deferred: dict[tuple[str, ...], tuple[Command, Change]] = {}
    try:
        _packages(plan.changes, target, journal, timeout)
        for change in plan.changes:
            for action in change.actions:
                if isinstance(action, Packages):
                    continue
                if isinstance(action, Command) and action.image == "skip":
                    deferred.setdefault(action.argv, (action, change))
                    continue
                try:
                    _act(action, change, target, journal, done)
                except (OSError, Refused) as exc:
                    raise Failure(change.requirement, _why(action, exc)) from None
        for action, change in deferred.values():
            _command(action, change, target, journal, done)
        done.changed.extend(c.requirement for c in plan.changes)
    except Failure as exc:
        problems = restore(journal, target)
        journal.finish("rolled_back", error=str(exc), rollback_problems=problems)
        more = f"; rollback incomplete: {'; '.join(problems)}" if problems else "; every change was rolled back"
        raise ApplyFailed(f"fix --apply stopped: {exc}{more} (apply {journal.id})", journal.id) from None
    except BaseException:
        restore(journal, target)
        journal.finish("rolled_back", error="interrupted")
        raise
    journal.finish("applied", warnings=done.warnings)
    return done


def _why(action: object, exc: BaseException) -> str:
    path = getattr(action, "path", "")
    if isinstance(exc, Refused):
        return str(exc)
    reason = getattr(exc, "strerror", None) or str(exc)
    return f"cannot write {path}: {reason}" if path else reason


def _act(action: object, change: Change, target: TargetFS, journal: Journal, done: Applied) -> None:
    if isinstance(action, WriteFile):
        local = target.writable(action.path)
        uid, gid = target.ids(action.owner, action.group)
        journal.made_dirs(target.make_dirs(local))
        journal.backup(action.path, local, change.requirement)
        target.write(local, action.content.encode("utf-8", "surrogateescape"), action.mode, uid, gid)
    elif isinstance(action, SetAttributes):
        local = target.writable(action.path, directory_ok=True)
        uid, gid = target.ids(action.owner, action.group)
        journal.backup(action.path, local, change.requirement)
        if action.mode is not None:
            os.chmod(local, action.mode)
        if uid >= 0 or gid >= 0:
            os.chown(local, uid, gid)
    elif isinstance(action, Symlink):
        local = target.local(action.path, follow=False)
        journal.made_dirs(target.make_dirs(local))
        journal.backup(action.path, local, change.requirement)
        if os.path.lexists(local):
            os.unlink(local)
        os.symlink(action.target, local)
    elif isinstance(action, Remove):
        local = target.writable(action.path)
        journal.backup(action.path, local, change.requirement)
        if os.path.lexists(local):
            os.unlink(local)
    elif isinstance(action, Command):
        _command(action, change, target, journal, done)


def targeted(argv: Sequence[str], image: str, target: TargetFS) -> list[str] | None:
    """The argv to run for the target, or None when it does not apply there."""
    if target.live:
        return list(argv)
    if image == "chroot":
        return ["chroot", target.root, *argv]
    if image == "root_option":
        return [argv[0], f"--root={target.root}", *argv[1:]]
    return None


def _command(action: Command, change: Change, target: TargetFS, journal: Journal, done: Applied) -> None:
    argv = targeted(action.argv, action.image, target)
    if argv is None:
        return
    for path in action.writes:
        local = target.local(path)
        if os.path.lexists(local):
            journal.backup(path, target.writable(path), change.requirement)
    if action.argv[0] == "systemctl" and len(action.argv) == 3 and action.argv[1] in INVERSE:
        undo = targeted(("systemctl", INVERSE[action.argv[1]], action.argv[2]), action.image, target)
        if undo is not None:
            journal.will_run(undo, change.requirement)
    ok, message = run(argv, 300.0)
    if not ok:
        if action.best_effort:
            done.warnings.append(f"{change.requirement}: {' '.join(action.argv)}: {message}")
            return
        raise Failure(change.requirement, f"{' '.join(action.argv)} failed: {message}")


def run(argv: Sequence[str], timeout: float) -> tuple[bool, str]:
    try:
        proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, check=False,
                              env=command_env(), stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        return False, f"{argv[0]} is not installed"
    except subprocess.TimeoutExpired:
        return False, f"no answer in {timeout:.0f} s"
    except OSError as exc:
        return False, exc.strerror or str(exc)
    return proc.returncode == 0, last_line(proc.stderr or proc.stdout)


def _packages(changes: Sequence[Change], target: TargetFS, journal: Journal, timeout: float) -> None:
    """Every package change of the plan in one apt-get run each way, named by its requirements."""
    install: dict[str, str] = {}
    remove: dict[str, str] = {}
    for change in changes:
        for action in change.actions:
            if isinstance(action, Packages):
                install.update({p: change.requirement for p in action.install})
                remove.update({p: change.requirement for p in action.remove})
    if not install and not remove:
        return
    owners = ", ".join(dict.fromkeys([*install.values(), *remove.values()]))
    apt = "/usr/bin/apt-get"
    if not os.path.isfile(target.local(apt)) or not os.path.isfile(target.local("/usr/bin/dpkg")):
        raise Failure(owners, f"no package manager on the target ({apt} is missing)")
    with no_daemons(target):
        if remove:
            journal.will_run(_apt(target, "install", list(remove)), ", ".join(dict.fromkeys(remove.values())))
            _apt_run(target, ["purge", *remove], ", ".join(dict.fromkeys(remove.values())), timeout)
        if install:
            # Maintainer scripts rewrite the PAM stacks (pam-auth-update --package): keep them as
            # they were before, so a rollback restores them after the purge.
            for path in STACKS:
                if os.path.lexists(target.local(path)):
                    journal.backup(path, target.writable(path), owners)
            had = _installed(target)
            undo = journal.will_run(_apt(target, "purge", list(install)), ", ".join(dict.fromkeys(install.values())))
            try:
                _apt_run(target, ["install", "--no-install-recommends", *install],
                         ", ".join(dict.fromkeys(install.values())), timeout)
            finally:  # the undo purges what came with them too (systemd, libraries), and only that
                brought = sorted(_installed(target) - had)
                if brought:
                    undo["undo"] = _apt(target, "purge", brought)
                    journal.save()


def _installed(target: TargetFS) -> set[str]:
    try:
        with open(target.local(STATUS), encoding="utf-8", errors="replace") as fh:
            return installed(fh.read())
    except OSError:
        return set()



def _apt(target: TargetFS, verb: str, packages: list[str]) -> list[str]:
    argv = ["apt-get", *APT_OPTIONS, verb, *packages]
    return argv if target.live else ["chroot", target.root, *argv]


def _apt_run(target: TargetFS, args: list[str], requirements: str, timeout: float) -> None:
    argv = _apt(target, args[0], args[1:])
    ok, message = run(argv, timeout)
    if not ok and args[0] == "install":  # the package lists may be stale: refresh once
        updated, _ = run(_apt(target, "update", []), timeout)
        if updated:
            ok, message = run(argv, timeout)
    if not ok:
        raise Failure(requirements, f"apt-get {args[0]} {' '.join(args[1:])} failed: {message}")

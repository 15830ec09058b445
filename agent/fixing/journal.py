"""The record of an apply under the state directory, and its undoing.

Layout (beside the agent's other state, agent.state)::

    fixes/<apply id>/journal.json   what was planned, every path touched (with its backup),
                                    directories made, service and package operations and their
                                    inverses, the outcome and the re-scan's summary
    fixes/<apply id>/files/<n>      the bytes of each file as it was before the apply

The journal is rewritten (atomically) before each change it records is made, so an apply
killed half-way can still be rolled back from it. It also says who ran the apply (``by``) and,
once rolled back, who did that and when (``rollback``); ``revision`` counts its changes of
state, so that the record fix --submit reports (agent.fixing.record) is superseded in order.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent import UsageError
from agent.fixing.targetfs import Refused, TargetFS, no_daemons
from agent.state import write_atomic

FIXES = "fixes"


def new_id() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


@dataclass
class Journal:
    directory: Path
    data: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def start(cls, state_dir: str, root: str, plan: dict[str, Any], about: dict[str, Any] | None = None) -> Journal:
        """A new journal; ``about``: what the record of the apply says beside the plan (``by``,
        ``include_disruptive``)."""
        base = Path(state_dir) / FIXES
        try:
            base.mkdir(parents=True, exist_ok=True, mode=0o700)
            directory = base / new_id()
            (directory / "files").mkdir(parents=True, mode=0o700)
        except OSError as exc:
            raise UsageError(f"--state-dir {state_dir}: cannot keep backups there: {exc.strerror}") from None
        journal = cls(directory, {"version": 1, "id": directory.name, "root": root, "status": "applying",
                                  "started_at": now(), **(about or {}), "revision": 0, "plan": plan, "entries": [],
                                  "warnings": []})
        journal.save()
        return journal

    @property
    def id(self) -> str:
        return str(self.data["id"])

    def save(self) -> None:
        write_atomic(self.directory / "journal.json",
                     json.dumps(self.data, indent=2, ensure_ascii=False).encode() + b"\n", 0o600)

    def backed_up(self, local: str) -> bool:
        return any(e.get("local") == local for e in self.data["entries"])

    def backup(self, path: str, local: str, requirement: str) -> None:
        """Keep ``local`` as it is now (or that it did not exist) before the first change to it."""
        if self.backed_up(local):
            return
        entry: dict[str, Any] = {"path": path, "local": local, "requirement": requirement, "existed": False}
        try:
            st = os.lstat(local)
        except FileNotFoundError:
            st = None
        if st is not None:
            entry.update(existed=True, mode=st.st_mode & 0o7777, uid=st.st_uid, gid=st.st_gid)
            if os.path.islink(local):
                entry["link"] = os.readlink(local)
            elif os.path.isdir(local):
                entry["dir"] = True  # only its mode and owner change
            else:
                name = f"files/{len(self.data['entries'])}"
                shutil.copyfile(local, self.directory / name, follow_symlinks=False)
                entry["backup"] = name
        self.data["entries"].append(entry)
        self.save()

    def made_dirs(self, dirs: list[str]) -> None:
        if dirs:
            self.data["entries"].extend({"made_dir": d} for d in dirs)
            self.save()

    def will_run(self, undo: list[str], requirement: str) -> dict[str, Any]:
        """An operation (package, service) whose inverse ``undo`` (argv, already targeted) rollback
        runs; the entry, for an undo that is known exactly only afterwards."""
        entry = {"undo": undo, "requirement": requirement}
        self.data["entries"].append(entry)
        self.save()
        return entry

    def finish(self, status: str, **extra: Any) -> None:
        self.data.update(status=status, finished_at=now(), revision=self.data.get("revision", 0) + 1, **extra)
        self.save()

    def rolled_back(self, problems: list[str], by: dict[str, Any]) -> None:
        """fix --rollback ran: the apply's own times stay, the rollback's are beside them."""
        self.data.update(status="rolled_back" if not problems else "rollback_incomplete",
                         rollback={"at": now(), "by": by}, rollback_problems=problems,
                         revision=self.data.get("revision", 0) + 1)
        self.save()


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def restore(journal: Journal, target: TargetFS) -> list[str]:
    """Undo everything the journal records, newest first; the problems met (none when whole)."""
    problems: list[str] = []
    entries = journal.data["entries"]
    with no_daemons(target) if any("undo" in e for e in entries) else contextlib.nullcontext():
        for entry in reversed(entries):
            _undo(entry, journal, target, problems)
    return problems


def _undo(entry: dict[str, Any], journal: Journal, target: TargetFS, problems: list[str]) -> None:
    """Undo one recorded operation (the newest first: files before the packages they came after)."""
    if "undo" in entry:
        argv = entry["undo"]
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=1800, check=False,
                                  env=command_env(undo=True), stdin=subprocess.DEVNULL)
            if proc.returncode != 0:
                problems.append(f"{' '.join(argv)}: {last_line(proc.stderr or proc.stdout)}")
        except (OSError, subprocess.TimeoutExpired) as exc:
            problems.append(f"{' '.join(argv)}: {exc}")
        return
    try:
        if "made_dir" in entry:
            if os.path.isdir(entry["made_dir"]) and not os.listdir(entry["made_dir"]):
                os.rmdir(entry["made_dir"])
            return
        local = entry["local"]
        if not entry["existed"]:
            if os.path.lexists(local):
                os.unlink(local)
        elif entry.get("dir"):
            os.chmod(local, entry["mode"])
            os.chown(local, entry["uid"], entry["gid"])
        elif "link" in entry:
            if os.path.lexists(local):
                os.unlink(local)
            os.symlink(entry["link"], local)
        else:
            data = (journal.directory / entry["backup"]).read_bytes()
            target.write(local, data, entry["mode"], entry["uid"], entry["gid"])
    except (OSError, Refused) as exc:
        problems.append(f"{entry.get('path', entry.get('made_dir'))}: {getattr(exc, 'strerror', None) or exc}")


def command_env(undo: bool = False) -> dict[str, str]:
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C",
           "DEBIAN_FRONTEND": "noninteractive"}
    if undo:  # purging a sudo the apply installed: its prerm refuses when root has no password
        env["SUDO_FORCE_REMOVE"] = "yes"
    return env


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "(no message)"


def find(state_dir: str, apply_id: str | None) -> Journal:
    """The journal of apply ``apply_id``, or of the latest apply not rolled back yet."""
    base = Path(state_dir) / FIXES
    try:
        names = sorted(n for n in os.listdir(base) if (base / n / "journal.json").is_file())
    except OSError:
        names = []
    if apply_id is not None:
        if apply_id not in names:
            raise UsageError(f"no apply {apply_id} in {base} (applies: {', '.join(names) or 'none'})")
        chosen = apply_id
    else:
        live = [n for n in names if json.loads((base / n / "journal.json").read_text()).get("status") == "applied"]
        if not live:
            raise UsageError(f"no apply to roll back in {base}")
        chosen = live[-1]
    return Journal(base / chosen, json.loads((base / chosen / "journal.json").read_text()))

"""Hosts scanned over SSH as members of the fleet: ``enroll --ssh`` / ``enroll --inventory``
enroll each one as itself, ``scan --ssh`` / ``scan --inventory`` with ``--submit`` send each
report as that host.

A remote host's credential, install key, delta chain, spool and lock live in its own state
directory, ``<state-dir>/remote/<host_id>/`` (agent.state), made and used by the functions the
local agent uses (agent.fleet.do_enroll, agent.fleet.submit_report), so deltas, the spool,
resyncs and clone checks work per host. The identity (host id, hostname, hardware id) is read
from the host over SSH; its own ``instance.key`` lets the collector tell this enrollment from
the host's own agent (409: the host reports for itself already).
"""
from __future__ import annotations

from typing import Any

import click

from agent import AgentError, ScanError, UsageError
from agent.contract import EXIT_COULD_NOT_COMPLETE, EXIT_OK, EXIT_USAGE
from agent.fleet import (REMOTE_HINT, CollectorAccess, delivery_problem, do_enroll, host_anchor,
                         submit_report)
from agent.inventory import Entry
from agent.remote import DEFAULT_JOBS, open_ssh
from agent.reporting import Backoff
from agent.state import StateDir

# One retry per host: many hosts share one collector, and the next run delivers what is spooled.
INVENTORY_BACKOFF = Backoff(attempts=2, base=1.0, cap=5.0)


def say(message: str) -> None:
    click.echo(f"fedharden: {message}", err=True)


def problem_text(exc: BaseException) -> str:
    """One line for a host's failure (a bug included: it must not hide the other hosts)."""
    if isinstance(exc, AgentError):
        return str(exc)
    if isinstance(exc, OSError):
        return f"{exc.filename}: {exc.strerror}" if exc.filename and exc.strerror else str(exc)
    return f"internal error {type(exc).__name__}: {exc}"


def enrolled_line(cred: Any) -> str:
    return f"enrolled host {cred.host_id} ({cred.hostname}) in agency {cred.agency}"


def enroll_remote(state: StateDir, access: CollectorAccess, options: dict[str, Any]) -> int:
    """``enroll --ssh`` or ``enroll --inventory``: the exit code."""
    if options.get("inventory"):
        return enroll_inventory(state, access, options)
    return enroll_one(state, access, options)


def usable(state: StateDir) -> bool:
    """Whether the hosts' state can be kept (said in one line if not), before any host is contacted."""
    try:
        state.ensure_remote_dir()
    except UsageError as exc:
        say(str(exc))
        return False
    return True


def enroll_one(state: StateDir, access: CollectorAccess, options: dict[str, Any]) -> int:
    """One host: 0 enrolled, 2 a problem to fix (the collector's refusal), 3 not reached."""
    from agent.remote import single

    target = options["ssh_target"]
    if not usable(state):
        return EXIT_USAGE
    try:
        host = single(None, options)  # asks for secrets, verifies the host key, prints --sudo warnings
        try:
            cred = do_enroll(state, host, access, remote=True)
        finally:
            host.close()
    except ScanError as exc:  # unreachable, authentication, host key, timeout
        say(f"{target}: not enrolled: {exc}")
        return EXIT_COULD_NOT_COMPLETE
    except (AgentError, OSError) as exc:
        say(f"{target}: not enrolled: {problem_text(exc)}")
        return EXIT_USAGE
    click.echo(f"{enrolled_line(cred)} at {cred.collector}; credential in "
               f"{state.remote(cred.host_id).credential_file}")
    return EXIT_OK


def enroll_inventory(state: StateDir, access: CollectorAccess, options: dict[str, Any]) -> int:
    """Every host of the inventory, ``--jobs`` at a time, one line each as it finishes; a host
    that fails never stops the others. 0 all enrolled, 3 some host not enrolled."""
    from agent import inventory
    from agent.inventory_scan import entry_settings, inventory_settings, parallel

    try:
        entries = inventory.load(options["inventory"])
        settings = inventory_settings(options, entries)
    except UsageError as exc:
        say(str(exc))
        return EXIT_USAGE
    if not usable(state):
        return EXIT_USAGE

    def enroll_entry(entry: Entry) -> tuple[Entry, bool, str]:
        host = None
        try:
            host = open_ssh(entry.target, entry_settings(settings, entry))
            line = enrolled_line(do_enroll(state, host, access, remote=True))
            return entry, True, "; ".join([line, *(f"warning: {w}" for w in host.warnings)])
        except Exception as exc:  # this host's trouble, reported on its line
            return entry, False, f"not enrolled: {problem_text(exc)}"
        finally:
            if host is not None:
                host.close()

    done: list[bool] = []
    for entry, ok, line in parallel(entries, enroll_entry, int(options.get("jobs") or DEFAULT_JOBS)):
        done.append(ok)
        click.echo(f"[{len(done)}/{len(entries)}] {entry.name}: {line}")
    click.echo(f"{len(done)} hosts: {done.count(True)} enrolled, {done.count(False)} not enrolled "
               f"(credentials in {state.remote_dir})")
    return EXIT_OK if all(done) else EXIT_COULD_NOT_COMPLETE


class InventorySubmit:
    """agent.inventory_scan.Submit for ``scan --inventory --submit``: each report through its
    host's own state directory, holding only that host's lock."""

    def __init__(self, state_dir: str) -> None:
        self.state = StateDir(state_dir)

    def __call__(self, entry: Entry, host: Any, report: dict[str, Any]) -> str:
        sd = self.state.remote(report["host"]["id"])
        # The hardware id is read over the still-open connection: a cloned VM is caught here.
        done = submit_report(report, sd, anchor=host_anchor(host), enroll_hint=REMOTE_HINT,
                             backoff=INVENTORY_BACKOFF)
        problem = delivery_problem(done.delivery)
        if problem:
            raise NotSubmitted(problem)
        return done.short()


class NotSubmitted(UsageError):
    """The collector refused a host's report for a reason a human must fix."""

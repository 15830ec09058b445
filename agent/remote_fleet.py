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

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator

from agent import AgentError, ScanError, UsageError
from agent.fleet import (REMOTE_HINT, CollectorAccess, NotSubmitted, delivery_problem, do_enroll, host_anchor,
                         submit_report)
from agent.inventory import Entry
from agent.reporting import Backoff
from agent.state import StateDir

if TYPE_CHECKING:
    from agent.contract import Report
    from agent.credential import Credential
    from agent.target import Target


def problem_text(exc: BaseException) -> str:
    """One line for a host's failure (a bug included: it must not hide the other hosts)."""
    if isinstance(exc, AgentError):
        return str(exc)
    if isinstance(exc, OSError):
        return f"{exc.filename}: {exc.strerror}" if exc.filename and exc.strerror else str(exc)
    return f"internal error {type(exc).__name__}: {exc}"


def enrolled_line(cred: Any) -> str:
    return f"enrolled host {cred.host_id} ({cred.hostname}) in agency {cred.agency}"


def enroll_one(state: StateDir, access: CollectorAccess, target: Target) -> tuple[Credential, list[str]]:
    """``enroll --ssh``: the credential and the host's warnings (sudo refused). Raises
    ScanError (exit 3) when the host or the collector cannot be reached, UsageError (exit 2)
    for a problem to fix (the collector's refusal), each naming the host."""
    state.ensure_remote_dir()  # before the host is contacted
    try:
        host = target.open()  # asks for secrets, verifies the host key
        try:
            return do_enroll(state, host, access, remote=True), list(host.warnings)
        finally:
            host.close()
    except ScanError as exc:  # unreachable host or collector, authentication, host key, timeout
        raise ScanError(f"{target.address}: not enrolled: {exc}") from exc
    except (AgentError, OSError) as exc:
        raise UsageError(f"{target.address}: not enrolled: {problem_text(exc)}") from exc


@dataclass
class Enrollments:
    """``enroll --inventory`` under way: the hosts, and each one's outcome as it finishes
    (entry, enrolled, one line saying what happened)."""

    entries: list[Entry]
    outcomes: Iterator[tuple[Entry, bool, str]]


def enroll_inventory(state: StateDir, access: CollectorAccess, target: Target) -> Enrollments:
    """Every host of the inventory, ``target.jobs`` at a time; a host that fails never stops
    the others. The inventory, the secrets and the state directory are checked (UsageError)
    before any host is contacted."""
    from agent import inventory
    from agent.inventory_scan import entry_settings, inventory_settings, parallel
    from agent.remote import open_ssh

    assert target.inventory is not None
    entries = list(inventory.load(target.inventory))
    settings = inventory_settings(target, entries)
    state.ensure_remote_dir()

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

    return Enrollments(entries, parallel(entries, enroll_entry, target.jobs))


class InventorySubmit:
    """agent.inventory_scan.Submit for ``scan --inventory --submit``: each report through its
    host's own state directory, holding only that host's lock."""

    def __init__(self, state_dir: str, backoff: Backoff) -> None:
        self.state = StateDir(state_dir)
        self.backoff = backoff

    def __call__(self, entry: Entry, host: Any, report: Report) -> str:
        sd = self.state.remote(report["host"]["id"])
        # The hardware id is read over the still-open connection: a cloned VM is caught here.
        done = submit_report(report, sd, self.backoff, anchor=host_anchor(host), enroll_hint=REMOTE_HINT)
        problem = delivery_problem(done.delivery)
        if problem:
            raise NotSubmitted(problem)
        return done.short()

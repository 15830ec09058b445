"""From a scan to the collector: record the report (state + spool), then drain the spool.

Order of writes in ``record`` (the caller holds the state directory's lock)::

    1. drop spool orphans of a killed run      (sequence above the committed state)
    2. write the new report into the spool     (atomic; not yet "made")
    3. write state.json                        (atomic; the commit point)
    4. after a full snapshot, drop what it supersedes

A kill -9 before 3 leaves the previous state and an orphan that step 1 of the next run
removes; after 3 the report is made and will be delivered. ``deliver`` removes an entry
only after the collector acknowledged it (accepted, or already had it: the report id makes
a resend harmless), so a kill during submission loses nothing and applies nothing twice.
"""
from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

from agent.contract import CompactDelta, Report
from agent.delta import Delta, build, compact, next_report, snapshot
from agent.spool import Entry, Spool, encode
from agent.state import AgentState, StateDir

# How a delivery attempt ended, as the transport saw it.
ACCEPTED, DUPLICATE, RESYNC, REJECTED, REFUSED, UNAVAILABLE, CLONE = (
    "accepted", "duplicate", "resync", "rejected", "refused", "unavailable", "clone")
CLONE_TEXT = ("the collector's state for this host id was last written by another agent (report {theirs} was "
              "not made here): a cloned machine reports under this identity; give each machine its own "
              "machine-id (rm /etc/machine-id && systemd-machine-id-setup) and run fedharden enroll on the clone")


@dataclass(frozen=True)
class Answer:
    kind: str  # one of the constants above
    detail: str = ""  # for the user: never contains a credential
    status_code: int | None = None
    body: dict[str, Any] = field(default_factory=dict)


class Transport(Protocol):
    def send(self, body: bytes) -> Answer:
        """Submit one encoded report; never raises for network or HTTP trouble."""
        ...


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter: ``delay(n)`` is the wait after the n-th failed try
    (``base`` doubled n times, at most ``cap``, times a random 0.5..1); ``attempts`` bounds the
    tries of one delivery. Its users take it as a parameter, so a test passes one that does
    not sleep (``sleep``) or a command line one that does not wait (``--retry-delay 0``)."""

    attempts: int = 5
    base: float = 1.0
    cap: float = 60.0
    sleep: Callable[[float], None] = time.sleep
    rand: Callable[[], float] = random.random

    def delay(self, attempt: int) -> float:
        return float(min(self.cap, self.base * 2.0 ** min(attempt, 64)) * (0.5 + 0.5 * self.rand()))


@dataclass(frozen=True)
class Recorded:
    report: Report  # every header field, whatever travels
    delta: Delta
    entry: Entry
    folded: bool  # the spool was full: queued deltas were folded into this full snapshot
    wire: Report | CompactDelta  # what was spooled: a full report, or a delta's compact form


@dataclass
class Delivery:
    sent: list[Entry] = field(default_factory=list)
    rejected: list[Entry] = field(default_factory=list)
    resyncs: int = 0
    remaining: int = 0
    error: Answer | None = None  # why delivery stopped with reports still queued

    def describe(self) -> str:
        out = f"{len(self.sent)} delivered"
        if self.resyncs:
            out += f", {self.resyncs} resync{'s' if self.resyncs > 1 else ''} (full snapshot sent)"
        if self.rejected:
            out += f", {len(self.rejected)} refused as invalid (kept in spool/rejected)"
        if self.remaining:
            out += f", {self.remaining} spooled"
        return out


def record(state_dir: StateDir, spool: Spool, scanned: Report, force_full: bool = False) -> Recorded:
    """Turn a scan into the next report and commit it to the spool and the state."""
    previous = state_dir.load_state()
    spool.reconcile(previous.sequence if previous else 0)
    report, state, delta = next_report(previous, scanned, force_full)
    folded = False
    wire: Report | CompactDelta = report
    if report["kind"] == "delta":
        assert previous is not None, "a delta has a base"
        wire = compact(report, previous.header)
        if not spool.fits(len(encode(wire))):
            report, folded = build(state, "full", None), True
            wire = report
    entry = spool.put(wire)
    state_dir.save_state(state)
    if report["kind"] == "full":
        spool.drop_before(state.sequence)
    state_dir.write_last_scan(report)
    return Recorded(report, delta, entry, folded, wire)


def resync(state_dir: StateDir, spool: Spool, after: int = 0) -> Entry | None:
    """Queue a full snapshot of the committed state in place of everything queued.

    ``after``: a sequence the collector has already seen; the snapshot's goes past it."""
    previous = state_dir.load_state()
    if previous is None:
        spool.clear()
        return None
    previous.sequence = max(previous.sequence, after)
    report, state = snapshot(previous)
    entry = spool.put(report)
    state_dir.save_state(state)
    spool.drop_before(state.sequence)
    return entry


def foreign_head(state: AgentState | None, body: dict[str, Any]) -> bool:
    """Whether the collector's head for this host is a report another agent made.

    Only a head within the span of our own recent history can be judged: an older one is a
    collector restored from an old backup (or a history we no longer hold), not a clone."""
    theirs, their_sequence = body.get("last_report_id"), body.get("last_sequence")
    if not theirs or not isinstance(their_sequence, int) or state is None or not state.history:
        return False
    oldest_known = state.sequence - len(state.history) + 1
    return their_sequence >= oldest_known and theirs not in state.history


def deliver(state_dir: StateDir, spool: Spool, transport: Transport, backoff: Backoff,
            max_resyncs: int = 2) -> Delivery:
    """Send queued reports oldest first until the spool is empty or the collector cannot
    take more. The caller holds the lock."""
    out = Delivery()
    previous = state_dir.load_state()
    spool.reconcile(previous.sequence if previous else 0)
    failures = 0
    while entries := spool.entries():
        entry = entries[0]
        answer = transport.send(spool.read(entry))
        if answer.kind in (ACCEPTED, DUPLICATE):
            spool.remove(entry)
            out.sent.append(entry)
            failures = 0
        elif answer.kind == RESYNC:
            if foreign_head(state_dir.load_state(), answer.body):
                # Resyncing would overwrite the other machine's state with ours, and back: refuse.
                theirs = answer.body.get("last_report_id")
                out.error = Answer(CLONE, CLONE_TEXT.format(theirs=theirs), answer.status_code, answer.body)
                break
            if out.resyncs >= max_resyncs:
                out.error = Answer(REFUSED, f"the collector keeps asking for a resync ({answer.detail})",
                                   answer.status_code, answer.body)
                break
            out.resyncs += 1
            seen = answer.body.get("last_sequence") or answer.body.get("sequence") or 0
            resync(state_dir, spool, seen if isinstance(seen, int) else 0)
        elif answer.kind == REJECTED:
            spool.reject(entry, f"HTTP {answer.status_code}: {answer.detail}")
            out.rejected.append(entry)
        elif answer.kind == UNAVAILABLE and failures + 1 < backoff.attempts:
            backoff.sleep(backoff.delay(failures))
            failures += 1
        else:
            out.error = answer
            break
    out.remaining = len(spool.entries())
    return out

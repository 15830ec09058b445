"""Apply records waiting for the collector (``<state-dir>/applies/``), delivered after the reports.

An apply record (agent.fixing.record) is an event, not state, so it does not ride in the report
spool (agent.spool), whose deltas are folded into a full snapshot when the spool fills and
dropped when a snapshot supersedes them: a record there could vanish. Here each apply has one
file, ``<apply id>.json``, holding the newest revision of its record (a rollback's replaces the
apply's, still queued or not); it is removed only once the collector acknowledged it (accepted,
or it holds that revision or a later one already: the apply id and revision make a resend
harmless). A record the collector refuses as invalid moves to ``rejected/`` with the reason.
Callers hold the state directory's lock.
"""
from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from agent.contract import ApplyRecord
from agent.reporting import ACCEPTED, DUPLICATE, REJECTED, UNAVAILABLE, Answer, Backoff
from agent.state import TMP_PREFIX, StateDir, fsync_dir, write_atomic

KEEP_REJECTED = 20


class RecordTransport(Protocol):
    def send_apply(self, body: bytes) -> Answer:
        """Submit one encoded apply record; never raises for network or HTTP trouble."""
        ...


@dataclass
class RecordDelivery:
    sent: int = 0
    rejected: int = 0
    remaining: int = 0
    error: Answer | None = None  # why delivery stopped with records still queued

    def describe(self) -> str:
        parts = [f"{self.sent} apply record(s) delivered"] if self.sent else []
        if self.rejected:
            parts.append(f"{self.rejected} apply record(s) refused as invalid (kept in applies/rejected)")
        if self.remaining:
            parts.append(f"{self.remaining} apply record(s) spooled")
        return ", ".join(parts)


def directory(sd: StateDir) -> Path:
    return sd.path / "applies"


def queue(sd: StateDir, record: ApplyRecord) -> Path:
    """Keep ``record`` for delivery, in place of any older revision of its apply."""
    where = directory(sd)
    where.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = where / f"{record['apply_id']}.json"
    write_atomic(path, json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode())
    return path


def queued(sd: StateDir) -> list[Path]:
    """The records waiting, oldest apply first (apply ids begin with their UTC start time)."""
    try:
        names = sorted(e.name for e in os.scandir(directory(sd))
                       if e.is_file() and e.name.endswith(".json") and not e.name.startswith(TMP_PREFIX))
    except FileNotFoundError:
        return []
    return [directory(sd) / n for n in names]


def deliver(sd: StateDir, transport: RecordTransport, backoff: Backoff) -> RecordDelivery:
    """Send every queued record until none is left or the collector cannot take more."""
    out = RecordDelivery()
    failures = 0
    pending = queued(sd)
    while pending:
        path = pending[0]
        try:
            body = path.read_bytes()
        except FileNotFoundError:
            pending.pop(0)
            continue
        answer = transport.send_apply(body)
        if answer.kind in (ACCEPTED, DUPLICATE):
            _remove(path)
            out.sent += 1
            pending.pop(0)
            failures = 0
        elif answer.kind == REJECTED:
            _reject(sd, path, f"HTTP {answer.status_code}: {answer.detail}")
            out.rejected += 1
            pending.pop(0)
        elif answer.kind == UNAVAILABLE and failures + 1 < backoff.attempts:
            backoff.sleep(backoff.delay(failures))
            failures += 1
        else:
            out.error = answer
            break
    out.remaining = len(queued(sd))
    return out


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    fsync_dir(path.parent)


def _reject(sd: StateDir, path: Path, reason: str) -> None:
    rejected = directory(sd) / "rejected"
    rejected.mkdir(mode=0o700, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        os.replace(path, rejected / path.name)
    write_atomic(rejected / (path.name[:-5] + ".reason.txt"), reason.encode()[:4000] + b"\n")
    fsync_dir(path.parent)
    names = sorted(p.name for p in rejected.glob("*.json"))
    for name in names[:-KEEP_REJECTED]:
        for old in (rejected / name, rejected / (name[:-5] + ".reason.txt")):
            with contextlib.suppress(FileNotFoundError):
                old.unlink()

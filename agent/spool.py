"""The on-disk spool: reports waiting for the collector, delivered oldest first.

One file per report, named ``<sequence>.<kind>.<report_id>.json`` (sequence zero-padded, so
names sort in delivery order), holding the exact bytes that will be sent: a retry sends the
same report id, and the collector applies a report id once.

Rules that keep it bounded and consistent (agent.reporting applies them under the lock):

- entries with a sequence above the committed state's are orphans of a run killed before
  it committed, and are dropped (that report was never "made");
- a full snapshot supersedes every older entry: they are dropped once it is committed;
- when one more report would pass ``max_entries`` or ``max_bytes``, the queued deltas are
  folded into one full snapshot of the current state instead of dropping anything;
- a report the collector refuses as invalid (400, 413) moves to ``rejected/`` (the newest
  ``KEEP_REJECTED`` are kept for inspection); the next delta then resyncs.
"""
from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.contract import CompactDelta, Report
from agent.state import TMP_PREFIX, fsync_dir, write_atomic

MAX_ENTRIES = 500
MAX_BYTES = 32 * 1024 * 1024
KEEP_REJECTED = 20


@dataclass(frozen=True)
class Entry:
    sequence: int
    kind: str
    report_id: str
    path: Path
    size: int


def encode(report: Report | CompactDelta | dict[str, Any]) -> bytes:
    return json.dumps(report, ensure_ascii=False, separators=(",", ":")).encode()


class Spool:
    def __init__(self, directory: Path, max_entries: int = MAX_ENTRIES, max_bytes: int = MAX_BYTES) -> None:
        self.directory = directory
        self.rejected_dir = directory / "rejected"
        self.max_entries = max_entries
        self.max_bytes = max_bytes

    def entries(self) -> list[Entry]:
        out = []
        try:
            scan = list(os.scandir(self.directory))
        except FileNotFoundError:
            return []
        for item in scan:
            if item.name.startswith(TMP_PREFIX) or not item.name.endswith(".json") or not item.is_file():
                continue
            sequence, _, rest = item.name[:-5].partition(".")
            kind, _, report_id = rest.partition(".")
            if not sequence.isdigit() or kind not in ("full", "delta") or not report_id:
                continue
            out.append(Entry(int(sequence), kind, report_id, Path(item.path), item.stat().st_size))
        return sorted(out, key=lambda e: e.sequence)

    def put(self, report: Report | CompactDelta) -> Entry:
        data = encode(report)
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = self.directory / f"{report['sequence']:012d}.{report['kind']}.{report['report_id']}.json"
        write_atomic(path, data)
        return Entry(report["sequence"], report["kind"], report["report_id"], path, len(data))

    def read(self, entry: Entry) -> bytes:
        return entry.path.read_bytes()

    def remove(self, entry: Entry) -> None:
        with contextlib.suppress(FileNotFoundError):
            entry.path.unlink()
        fsync_dir(self.directory)

    def size(self) -> int:
        return sum(e.size for e in self.entries())

    def fits(self, size: int) -> bool:
        """Whether one more report of ``size`` bytes stays within the bounds."""
        entries = self.entries()
        return len(entries) + 1 <= self.max_entries and sum(e.size for e in entries) + size <= self.max_bytes

    def drop_before(self, sequence: int) -> int:
        dropped = 0
        for entry in self.entries():
            if entry.sequence < sequence:
                self.remove(entry)
                dropped += 1
        return dropped

    def reconcile(self, committed: int) -> None:
        """Drop orphans of a killed run and whatever a committed full snapshot supersedes."""
        for entry in self.entries():
            if entry.sequence > committed:
                self.remove(entry)
        fulls = [e.sequence for e in self.entries() if e.kind == "full"]
        if fulls:
            self.drop_before(max(fulls))

    def clear(self) -> None:
        for entry in self.entries():
            self.remove(entry)

    def reject(self, entry: Entry, reason: str) -> None:
        """Keep a refused report (and why) aside, bounded, and out of the delivery queue."""
        self.rejected_dir.mkdir(mode=0o700, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            os.replace(entry.path, self.rejected_dir / entry.path.name)
        write_atomic(self.rejected_dir / (entry.path.name[:-5] + ".reason.txt"), reason.encode()[:4000] + b"\n")
        fsync_dir(self.directory)
        names = sorted(p.name for p in self.rejected_dir.glob("*.json"))
        for name in names[:-KEEP_REJECTED]:
            for path in (self.rejected_dir / name, self.rejected_dir / (name[:-5] + ".reason.txt")):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()

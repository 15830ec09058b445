"""State directory, spool and delivery: atomic writes, the lock, kill -9 at any moment."""
from __future__ import annotations

import copy
import json
import os
import random
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from agent.reporting import (ACCEPTED, DUPLICATE, REJECTED, RESYNC, UNAVAILABLE, Answer, Backoff, deliver,
                             record)
from agent.contract import state_digest, summarize, validation_errors
from agent.spool import Spool
from agent.state import LockBusy, StateDir, write_atomic

REPO = Path(__file__).resolve().parents[2]


def scanned(n: int = 6) -> dict[str, Any]:
    """A full report as Scan.run makes it, small enough to write thousands of times."""
    results = [{
        "key": f"HARDEN-30D.T.{i}", "directive": "HARDEN-30D", "requirement": f"HARDEN-30D.T.{i}",
        "title": f"thing {i} is safe", "severity": "medium", "status": "pass", "message": "",
        "evidence": [{"expected": "safe", "actual": "safe", "where": f"/etc/t{i}"}], "due": "2026-07-02",
        "overdue": False, "days_left": -30, "references": {}, "remediation": "",
    } for i in range(n)]
    return {
        "schema_version": "1.0", "kind": "full", "report_id": "0" * 32, "generated_at": "2026-08-01T12:00:00+00:00",
        "sequence": 0, "base": None, "state_digest": state_digest(results),
        "agent": {"name": "fedharden", "version": "0.1.0"},
        "host": {"id": "a" * 32, "hostname": "web1", "target": "local"},
        "scan": {"started_at": "2026-08-01T12:00:00+00:00", "finished_at": "2026-08-01T12:00:00+00:00",
                 "live": True},
        "directives": [{"id": "HARDEN-30D", "title": "baseline", "issued": "2026-06-02",
                        "digest": "sha256:" + "1" * 64}],
        "results": results, "summary": summarize(results), "warnings": [],
    }


def changed(base: dict[str, Any], i: int) -> dict[str, Any]:
    report = copy.deepcopy(base)
    result = report["results"][i % len(report["results"])]
    result["status"] = "fail" if i % 3 else "pass"
    result["evidence"][0]["actual"] = f"unsafe {i}"
    return report


class CollectorDouble:
    """The delta protocol as the collector applies it, for delivery-order unit tests (the
    real collector is exercised in test_e2e_collector)."""

    def __init__(self) -> None:
        self.results: dict[str, dict[str, Any]] = {}
        self.last: str | None = None
        self.seen: list[str] = []
        self.applied: list[int] = []
        self.down = False
        self.invalid: set[str] = set()

    def send(self, body: bytes) -> Answer:
        if self.down:
            return Answer(UNAVAILABLE, "connection refused")
        report = json.loads(body)
        if report["report_id"] in self.seen:
            return Answer(DUPLICATE)
        if report["report_id"] in self.invalid:
            return Answer(REJECTED, "$.changes: invalid", 400)
        if report["kind"] == "full":
            results = {r["key"]: r for r in report["results"]}
        else:
            if report["base"] != self.last:
                return Answer(RESYNC, "unknown base", 409, {"status": "resync", "reason": "unknown_base"})
            results = {k: v for k, v in self.results.items() if k not in report["removed"]}
            results.update({r["key"]: r for r in report["changes"]})
        if state_digest(results.values()) != report["state_digest"]:
            return Answer(RESYNC, "digest mismatch", 409, {"status": "resync", "reason": "digest_mismatch"})
        self.results, self.last = results, report["report_id"]
        self.seen.append(report["report_id"])
        self.applied.append(report["sequence"])
        return Answer(ACCEPTED)


NO_WAIT = Backoff(attempts=3, base=0.0, cap=0.0)


def test_atomic_write_mode_and_no_leftovers(tmp_path: Path) -> None:
    target = tmp_path / "secret.json"
    write_atomic(target, b"{}", 0o600)
    write_atomic(target, b'{"a":1}', 0o600)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600 and target.read_bytes() == b'{"a":1}'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret.json"]


def test_state_dir_is_private_and_unreadable_state_costs_a_full(tmp_path: Path) -> None:
    sd = StateDir(tmp_path / "state")
    spool = Spool(sd.spool_dir)
    with sd.locked():
        record(sd, spool, scanned())
        assert stat.S_IMODE(sd.path.stat().st_mode) == 0o700
        assert stat.S_IMODE(sd.state_file.stat().st_mode) == 0o600
        sd.state_file.write_text("{not json")
        again = record(sd, spool, scanned())
    assert again.report["kind"] == "full"
    assert [e.kind for e in spool.entries()] == ["full"]


def test_lock_keeps_a_second_run_out_and_dies_with_its_holder(tmp_path: Path) -> None:
    sd = StateDir(tmp_path / "state")
    sd.ensure()
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent("""
            import sys, time
            from agent.state import StateDir
            with StateDir(sys.argv[1]).locked():
                print("held", flush=True)
                time.sleep(60)
        """), str(sd.path)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(LockBusy):
            with sd.locked(wait=0.3):
                pass
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
        with sd.locked(wait=5):  # the kernel released it with the process
            pass
    finally:
        holder.kill()
        holder.wait(10)


CHILD = textwrap.dedent("""
    import json, sys
    sys.path.insert(0, sys.argv[3])
    from test_state import changed
    from agent.reporting import record
    from agent.spool import Spool
    from agent.state import StateDir
    base = json.loads(open(sys.argv[2]).read())
    sd = StateDir(sys.argv[1])
    spool = Spool(sd.spool_dir, max_entries=40)
    i = 0
    with sd.locked(wait=30):
        print("ready", flush=True)
        while True:
            i += 1
            print(record(sd, spool, changed(base, i)).report["sequence"], flush=True)
""")


def check_chain(sd: StateDir, spool: Spool) -> int:
    """The committed state is usable and the spool holds exactly the reports that lead to it."""
    state = sd.load_state()
    assert state is not None
    spool.reconcile(state.sequence)
    entries = spool.entries()
    assert entries, "a committed report was lost"
    reports = [json.loads(spool.read(e)) for e in entries]
    assert reports[0]["kind"] == "full"
    assert [r["sequence"] for r in reports] == list(range(entries[0].sequence, state.sequence + 1))
    for before, after in zip(reports, reports[1:]):
        assert after["kind"] == "delta" and after["base"] == before["report_id"]
    assert reports[-1]["report_id"] == state.report_id
    assert reports[-1]["state_digest"] == state_digest(state.ordered_results())
    assert validation_errors(reports[-1]) == []
    return state.sequence


@pytest.mark.slow
def test_kill_9_at_any_moment_leaves_a_usable_state_and_a_whole_chain(tmp_path: Path) -> None:
    sd = StateDir(tmp_path / "state")
    base = tmp_path / "base.json"
    base.write_text(json.dumps(scanned(40)))
    rng = random.Random(5)
    committed = 0
    for _ in range(12):
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(sd.path), str(base), str(Path(__file__).parent)],
                                 cwd=REPO, stdout=subprocess.PIPE, text=True)
        try:
            assert child.stdout is not None and child.stdout.readline().strip() == "ready"
            for _ in range(rng.randint(4, 8)):  # let it commit a few, then kill it at a random moment
                child.stdout.readline()
            time.sleep(rng.uniform(0.0, 0.03))
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait(10)
        with sd.locked():
            sequence = check_chain(sd, Spool(sd.spool_dir, max_entries=40))
        assert sequence >= committed
        committed = sequence
        assert not [p for p in (*sd.path.iterdir(), *sd.spool_dir.iterdir()) if p.name.startswith(".tmp-")]
    assert committed > 40  # it ran long enough to fold a full spool at least once


def test_delivery_in_order_once_through_an_outage(tmp_path: Path) -> None:
    sd = StateDir(tmp_path / "state")
    spool = Spool(sd.spool_dir)
    collector = CollectorDouble()
    base = scanned()
    with sd.locked():
        record(sd, spool, base)
        assert deliver(sd, spool, collector, NO_WAIT).sent
        collector.down = True
        for i in range(1, 5):
            record(sd, spool, changed(base, i))
        outcome = deliver(sd, spool, collector, NO_WAIT)
        assert outcome.remaining == 4 and outcome.error is not None and outcome.error.kind == UNAVAILABLE
        collector.down = False
        outcome = deliver(sd, spool, collector, NO_WAIT)
    assert (len(outcome.sent), outcome.remaining, outcome.resyncs) == (4, 0, 0)
    assert collector.applied == [1, 2, 3, 4, 5]
    state = sd.load_state()
    assert state is not None and collector.last == state.report_id


def test_redelivery_after_a_lost_answer_is_harmless(tmp_path: Path) -> None:
    sd = StateDir(tmp_path / "state")
    spool = Spool(sd.spool_dir)
    collector = CollectorDouble()
    with sd.locked():
        entry = record(sd, spool, scanned()).entry
        collector.send(spool.read(entry))  # applied, but the agent never heard back
        outcome = deliver(sd, spool, collector, NO_WAIT)
    assert len(outcome.sent) == 1 and collector.applied == [1] and spool.entries() == []


def test_resync_after_the_collector_lost_its_state(tmp_path: Path) -> None:
    sd = StateDir(tmp_path / "state")
    spool = Spool(sd.spool_dir)
    collector = CollectorDouble()
    base = scanned()
    with sd.locked():
        record(sd, spool, base)
        deliver(sd, spool, collector, NO_WAIT)
        collector.results, collector.last = {}, None  # restored from an old backup
        record(sd, spool, changed(base, 1))
        record(sd, spool, changed(base, 2))
        outcome = deliver(sd, spool, collector, NO_WAIT)
    assert outcome.resyncs == 1 and outcome.remaining == 0
    assert collector.applied == [1, 4]  # the two deltas became one full snapshot, sequence 4
    state = sd.load_state()
    assert state is not None and state_digest(collector.results.values()) == state_digest(state.ordered_results())


def test_invalid_report_is_set_aside_and_the_chain_recovers(tmp_path: Path) -> None:
    sd = StateDir(tmp_path / "state")
    spool = Spool(sd.spool_dir)
    collector = CollectorDouble()
    base = scanned()
    with sd.locked():
        record(sd, spool, base)
        bad = record(sd, spool, changed(base, 1))
        record(sd, spool, changed(base, 2))
        collector.invalid.add(bad.report["report_id"])
        outcome = deliver(sd, spool, collector, NO_WAIT)
    assert [e.report_id for e in outcome.rejected] == [bad.report["report_id"]]
    assert outcome.resyncs == 1 and outcome.remaining == 0 and collector.applied == [1, 4]
    names = sorted(p.name for p in spool.rejected_dir.iterdir())
    assert names == [bad.entry.path.name, bad.entry.path.name[:-5] + ".reason.txt"]


def test_backoff_is_bounded_and_jittered() -> None:
    slept: list[float] = []
    rolls = iter([0.0, 1.0, 0.5, 1.0, 1.0, 1.0])
    backoff = Backoff(attempts=6, base=1.0, cap=8.0, sleep=slept.append, rand=lambda: next(rolls))
    delays = [backoff.delay(i) for i in range(6)]
    assert delays == [0.5, 2.0, 3.0, 8.0, 8.0, 8.0]
    assert slept == []  # computing a delay never waits


def test_an_unavailable_collector_is_retried_as_the_backoff_says(tmp_path: Path) -> None:
    """deliver() waits through the Backoff it is given (never on its own): ``attempts`` tries,
    the waits between them as ``delay`` computes them, then the report stays spooled."""
    sd = StateDir(tmp_path / "state")
    spool = Spool(sd.spool_dir)
    collector = CollectorDouble()
    collector.down = True
    tries: list[int] = []
    send = collector.send
    collector.send = lambda body: (tries.append(1), send(body))[1]  # type: ignore[method-assign]
    slept: list[float] = []
    backoff = Backoff(attempts=4, base=1.0, cap=3.0, sleep=slept.append, rand=lambda: 1.0)
    with sd.locked():
        record(sd, spool, scanned())
        outcome = deliver(sd, spool, collector, backoff)
    assert len(tries) == 4 and slept == [1.0, 2.0, 3.0]
    assert outcome.remaining == 1 and outcome.error is not None and outcome.error.kind == UNAVAILABLE


def test_the_command_line_retry_delay_is_the_backoffs_base() -> None:
    from agent.commands.options import delivery_backoff, retry_backoff

    assert (delivery_backoff(0.0).attempts, delivery_backoff(0.0).delay(3)) == (4, 0.0)  # retries at once
    assert delivery_backoff(1.0).delay(10) <= 15.0 and retry_backoff(2.0).base == 2.0


def test_reconcile_drops_orphans_of_a_killed_run(tmp_path: Path) -> None:
    sd = StateDir(tmp_path / "state")
    spool = Spool(sd.spool_dir)
    with sd.locked():
        record(sd, spool, scanned())
        orphan = copy.deepcopy(json.loads(spool.read(spool.entries()[0])))
        orphan.update(sequence=2, kind="delta", report_id="f" * 32, changes=[], removed=[])
        spool.put(orphan)
        spool.reconcile(1)
    assert [e.sequence for e in spool.entries()] == [1]
    assert os.listdir(spool.directory) == [spool.entries()[0].path.name]


def test_a_foreign_head_is_a_clone_but_an_old_one_is_a_restore(tmp_path: Path) -> None:
    from agent.reporting import CLONE, foreign_head

    sd = StateDir(tmp_path / "state")
    spool = Spool(sd.spool_dir)
    base = scanned()
    with sd.locked():
        for i in range(5):
            record(sd, spool, changed(base, i))
        state = sd.load_state()
        assert state is not None and state.sequence == 5
        assert not foreign_head(state, {"last_report_id": state.history[1], "last_sequence": 2})  # ours
        assert foreign_head(state, {"last_report_id": "e" * 32, "last_sequence": 4})  # someone else's
        assert not foreign_head(state, {"last_report_id": None, "last_sequence": None})  # an empty collector
        state.history = state.history[-2:]  # only sequences 4 and 5 are remembered
        assert not foreign_head(state, {"last_report_id": "e" * 32, "last_sequence": 3})  # an old backup

        class Cloned(CollectorDouble):
            def send(self, body: bytes) -> Answer:
                return Answer(RESYNC, "unknown base", 409, {"status": "resync", "reason": "unknown_base",
                                                            "last_report_id": "e" * 32, "last_sequence": 5})

        outcome = deliver(sd, spool, Cloned(), NO_WAIT)
    assert outcome.error is not None and outcome.error.kind == CLONE and outcome.remaining == 5

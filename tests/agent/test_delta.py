"""Deltas from real scans of fixture roots: what travels, failing-since, full snapshots."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any, Callable

import pytest

from agent.delta import compare, next_report, snapshot
from agent.hosts import RootfsHost
from agent.contract import state_digest, summarize, validation_errors
from agent.reporting import record, resync
from agent.scan import Scan, Selection
from agent.spool import Spool
from agent.state import StateDir
from directives import load_library

pytestmark = pytest.mark.slow  # repeated whole scans and submissions

MakeRoot = Callable[..., Path]
NOW = dt.datetime(2026, 8, 1, 12, 0, tzinfo=dt.timezone.utc)
FILES = {
    "/etc/os-release": 'ID=debian\nVERSION_ID="12"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n',
    "/etc/machine-id": "0123456789abcdef0123456789abcdef\n",
    "/etc/hostname": "web1\n",
    "/etc/passwd": "root:x:0:0:root:/root:/bin/bash\n",
    "/etc/group": "root:x:0:\nshadow:x:42:\n",
    "/etc/shadow": "root:$y$j9T$x:19000:1:90:7:::\n",
    "/etc/login.defs": "PASS_MAX_DAYS 90\nPASS_MIN_DAYS 1\nUMASK 027\n",
}
MODES = {"/etc/shadow": 0o640}


def scan(root: Path, directives: tuple[str, ...] = ("HARDEN-30D",), now: dt.datetime = NOW) -> dict[str, Any]:
    return Scan(RootfsHost(str(root)), load_library(), Selection(directives), now=now).run()


def apply(current: dict[str, dict[str, Any]], report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """What a collector holds after applying ``report`` to ``current``."""
    if report["kind"] == "full":
        return {r["key"]: r for r in report["results"]}
    out = {k: v for k, v in current.items() if k not in set(report["removed"])}
    out.update({r["key"]: r for r in report["changes"]})
    return out


@pytest.fixture
def root(make_root: MakeRoot) -> Path:
    return make_root(FILES, MODES)


def test_first_report_is_full_then_unchanged_scan_is_an_empty_delta(root: Path, tmp_path: Path) -> None:
    sd = StateDir(tmp_path / "state")
    spool = Spool(sd.spool_dir)
    with sd.locked():
        first = record(sd, spool, scan(root))
        second = record(sd, spool, scan(root))
    full, delta = first.report, second.report
    assert validation_errors(full) == [] and validation_errors(delta) == []
    assert (full["kind"], full["sequence"], full["base"]) == ("full", 1, None)
    assert (delta["kind"], delta["sequence"], delta["base"]) == ("delta", 2, full["report_id"])
    assert delta["changes"] == [] and delta["removed"] == []
    assert second.delta.unchanged == len(full["results"]) and not second.delta.kinds
    assert delta["state_digest"] == full["state_digest"]
    assert delta["summary"] == full["summary"]
    assert [e.sequence for e in spool.entries()] == [1, 2]
    last = json.loads(sd.last_scan_file.read_text())
    assert last["finished_at"] == delta["scan"]["finished_at"]
    assert [d["id"] for d in last["directives"]] == ["HARDEN-30D"]
    assert len(json.dumps(delta)) < len(json.dumps(full)) / 3


def test_planted_change_travels_alone_with_failing_since(root: Path, tmp_path: Path) -> None:
    sd = StateDir(tmp_path / "state")
    spool = Spool(sd.spool_dir)
    held: dict[str, dict[str, Any]] = {}
    with sd.locked():
        held = apply(held, record(sd, spool, scan(root)).report)
        (root / "etc/login.defs").write_text("PASS_MAX_DAYS 99999\nPASS_MIN_DAYS 1\nUMASK 027\n")
        later = NOW + dt.timedelta(hours=1)
        weak = record(sd, spool, scan(root, now=later))
        assert [r["key"] for r in weak.report["changes"]] == ["HARDEN-30D.ACCT.4"]
        assert weak.delta.newly_failing == ("HARDEN-30D.ACCT.4",)
        change = weak.report["changes"][0]
        assert change["status"] == "fail" and change["failing_since"] == later.isoformat(timespec="seconds")
        held = apply(held, weak.report)
        assert state_digest(held.values()) == weak.report["state_digest"]
        assert summarize(list(held.values()))["counts"] == weak.report["summary"]["counts"]

        # Still failing, with different evidence: travels, keeps its failing-since.
        (root / "etc/login.defs").write_text("PASS_MAX_DAYS 800\nPASS_MIN_DAYS 1\nUMASK 027\n")
        still = record(sd, spool, scan(root, now=later + dt.timedelta(hours=1)))
        assert still.delta.changed == ("HARDEN-30D.ACCT.4",)
        assert still.report["changes"][0]["failing_since"] == later.isoformat(timespec="seconds")
        held = apply(held, still.report)

        (root / "etc/login.defs").write_text("PASS_MAX_DAYS 90\nPASS_MIN_DAYS 1\nUMASK 027\n")
        fixed = record(sd, spool, scan(root, now=later + dt.timedelta(hours=2)))
        assert fixed.delta.fixed == ("HARDEN-30D.ACCT.4",)
        assert fixed.report["changes"][0]["failing_since"] is None
        held = apply(held, fixed.report)
        assert state_digest(held.values()) == fixed.report["state_digest"]
        assert all(validation_errors(r.report) == [] for r in (weak, still, fixed))


def test_days_left_alone_is_not_a_change(root: Path, tmp_path: Path) -> None:
    sd = StateDir(tmp_path / "state")
    spool = Spool(sd.spool_dir)
    with sd.locked():
        record(sd, spool, scan(root))
        nextday = record(sd, spool, scan(root, now=NOW + dt.timedelta(days=1)))
    assert nextday.report["kind"] == "delta" and nextday.report["changes"] == []


def test_directive_set_change_travels_as_a_delta(root: Path, tmp_path: Path) -> None:
    sd = StateDir(tmp_path / "state")
    spool = Spool(sd.spool_dir)
    with sd.locked():
        first = record(sd, spool, scan(root))
        both = record(sd, spool, scan(root, ("HARDEN-30D", "BOD-23-02")))
    assert both.report["kind"] == "delta" and both.report["sequence"] == 2
    # Only the added directive's results travel; the queued full report stays before it.
    assert {r["directive"] for r in both.wire["changes"]} == {"BOD-23-02"}
    assert both.wire["changes"] == both.report["changes"] and len(both.wire["changes"]) == 10
    assert [(e.sequence, e.kind) for e in spool.entries()] == [(1, "full"), (2, "delta")]
    assert apply(apply({}, first.report), both.report).keys() == {
        *(r["key"] for r in first.report["results"]), *(r["key"] for r in both.wire["changes"])}


def test_removed_keys_and_classification(root: Path) -> None:
    report = scan(root)
    old = {r["key"]: r for r in report["results"]}
    old["GONE.1"] = {**report["results"][0], "key": "GONE.1"}
    waived_key, failing_key = report["results"][1]["key"], report["results"][2]["key"]
    old[waived_key] = {**old[waived_key], "status": "waived"}
    new_results = [dict(r) for r in report["results"]]
    new_results[2]["status"] = "waived"
    state, delta = compare(old, new_results, "2026-08-01T12:00:00+00:00")
    assert delta.removed == ("GONE.1",) and "GONE.1" not in state
    assert delta.unwaived == (waived_key,) and delta.waived == (failing_key,)
    assert delta.unchanged == len(new_results) - 2


def test_resync_snapshot_replaces_the_queue(root: Path, tmp_path: Path) -> None:
    sd = StateDir(tmp_path / "state")
    spool = Spool(sd.spool_dir)
    with sd.locked():
        first = record(sd, spool, scan(root))
        record(sd, spool, scan(root))
        record(sd, spool, scan(root))
        entry = resync(sd, spool)
    assert entry is not None and [(e.sequence, e.kind) for e in spool.entries()] == [(4, "full")]
    full = json.loads(spool.read(entry))
    assert validation_errors(full) == []
    assert full["state_digest"] == first.report["state_digest"] and full["base"] is None
    state = sd.load_state()
    assert state is not None and (state.sequence, state.report_id) == (4, full["report_id"])


def test_full_spool_folds_deltas_into_one_full_snapshot(root: Path, tmp_path: Path) -> None:
    sd = StateDir(tmp_path / "state")
    spool = Spool(sd.spool_dir, max_entries=3)
    with sd.locked():
        record(sd, spool, scan(root))
        record(sd, spool, scan(root))
        (root / "etc/login.defs").write_text("PASS_MAX_DAYS 99999\n")
        record(sd, spool, scan(root))
        assert [e.kind for e in spool.entries()] == ["full", "delta", "delta"]
        (root / "etc/login.defs").write_text("PASS_MAX_DAYS 90\nPASS_MIN_DAYS 1\nUMASK 027\n")
        folded = record(sd, spool, scan(root))
    assert folded.folded and folded.report["kind"] == "full"
    assert [(e.sequence, e.kind) for e in spool.entries()] == [(4, "full")]
    assert validation_errors(folded.report) == []


def test_another_host_in_the_same_state_starts_over_with_a_full(root: Path, make_root: MakeRoot,
                                                                tmp_path: Path) -> None:
    other = make_root(dict(FILES, **{"/etc/machine-id": "fedcba9876543210fedcba9876543210\n"}), MODES)
    sd = StateDir(tmp_path / "state")
    spool = Spool(sd.spool_dir)
    with sd.locked():
        record(sd, spool, scan(root))
        moved = record(sd, spool, scan(other))
    assert moved.report["kind"] == "full" and moved.report["sequence"] == 2


def test_snapshot_keeps_results_and_digest(root: Path) -> None:
    report, state, _ = next_report(None, scan(root))
    again, later = snapshot(state)
    assert again["results"] == report["results"] and again["state_digest"] == report["state_digest"]
    assert later.sequence == state.sequence + 1 and later.report_id != state.report_id

"""BOD 23-01 and BOD 26-02 facts: the agent's own scan record as agent.state writes it, read
back through the Host; the end-of-support table's lookup."""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Callable

from agent.facts import gather
from agent.facts.context import Context
from agent.facts.lifecycle import lookup, table
from agent.hosts import RootfsHost
from agent.scan import Scan, Selection
from agent.state import StateDir
from checks.facts import FactKey, LastScan, OsRelease
from directives import load_library

MakeRoot = Callable[..., Path]
NOW = dt.datetime(2026, 11, 26, 12, tzinfo=dt.timezone.utc)


def test_the_record_agent_state_writes_is_what_bod_23_01_reads(make_root: MakeRoot) -> None:
    root = make_root({"/etc/os-release": "ID=debian\nVERSION_ID=12\n", "/var/lib/dpkg/status": ""})
    report = Scan(RootfsHost(str(root)), load_library(), Selection(("BOD-22-01",)), now=NOW).run()
    state = StateDir(root / "var/lib/fedharden")
    state.ensure()
    state.write_last_scan(report)
    record = gather(Context(RootfsHost(str(root)), now=NOW), [FactKey("last_scan")]).get(FactKey("last_scan"))
    assert isinstance(record, LastScan)
    assert record.directives == ("BOD-22-01",) and record.finished_at == report["scan"]["finished_at"]
    assert record.feeds is not None and [f.name for f in record.feeds] == [f["name"] for f in report["scan"]["feeds"]]
    later = Scan(RootfsHost(str(root)), load_library(), Selection(("BOD-23-01",)), now=NOW).run()
    statuses = {r["key"]: r["status"] for r in later["results"]}
    # The shipped KEV snapshot is months old: enumeration is recent, its detection data is not.
    assert statuses == {"BOD-23-01.1": "pass", "BOD-23-01.2": "fail"}


def test_lookup_by_exact_version_or_major() -> None:
    rows = table()["releases"]
    rhel = lookup(OsRelease("rhel", "9.4"), rows)
    ubuntu = lookup(OsRelease("ubuntu", "22.04"), rows)
    assert rhel is not None and rhel.end_of_support == "2032-05-31"
    assert ubuntu is not None and ubuntu.extended == "Ubuntu Pro ESM"
    assert lookup(OsRelease("ubuntu", "22.10"), rows) is None
    assert lookup(OsRelease("debian", "1"), rows) is None
    assert all(row["end_of_support"] < row.get("extended_until", "9999-12-31") for row in
               [{k: str(v) for k, v in r.items()} for r in rows])


def test_the_record_path_is_the_state_directorys() -> None:
    from agent.facts.agentstate import PATH
    from agent.state import DEFAULT_STATE_DIR

    assert PATH == f"{DEFAULT_STATE_DIR}/last_scan.json"

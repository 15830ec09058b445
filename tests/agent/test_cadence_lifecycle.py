"""BOD 23-01 and BOD 26-02 facts: the agent's own scan record as agent.state writes it, read
back through the Host; the end-of-support table's lookup."""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Callable

import pytest

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


def test_the_record_is_read_from_the_state_directory_the_agent_uses(make_root: MakeRoot) -> None:
    """A host whose agent keeps its state elsewhere than /var/lib/fedharden can pass BOD 23-01."""
    root = make_root({"/etc/os-release": "ID=debian\nVERSION_ID=12\n", "/var/lib/dpkg/status": ""})
    report = Scan(RootfsHost(str(root)), load_library(), Selection(("BOD-22-01",)), now=NOW).run()
    state = StateDir(root / "srv/agent-state")
    state.ensure()
    state.write_last_scan(report)
    default = Scan(RootfsHost(str(root)), load_library(), Selection(("BOD-23-01",)), now=NOW).run()
    assert {r["key"]: r["status"] for r in default["results"]} == {"BOD-23-01.1": "error", "BOD-23-01.2": "error"}
    assert "/var/lib/fedharden/last_scan.json does not exist" in default["results"][0]["message"]
    moved = Scan(RootfsHost(str(root)), load_library(), Selection(("BOD-23-01",)), now=NOW,
                 state_dir="/srv/agent-state").run()
    assert {r["key"]: r["status"] for r in moved["results"]} == {"BOD-23-01.1": "pass", "BOD-23-01.2": "fail"}
    assert moved["results"][0]["evidence"][0]["where"] == "/srv/agent-state/last_scan.json"


@pytest.mark.slow
def test_scan_reads_the_record_where_state_dir_says(tmp_path: Path) -> None:
    """``fedharden scan`` of this host: --state-dir and $FEDHARDEN_STATE_DIR name the record."""
    import json
    import os
    import subprocess
    import sys

    from agent.hosts import LocalHost

    report = Scan(LocalHost(), load_library(), Selection(("BOD-22-01",))).run()
    state = StateDir(tmp_path / "state")
    state.ensure()
    state.write_last_scan(report)
    fedharden = str(Path(sys.executable).with_name("fedharden"))
    for args, env in (([f"--state-dir={state.path}"], {}), ([], {"FEDHARDEN_STATE_DIR": str(state.path)})):
        proc = subprocess.run([fedharden, "scan", "--directive", "BOD-23-01", "--format", "json", *args],
                              capture_output=True, text=True, timeout=120, check=False, env={**os.environ, **env})
        results = {r["key"]: r for r in json.loads(proc.stdout)["results"]}
        assert results["BOD-23-01.1"]["status"] == "pass", proc.stderr
        assert results["BOD-23-01.1"]["evidence"][0]["where"] == f"{state.path}/last_scan.json"
    status = subprocess.run([fedharden, "status", "--state-dir", str(state.path), "--json"], capture_output=True,
                            text=True, timeout=60, check=False)
    assert json.loads(status.stdout)["last_status"] == report["summary"]["status"], status.stderr

"""Deadlines counted from discovery (BOD 23-02: 14 days from when an exposure is first seen):
from the agent's state when it has seen the failure before, from the scan's day otherwise."""
from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

from agent.scan import Scan, Selection
from agent.state import AgentState, first_seen
from directives import load_library
from tests.directives import scenario

EXPOSED = {"tags": ["role:firewall"],
           "runtime": {"addresses": ["127.0.0.1", "8.8.4.4"], "sockets": [["tcp", "0.0.0.0", 22, "sshd"]]}}
CLOSED = {"tags": ["role:firewall"], "runtime": {"addresses": ["127.0.0.1", "8.8.4.4"], "sockets": []}}


def scan(tmp_path: Path, spec: dict, seen: dict[str, dt.date]) -> dict:
    directive = next(d for d in load_library() if d.id == "BOD-23-02")
    directive = dataclasses.replace(directive, requirements=directive.requirements[:1])
    root = tmp_path / "root"
    root.mkdir()
    scenario.build(root, spec)
    host = scenario.ScenarioHost(str(root), spec["runtime"], {})
    report = Scan(host, [directive], Selection(), now=scenario.NOW, tags=tuple(spec["tags"]), first_seen=seen).run()
    (result,) = report["results"]
    return result


def test_a_new_exposure_is_due_fourteen_days_from_the_scan(tmp_path: Path) -> None:
    result = scan(tmp_path, EXPOSED, {})
    assert (result["status"], result["due"], result["overdue"], result["days_left"]) == ("fail", "2026-12-10", False, 14)


def test_a_known_exposure_is_due_fourteen_days_from_when_it_was_first_seen(tmp_path: Path) -> None:
    result = scan(tmp_path, EXPOSED, {"BOD-23-02.1": dt.date(2026, 11, 1)})
    assert (result["status"], result["due"], result["overdue"], result["days_left"]) == ("fail", "2026-11-15", True, -11)


def test_a_closed_interface_has_no_deadline(tmp_path: Path) -> None:
    result = scan(tmp_path, CLOSED, {"BOD-23-02.1": dt.date(2026, 11, 1)})
    assert (result["status"], result["due"], result["overdue"]) == ("pass", None, False)


def test_first_seen_comes_from_the_failing_results_of_the_state() -> None:
    state = AgentState(host_id="0" * 32, results={
        "A.1": {"key": "A.1", "status": "fail", "failing_since": "2026-11-01T08:00:00+00:00"},
        "A.2": {"key": "A.2", "status": "pass", "failing_since": None},
        "A.3": {"key": "A.3", "status": "fail", "failing_since": "garbage"},
    })
    assert first_seen(state) == {"A.1": dt.date(2026, 11, 1)}
    assert first_seen(None) == {}

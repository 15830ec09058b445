"""JSON Lines: one event per result, every event with the same, stable field names."""
from __future__ import annotations

import json
from typing import Any

from agent.output import FORMATS
from agent.output.jsonl import FIELDS

# The field names SIEM parsers are written against; changing them is a breaking change.
STABLE = (
    "event_type", "event_version", "timestamp", "report_id", "agent_version",
    "host_id", "hostname", "target", "agency", "host_tags", "os",
    "directive", "requirement", "key", "title", "severity", "status", "message",
    "finding", "cve", "due", "overdue", "days_left", "evidence", "references", "remediation",
    "waiver_state", "waiver_expires", "waiver_approver", "waiver_ticket", "waiver_justification",
    "directive_status", "host_status",  # added at the end: earlier fields keep their place
)


def test_one_event_per_result_with_stable_fields(fixture_report: dict[str, Any], golden: Any) -> None:
    text = FORMATS["jsonl"](fixture_report, False)
    lines = text.splitlines()
    assert len(lines) == len(fixture_report["results"]) == 6
    events = [json.loads(line) for line in lines]
    assert FIELDS == STABLE
    assert all(list(e) == list(STABLE) for e in events)
    assert {(e["key"], e["status"]) for e in events} == {
        ("FIXTURE.1", "pass"), ("FIXTURE.2", "waived"), ("FIXTURE.3", "fail"), ("FIXTURE.4", "fail"),
        ("FIXTURE.5", "not_applicable"), ("FIXTURE.6", "error"),
    }
    e = {e["key"]: e for e in events}
    assert e["FIXTURE.2"]["waiver_approver"] == "Jane Doe, ISSO" and e["FIXTURE.1"]["waiver_state"] is None
    assert e["FIXTURE.4"]["overdue"] is True and e["FIXTURE.4"]["due"] == "2026-07-01"
    assert e["FIXTURE.3"]["hostname"] == "fixture-host" and e["FIXTURE.3"]["event_type"] == "fedharden.result"
    golden("report.jsonl", text)


def test_line_separators_inside_values_do_not_split_events(scan_fixture: Any) -> None:
    report = scan_fixture()
    report["results"][0]["message"] = "a\u2028b\u2029c\nd"
    lines = FORMATS["jsonl"](report, False).splitlines()
    assert len(lines) == 6
    assert json.loads(lines[0])["message"] == "a\u2028b\u2029c\nd"

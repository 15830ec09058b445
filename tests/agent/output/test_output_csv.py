"""CSV: read back with the csv module, every row and column round-trips."""
from __future__ import annotations

import csv
import io
from typing import Any

from agent.output import FORMATS
from agent.output.csv_ import COLUMNS, rows


def read(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_round_trip(fixture_report: dict[str, Any], golden: Any) -> None:
    text = FORMATS["csv"](fixture_report, False)
    back = read(text)
    assert back == rows(fixture_report)
    assert list(back[0]) == list(COLUMNS)
    assert {(r["key"], r["status"]) for r in back} == {
        ("FIXTURE.1", "pass"), ("FIXTURE.2", "waived"), ("FIXTURE.3", "fail"), ("FIXTURE.4", "fail"),
        ("FIXTURE.5", "not_applicable"), ("FIXTURE.6", "error"),
    }
    waived = next(r for r in back if r["key"] == "FIXTURE.2")
    assert (waived["waiver_state"], waived["waiver_expires"], waived["waiver_approver"], waived["waiver_ticket"]) == (
        "active", "2026-12-31", "Jane Doe, ISSO", "POAM-2026-017")
    assert next(r for r in back if r["key"] == "FIXTURE.4")["waiver_state"] == "expired"
    assert next(r for r in back if r["key"] == "FIXTURE.1")["stig"] == "V-238218; SV-238218r877392_rule; UBTU-22-255040"
    golden("report.csv", text)


def test_multi_line_evidence_and_quotes_survive(scan_fixture: Any) -> None:
    report = scan_fixture()
    report["results"][0]["evidence"].append({"expected": 'a "quoted"\nvalue', "actual": "x,y", "where": "",
                                             "verdict": "violation"})
    back = read(FORMATS["csv"](report, False))
    first = next(r for r in back if r["key"] == report["results"][0]["key"])
    # One evidence line per line of the cell; a line break inside a host's value is escaped,
    # so it cannot pass for another evidence line.
    assert first["evidence"].split("\n")[1:] == ['violation: expected a "quoted"\\x0avalue, found x,y']


def test_cells_a_spreadsheet_would_run_are_guarded(scan_fixture: Any) -> None:
    report = scan_fixture()
    report["results"][0]["message"] = "=cmd|' /C calc'!A0"
    report["results"][0]["days_left"] = -31
    back = read(FORMATS["csv"](report, False))
    first = next(r for r in back if r["key"] == report["results"][0]["key"])
    assert first["message"] == "'=cmd|' /C calc'!A0"
    assert first["days_left"] == "-31"  # numbers are left alone

"""SARIF: valid against the official OASIS 2.1.0 schema, waivers as suppressions, baselineState."""
from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from agent.output import FORMATS

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "data" / "sarif-schema-2.1.0.json").read_text())


def sarif(report: dict[str, Any], baseline: dict[str, Any] | None = None) -> dict[str, Any]:
    log = json.loads(FORMATS["sarif"](report, False, baseline=baseline))
    errors = sorted(jsonschema.Draft4Validator(SCHEMA).iter_errors(log), key=lambda e: list(e.absolute_path))
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors]
    return log


def by_key(log: dict[str, Any]) -> dict[tuple[str, str | None], dict[str, Any]]:
    return {(r["properties"]["key"], r.get("baselineState")): r for r in log["runs"][0]["results"]}


def test_the_schema_is_the_official_one() -> None:
    assert SCHEMA["id"].startswith("https://docs.oasis-open.org/sarif/sarif/v2.1.0/")
    assert SCHEMA["$schema"] == "http://json-schema.org/draft-04/schema#"


def test_every_status_maps_to_a_sarif_kind(fixture_report: dict[str, Any], golden: Any) -> None:
    log = sarif(fixture_report)
    results = {r["properties"]["key"]: (r["kind"], r["level"]) for r in log["runs"][0]["results"]}
    assert results == {
        "FIXTURE.1": ("pass", "none"),
        "FIXTURE.2": ("fail", "warning"),  # waived: still a failure, but suppressed
        "FIXTURE.3": ("fail", "note"),
        "FIXTURE.4": ("fail", "warning"),
        "FIXTURE.5": ("notApplicable", "none"),
        "FIXTURE.6": ("open", "none"),
    }
    rules = log["runs"][0]["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == [f"FIXTURE.{i}" for i in range(1, 7)]
    assert rules[0]["helpUri"] == "https://example.org/directives/fixture"
    assert "AC-6(2)" in rules[0]["properties"]["tags"]
    golden("report.sarif", FORMATS["sarif"](fixture_report, False))


def test_an_active_waiver_is_an_accepted_suppression_with_its_justification(fixture_report: dict[str, Any]) -> None:
    results = {r["properties"]["key"]: r for r in sarif(fixture_report)["runs"][0]["results"]}
    (waived,) = results["FIXTURE.2"]["suppressions"]
    assert waived["kind"] == "external" and waived["status"] == "accepted"
    assert waived["justification"].startswith("Legacy jump host needs 6 tries")
    assert waived["properties"]["approver"] == "Jane Doe, ISSO"
    assert waived["properties"]["expires"] == "2026-12-31"
    assert waived["properties"]["ticket"] == "POAM-2026-017"
    # The expired waiver does not suppress: it is recorded as rejected.
    (expired,) = results["FIXTURE.4"]["suppressions"]
    assert expired["status"] == "rejected" and "expired on 2026-07-15" in expired["justification"]
    assert "suppressions" not in results["FIXTURE.3"]


def test_locations_point_into_the_scanned_root(fixture_report: dict[str, Any]) -> None:
    log = sarif(fixture_report)
    run = log["runs"][0]
    assert run["originalUriBaseIds"]["TARGET_ROOT"]["uri"] == "file:///srv/images/fixture/"
    results = {r["properties"]["key"]: r for r in run["results"]}
    (loc,) = results["FIXTURE.3"]["locations"]
    assert loc["physicalLocation"] == {"artifactLocation": {"uri": "etc/ssh/sshd_config", "uriBaseId": "TARGET_ROOT"},
                                       "region": {"startLine": 3}}
    assert "locations" not in results["FIXTURE.6"]  # evidence from a fact family, not a file


def test_baseline_state_from_the_previous_report(fixture_report: dict[str, Any]) -> None:
    previous = copy.deepcopy(fixture_report)
    prev = {r["key"]: r for r in previous["results"]}
    prev["FIXTURE.1"]["status"] = "fail"          # fixed since: FIXTURE.1 fail is absent, pass is new
    prev["FIXTURE.3"]["evidence"] = [{"expected": "Banner equals /etc/issue.net", "actual": "Banner none",
                                      "where": "/etc/ssh/sshd_config:3"}]  # still failing, evidence changed
    previous["results"] = [r for r in previous["results"] if r["key"] != "FIXTURE.4"]  # FIXTURE.4 is new
    previous["report_id"] = "fixture-report-0000"
    log = sarif(fixture_report, previous)
    assert set(by_key(log)) == {
        ("FIXTURE.1", "new"), ("FIXTURE.1", "absent"), ("FIXTURE.2", "unchanged"), ("FIXTURE.3", "updated"),
        ("FIXTURE.4", "new"), ("FIXTURE.5", "unchanged"), ("FIXTURE.6", "unchanged"),
    }
    absent = by_key(log)[("FIXTURE.1", "absent")]
    assert absent["kind"] == "fail"
    assert log["runs"][0]["baselineGuid"]


def test_without_a_baseline_no_result_has_a_baseline_state(fixture_report: dict[str, Any]) -> None:
    assert all("baselineState" not in r for r in sarif(fixture_report)["runs"][0]["results"])


@pytest.mark.parametrize("status", ["pass", "fail", "error", "not_applicable", "waived", "manual"])
def test_every_status_gives_valid_sarif(fixture_report: dict[str, Any], status: str) -> None:
    report = copy.deepcopy(fixture_report)
    for r in report["results"]:
        r["status"] = status
    sarif(report, baseline=fixture_report)

"""OSCAL assessment-results, loaded by IBM's compliance-trestle (models generated from NIST's
OSCAL schemas: required fields, patterns, enums, no unknown keys)."""
from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from trestle.oscal.assessment_results import AssessmentResults

from agent.output import FORMATS
from agent.output.oscal import control_id


def load(report: dict[str, Any], tmp_path: Path) -> dict[str, Any]:
    """Our document as trestle reads it: it must load, and serialize back to exactly what we wrote
    (nothing dropped, renamed or coerced)."""
    text = FORMATS["oscal"](report, False)
    path = tmp_path / "assessment-results.json"
    path.write_text(text, encoding="utf-8")
    loaded = AssessmentResults.oscal_read(path)
    assert loaded is not None
    back = json.loads(loaded.oscal_serialize_json())
    assert back == json.loads(text)
    return back["assessment-results"]  # type: ignore[no-any-return]


def prop(item: dict[str, Any], name: str) -> str:
    return next(p["value"] for p in item["props"] if p["name"] == name)


def test_trestle_loads_it_and_it_says_what_the_report_says(fixture_report: dict[str, Any], tmp_path: Path,
                                                            golden: Any) -> None:
    ar = load(fixture_report, tmp_path)
    (result,) = ar["results"]
    assert ar["metadata"]["oscal-version"] == "1.1.2"
    observations = {prop(o, "key"): o for o in result["observations"]}
    assert {k: prop(o, "status") for k, o in observations.items()} == {
        "FIXTURE.1": "pass", "FIXTURE.2": "waived", "FIXTURE.3": "fail", "FIXTURE.4": "fail",
        "FIXTURE.5": "not_applicable", "FIXTURE.6": "error",
    }
    assert all(o["methods"] == ["TEST"] for o in result["observations"])
    # Every observation's subject is the host, described in the result's local definitions.
    (host,) = result["local-definitions"]["inventory-items"]
    assert {s["subject-uuid"] for o in result["observations"] for s in o["subjects"]} == {host["uuid"]}
    assert prop(host, "hostname") == "fixture-host"
    # Findings: one per cited control, satisfied only when nothing fails or is waived.
    states = {f["target"]["target-id"]: (f["target"]["status"]["state"], f["target"]["status"]["reason"])
              for f in result["findings"]}
    assert states == {
        "ac-6.2_obj": ("satisfied", "pass"), "ia-2_obj": ("satisfied", "pass"),
        "ac-7_obj": ("not-satisfied", "fail"), "ac-8_obj": ("not-satisfied", "fail"),
        "ac-12_obj": ("not-satisfied", "fail"), "sc-10_obj": ("not-satisfied", "fail"),
        "ac-14_obj": ("satisfied", "other"), "ia-5_obj": ("not-satisfied", "other"),
    }
    controls = [c["control-id"] for c in result["reviewed-controls"]["control-selections"][0]["include-controls"]]
    assert controls == ["ac-6.2", "ac-7", "ac-8", "ac-12", "ac-14", "ia-2", "ia-5", "sc-10"]
    # Risks: the open failures with their deadlines, and the waiver as an approved deviation.
    risks = {r["title"].split(":")[0]: r for r in result["risks"]}
    assert {k: r["status"] for k, r in risks.items()} == {
        "FIXTURE.2": "deviation-approved", "FIXTURE.3": "open", "FIXTURE.4": "open"}
    waived = risks["FIXTURE.2"]
    assert waived["deadline"] == "2026-12-31T23:59:59+00:00"
    (entry,) = waived["risk-log"]["entries"]
    assert entry["description"].startswith("Legacy jump host needs 6 tries")
    assert entry["remarks"] == "approved by Jane Doe, ISSO; ticket POAM-2026-017; waiver at waivers.yaml:2"
    assert risks["FIXTURE.4"]["deadline"] == "2026-07-01T23:59:59+00:00"
    # The assessment plan reference resolves to a back-matter resource.
    assert ar["import-ap"]["href"] == f"#{ar['back-matter']['resources'][0]['uuid']}"
    golden("report.oscal.json", FORMATS["oscal"](fixture_report, False))


def test_the_same_report_renders_the_same_document(fixture_report: dict[str, Any]) -> None:
    assert FORMATS["oscal"](fixture_report, False) == FORMATS["oscal"](copy.deepcopy(fixture_report), False)


@pytest.mark.parametrize("status", ["pass", "fail", "error", "not_applicable", "waived", "manual"])
def test_every_status_loads(fixture_report: dict[str, Any], tmp_path: Path, status: str) -> None:
    report = copy.deepcopy(fixture_report)
    for r in report["results"]:
        r["status"] = status
        if status == "waived":
            r["waiver"] = {"requirement": r["requirement"], "justification": "  spaced\n", "expires": "2027-01-01",
                           "state": "active", "start": None}
    load(report, tmp_path)


def test_a_report_citing_no_control_still_loads(fixture_report: dict[str, Any], tmp_path: Path) -> None:
    report = copy.deepcopy(fixture_report)
    for r in report["results"]:
        r["references"] = {"nist_800_53": ["not-a-control"]}
    report["warnings"] = []
    ar = load(report, tmp_path)
    assert "findings" not in ar["results"][0]
    assert ar["results"][0]["reviewed-controls"] == {"control-selections": [{"include-all": {}}]}


def test_control_ids() -> None:
    assert [control_id(c) for c in ("AC-6(2)", "IA-5(1)", "SC-7", "X")] == ["ac-6.2", "ia-5.1", "sc-7", None]

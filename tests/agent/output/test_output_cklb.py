"""STIG Viewer checklist (CKLB): the STIG-citing requirements, with STIG Viewer's statuses."""
from __future__ import annotations

import copy
import json
import uuid
from typing import Any

import pytest
from click.testing import CliRunner

from agent import UsageError
from agent.output import FORMATS
from agent.output.cklb import stig_rules

# The keys STIG Viewer 3 writes at each level of a .cklb file.
DOC_KEYS = {"title", "id", "stigs", "active", "mode", "has_path", "target_data", "cklb_version"}
TARGET_KEYS = {"target_type", "host_name", "ip_address", "mac_address", "fqdn", "comments", "role",
               "is_web_database", "technology_area", "web_db_site", "web_db_instance", "classification"}
STIG_KEYS = {"stig_name", "display_name", "stig_id", "release_info", "version", "uuid", "reference_identifier",
             "size", "rules"}
RULE_KEYS = {"uuid", "stig_uuid", "target_key", "stig_ref", "group_id", "group_id_src", "rule_id", "rule_id_src",
             "weight", "classification", "severity", "rule_version", "group_title", "rule_title", "fix_text",
             "false_positives", "false_negatives", "discussion", "check_content", "documentable", "mitigations",
             "potential_impacts", "third_party_tools", "mitigation_control", "responsibility",
             "security_override_guidance", "ia_controls", "check_content_ref", "legacy_ids", "ccis", "group_tree",
             "reference_identifier", "srg_id", "createdAt", "updatedAt", "STIGUuid", "status", "overrides",
             "comments", "finding_details"}
STATUSES = {"not_a_finding", "open", "not_applicable", "not_reviewed"}


def checklist(report: dict[str, Any]) -> dict[str, Any]:
    doc = json.loads(FORMATS["cklb"](report, False))
    assert set(doc) == DOC_KEYS and doc["cklb_version"] == "1.0"
    assert set(doc["target_data"]) == TARGET_KEYS and isinstance(doc["target_data"]["is_web_database"], bool)
    uuid.UUID(doc["id"])
    for stig in doc["stigs"]:
        assert set(stig) == STIG_KEYS and stig["size"] == len(stig["rules"])
        uuid.UUID(stig["uuid"])
        for rule in stig["rules"]:
            assert set(rule) == RULE_KEYS
            assert rule["status"] in STATUSES and rule["severity"] in {"high", "medium", "low"}
            assert rule["stig_uuid"] == stig["uuid"] and rule["group_id_src"] == rule["group_id"]
            assert isinstance(rule["ccis"], list) and isinstance(rule["overrides"], dict)
            uuid.UUID(rule["uuid"])
    return doc


def test_statuses_for_the_stig_citing_requirements(fixture_report: dict[str, Any], golden: Any) -> None:
    doc = checklist(fixture_report)
    (stig,) = doc["stigs"]
    assert stig["stig_id"] == "FIXTURE"
    rules = {r["group_id"]: r for r in stig["rules"]}
    assert {g: r["status"] for g, r in rules.items()} == {
        "V-238218": "not_a_finding",   # FIXTURE.1 pass
        "V-238219": "open",            # FIXTURE.2 waived: still open, the comments carry the waiver
        "V-238220": "open",            # FIXTURE.4 fail
        "V-238221": "not_applicable",  # FIXTURE.5
    }  # FIXTURE.3 and FIXTURE.6 cite no STIG id
    first = rules["V-238218"]
    assert (first["rule_id"], first["rule_id_src"], first["rule_version"]) == (
        "SV-238218r877392", "SV-238218r877392_rule", "UBTU-22-255040")
    assert "risk accepted until 2026-12-31 by Jane Doe, ISSO (POAM-2026-017)" in rules["V-238219"]["comments"]
    assert "due 2026-07-01 (OVERDUE)" in rules["V-238220"]["comments"]
    assert "ClientAliveInterval 0" in rules["V-238220"]["finding_details"]
    assert doc["target_data"]["host_name"] == "fixture-host"
    golden("report.cklb", FORMATS["cklb"](fixture_report, False))


def test_error_and_manual_are_not_reviewed_and_the_worst_status_wins(fixture_report: dict[str, Any]) -> None:
    report = copy.deepcopy(fixture_report)
    results = {r["key"]: r for r in report["results"]}
    results["FIXTURE.1"]["status"] = "error"
    results["FIXTURE.5"]["status"] = "manual"
    # A second result (as a per-finding requirement has) for the same STIG rule: the worst status wins.
    extra = copy.deepcopy(results["FIXTURE.2"])
    extra.update(key="FIXTURE.2#x", status="pass")
    results["FIXTURE.2"]["status"] = "fail"
    report["results"].append(extra)
    rules = {r["group_id"]: r for r in checklist(report)["stigs"][0]["rules"]}
    assert rules["V-238218"]["status"] == "not_reviewed"
    assert rules["V-238221"]["status"] == "not_reviewed"
    assert rules["V-238219"]["status"] == "open"


def test_no_stig_ids_means_no_checklist(fixture_report: dict[str, Any]) -> None:
    report = copy.deepcopy(fixture_report)
    for r in report["results"]:
        r["references"].pop("stig", None)
    with pytest.raises(UsageError, match="no evaluated requirement cites a STIG id"):
        FORMATS["cklb"](report, False)


def test_the_cli_writes_nothing_when_a_format_cannot_render(make_root: Any, tmp_path: Any) -> None:
    from agent.cli import main

    root = make_root({"/etc/os-release": "ID=debian\n"})
    out = tmp_path / "out"
    out.mkdir()
    result = CliRunner().invoke(main, ["scan", "--root", str(root), "--directive", "BOD-23-01",
                                       "--format", f"sarif={out / 'r.sarif'}", "--format", f"cklb={out / 'r.cklb'}"])
    assert result.exit_code == 2
    assert result.stderr == "fedharden: cklb: no evaluated requirement cites a STIG id (references.stig), " \
                            "so there is no checklist\n"
    assert list(out.iterdir()) == []


def test_stig_identifiers_group_into_rules() -> None:
    assert stig_rules(["V-1", "SV-1r2_rule", "RHEL-09-1"]) == [
        {"group_id": "V-1", "rule_id_src": "SV-1r2_rule", "rule_version": "RHEL-09-1"}]
    assert stig_rules(["V-1", "V-2", "SV-2r3_rule"]) == [
        {"group_id": "V-1", "rule_id_src": "", "rule_version": ""},
        {"group_id": "V-2", "rule_id_src": "SV-2r3_rule", "rule_version": ""}]
    assert stig_rules(["UBTU-22-1"]) == [{"group_id": "UBTU-22-1", "rule_id_src": "", "rule_version": "UBTU-22-1"}]

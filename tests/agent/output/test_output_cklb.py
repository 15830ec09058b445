"""STIG Viewer checklist (CKLB): the results the shipped STIG mapping places, with STIG Viewer's statuses and ids."""
from __future__ import annotations

import copy
import json
import uuid
from typing import Any

import pytest
from click.testing import CliRunner

from agent import UsageError
from agent.output import FORMATS
from tests.agent.output.conftest import DATA

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


STIG_WAIVERS = """\
waivers:
  - requirement: STIGFIX.2
    justification: The load balancer probes keep sessions alive.
    approver: Jane Doe, ISSO
    expires: 2026-12-31
    ticket: POAM-2026-017
"""
DPKG = "Package: openssh-server\nStatus: install ok installed\nVersion: 1:9.2p1-2\n"


def stig_report(scan_fixture: Any, **files: str) -> dict[str, Any]:
    return scan_fixture(directive_file=DATA / "stig.yaml", waivers=STIG_WAIVERS,
                        files={"/var/lib/dpkg/status": DPKG, **files})


def test_rules_come_from_the_shipped_stig_mapping(scan_fixture: Any) -> None:
    doc = checklist(stig_report(scan_fixture))
    (stig,) = doc["stigs"]
    assert stig["stig_id"] == "STIGFIX"
    rules = {r["rule_version"]: r for r in stig["rules"]}
    assert {v: (r["group_id"], r["status"], r["severity"]) for v, r in rules.items()} == {
        "UBTU-22-255025": ("V-260526", "not_a_finding", "high"),  # STIGFIX.1 pass (sshd's default)
        "UBTU-22-255030": ("V-260527", "open", "medium"),          # STIGFIX.2 fails, waived: still open
        "UBTU-22-255035": ("V-260528", "open", "medium"),          # STIGFIX.3 fails, STIGFIX.4 passes: the worst
        "UBTU-22-252010": ("V-260519", "not_applicable", "low"),   # STIGFIX.5: chrony not installed
    }  # STIGFIX.6 cites RHEL-08-010550 and UBTU-22-255040, but its rule is in no Ubuntu STIG control
    empty = rules["UBTU-22-255025"]
    assert (empty["rule_id"], empty["rule_id_src"], empty["group_title"], empty["srg_id"], empty["ccis"]) == (
        "SV-260526r991591", "SV-260526r991591_rule", "SRG-OS-000480-GPOS-00229", "SRG-OS-000480-GPOS-00229",
        ["CCI-000366"])
    assert empty["group_tree"] == [{"id": "V-260526", "title": "SRG-OS-000480-GPOS-00229", "description": ""}]
    assert "STIGFIX.1 (sshd_disable_empty_passwords)" in empty["discussion"]
    assert "risk accepted until 2026-12-31 by Jane Doe, ISSO (POAM-2026-017)" in rules["UBTU-22-255030"]["comments"]
    idle = rules["UBTU-22-255035"]
    assert "Judged by STIGFIX.3 (sshd_set_idle_timeout); STIGFIX.4 (sshd_set_idle_timeout)" in idle["discussion"]
    assert "STIGFIX.3: fail" in idle["finding_details"] and "STIGFIX.4: pass" in idle["finding_details"]


def test_error_and_manual_are_not_reviewed(scan_fixture: Any) -> None:
    report = stig_report(scan_fixture)
    results = {r["key"]: r for r in report["results"]}
    results["STIGFIX.1"]["status"] = "error"
    results["STIGFIX.5"]["status"] = "manual"
    rules = {r["rule_version"]: r for r in checklist(report)["stigs"][0]["rules"]}
    assert rules["UBTU-22-255025"]["status"] == "not_reviewed"
    assert rules["UBTU-22-252010"]["status"] == "not_reviewed"


def test_the_fixture_report_checklist(fixture_report: dict[str, Any], golden: Any) -> None:
    doc = checklist(fixture_report)
    (stig,) = doc["stigs"]
    # FIXTURE.4 cites sshd_set_idle_timeout: fails, waived until 2026-07-15 (expired on the scan's day)
    assert [(r["rule_version"], r["status"]) for r in stig["rules"]] == [("UBTU-22-255035", "open")]
    assert "waiver expired on 2026-07-15" in stig["rules"][0]["comments"]
    assert "ClientAliveInterval 0" in stig["rules"][0]["finding_details"]
    assert doc["target_data"]["host_name"] == "fixture-host"
    golden("report.cklb", FORMATS["cklb"](fixture_report, False))


def test_no_mapped_rule_means_no_checklist(fixture_report: dict[str, Any]) -> None:
    report = copy.deepcopy(fixture_report)
    for r in report["results"]:
        r["references"].pop("ssg", None)
    with pytest.raises(UsageError, match="no evaluated requirement cites a ComplianceAsCode rule the Ubuntu 22.04 STIG"):
        FORMATS["cklb"](report, False)


def test_the_cli_writes_nothing_when_a_format_cannot_render(make_root: Any, tmp_path: Any) -> None:
    from agent.cli import main

    root = make_root({"/etc/os-release": "ID=debian\n"})
    out = tmp_path / "out"
    out.mkdir()
    result = CliRunner().invoke(main, ["scan", "--root", str(root), "--directive", "BOD-23-01",
                                       "--format", f"sarif={out / 'r.sarif'}", "--format", f"cklb={out / 'r.cklb'}"])
    assert result.exit_code == 2
    assert result.stderr == "fedharden: cklb: no evaluated requirement cites a ComplianceAsCode rule the Ubuntu " \
                            "22.04 STIG mapping places (references.ssg), so there is no checklist\n"
    assert list(out.iterdir()) == []

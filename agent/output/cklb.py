"""STIG Viewer 3 checklist (CKLB JSON) for the requirements that cite a DISA STIG id.

A requirement's ``references.stig`` names one STIG rule by its identifiers: the group
(``V-238218``), the rule (``SV-238218r877392_rule``) and the rule version
(``UBTU-22-255040``). Each cited group becomes one checklist rule, under one ``stigs``
entry per directive. Statuses map to STIG Viewer's: pass -> not_a_finding, fail and
waived -> open (a waiver is an accepted risk, not a fix; the comments carry it),
not_applicable -> not_applicable, error and manual -> not_reviewed. When several results
map to one rule (a per-finding requirement) the worst status wins.

A report with no STIG-citing result has no checklist: rendering raises UsageError.
"""
from __future__ import annotations

import json
import re
import uuid
from typing import Any

from agent.contract import Report, Result, Severity
from agent import UsageError
from agent.output.common import evidence_text, json_safe, ordered, safe

STATUS = {"pass": "not_a_finding", "fail": "open", "waived": "open", "not_applicable": "not_applicable",
          "error": "not_reviewed", "manual": "not_reviewed"}
WORST = ("open", "not_reviewed", "not_a_finding", "not_applicable")
SEVERITY = {"critical": "high", "high": "high", "medium": "medium", "low": "low"}
_GROUP = re.compile(r"^V-\d+$")
_RULE = re.compile(r"^SV-(\d+)")


def _uuid(report: Report, *parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "fedharden:cklb:" + ":".join([report["report_id"], *parts])))


def stig_rules(stig_ids: list[str]) -> list[dict[str, str]]:
    """Group a requirement's STIG identifiers into rules: {group_id, rule_id_src, rule_version}."""
    groups = [i for i in stig_ids if _GROUP.match(i)]
    rules = {g: {"group_id": g, "rule_id_src": "", "rule_version": ""} for g in groups}
    loose: list[str] = []
    for ident in stig_ids:
        if ident in rules:
            continue
        match = _RULE.match(ident)
        owner = f"V-{match.group(1)}" if match else None
        if owner in rules:
            rules[owner]["rule_id_src"] = ident
        else:
            loose.append(ident)
    for ident in loose:
        key = "rule_id_src" if _RULE.match(ident) else "rule_version"
        target = next((r for r in rules.values() if not r[key]), None)
        if target is None:  # no cited group to attach it to: it stands for a rule of its own
            target = rules.setdefault(ident, {"group_id": ident, "rule_id_src": "", "rule_version": ""})
        target[key] = ident
    return list(rules.values())


def _rule(report: Report, stig_uuid: str, ids: dict[str, str], results: list[Result]) -> dict[str, Any]:
    first = results[0]
    status = min((STATUS[r["status"]] for r in results), key=WORST.index)
    details = "\n\n".join(f"{r['key']}: {r['status']}\n{evidence_text(r)}".strip() for r in results)
    comments = []
    for r in results:
        waiver = r.get("waiver")
        if waiver and r["status"] == "waived":
            comments.append(f"{r['key']}: risk accepted until {waiver['expires']}"
                            + (f" by {waiver['approver']}" if waiver.get("approver") else "")
                            + (f" ({waiver['ticket']})" if waiver.get("ticket") else "") + f": {waiver['justification']}")
        elif waiver and waiver.get("state") == "expired":
            comments.append(f"{r['key']}: waiver expired on {waiver['expires']}")
        if r.get("message"):
            comments.append(f"{r['key']}: {safe(r['message'])}")
        if r["due"] and r["status"] in ("fail", "waived"):
            comments.append(f"{r['key']}: due {r['due']}" + (" (OVERDUE)" if r["overdue"] else ""))
    rule_id = ids["rule_id_src"].removesuffix("_rule")
    when = report["scan"]["finished_at"]
    return {
        "uuid": _uuid(report, "rule", first["directive"], ids["group_id"]),
        "stig_uuid": stig_uuid,
        "target_key": None,
        "stig_ref": None,
        "group_id": ids["group_id"],
        "group_id_src": ids["group_id"],
        "rule_id": rule_id,
        "rule_id_src": ids["rule_id_src"],
        "weight": "10.0",
        "classification": "UNCLASSIFIED",
        "severity": SEVERITY[min((Severity(r["severity"]) for r in results), key=lambda s: s.rank).value],
        "rule_version": ids["rule_version"],
        "group_title": first["title"],
        "rule_title": first["title"],
        "fix_text": first.get("remediation", "").strip(),
        "false_positives": "",
        "false_negatives": "",
        "discussion": f"{first['requirement']} ({first['directive']}): {first['title']}",
        "check_content": "\n".join(sorted({f"Expected: {e['expected']}" for r in results for e in r["evidence"]
                                           if e["expected"]})),
        "documentable": "false",
        "mitigations": "",
        "potential_impacts": "",
        "third_party_tools": "",
        "mitigation_control": "",
        "responsibility": "",
        "security_override_guidance": "",
        "ia_controls": "",
        "check_content_ref": {"href": "", "name": "M"},
        "legacy_ids": [],
        "ccis": [],
        "group_tree": [{"id": ids["group_id"], "title": first["title"], "description": ""}],
        "reference_identifier": "",
        "srg_id": "",
        "createdAt": when,
        "updatedAt": when,
        "STIGUuid": stig_uuid,
        "status": status,
        "overrides": {},
        "comments": "\n".join(comments),
        "finding_details": details,
    }


def build(report: Report) -> dict[str, Any]:
    by_rule: dict[tuple[str, str], tuple[dict[str, str], list[Result]]] = {}
    for r in ordered(report["results"]):
        for ids in stig_rules(list(r["references"].get("stig", []))):
            by_rule.setdefault((r["directive"], ids["group_id"]), (ids, []))[1].append(r)
    if not by_rule:
        raise UsageError("cklb: no evaluated requirement cites a STIG id (references.stig), so there is no checklist")
    stigs = []
    for d in report["directives"]:
        keys = [k for k in by_rule if k[0] == d["id"]]
        if not keys:
            continue
        stig_uuid = _uuid(report, "stig", d["id"])
        rules = [_rule(report, stig_uuid, *by_rule[k]) for k in keys]
        stigs.append({
            "stig_name": d["title"],
            "display_name": d["id"],
            "stig_id": d["id"],
            "release_info": f"Issued: {d['issued']} Digest: {d['digest']}",
            "version": "1",
            "uuid": stig_uuid,
            "reference_identifier": "",
            "size": len(rules),
            "rules": rules,
        })
    host = report["host"]
    return {
        "title": f"{host['hostname'] or host['target']} fedharden checklist",
        "id": _uuid(report, "checklist"),
        "stigs": stigs,
        "active": True,
        "mode": 2,
        "has_path": False,
        "target_data": {
            "target_type": "Computing",
            "host_name": safe(host["hostname"]),
            "ip_address": "",
            "mac_address": "",
            "fqdn": "",
            "comments": f"fedharden {report['agent']['version']} scan of {host['target']} at "
                        f"{report['scan']['finished_at']} (report {report['report_id']})",
            "role": "None",
            "is_web_database": False,
            "technology_area": "",
            "web_db_site": "",
            "web_db_instance": "",
            "classification": None,
        },
        "cklb_version": "1.0",
    }


def render(report: Report, color: bool = False, *, baseline: Report | None = None) -> str:
    return json_safe(json.dumps(build(report), indent=2, ensure_ascii=False)) + "\n"

"""STIG Viewer 3 checklist (CKLB JSON) of the results the shipped STIG mapping places.

The checklist's STIG rules come from directives/data/stig_ubuntu2204.yml (ComplianceAsCode's
mapping of the Ubuntu 22.04 STIG to its rules, with DISA's ids): a result becomes the STIG
rule ``UBTU-22-255035`` only when one of its requirement's ``references.ssg`` rules is one the
mapping says implements that control; the rule carries DISA's group (``V-``), rule (``SV-``),
SRG, CCI ids and severity. A requirement's own ``references.stig`` (ids of other STIGs
included) is documentation, never a claim the checklist makes. One ``stigs`` entry per
directive. Statuses map to STIG Viewer's: pass -> not_a_finding, fail and waived -> open (a
waiver is an accepted risk, not a fix; the comments carry it), not_applicable ->
not_applicable, error and manual -> not_reviewed. When several results map to one rule (a
per-finding requirement, or several requirements implementing one control) the worst status
wins.

A report with no result the mapping places has no checklist: rendering raises UsageError.
"""
from __future__ import annotations

import json
import uuid
from typing import Any

from agent import UsageError
from agent.contract import Report, Result
from agent.output.common import evidence_text, json_safe, ordered, safe
from directives.controls import Control, benchmark

STATUS = {"pass": "not_a_finding", "fail": "open", "waived": "open", "not_applicable": "not_applicable",
          "error": "not_reviewed", "manual": "not_reviewed"}
WORST = ("open", "not_reviewed", "not_a_finding", "not_applicable")
SEVERITIES = ("high", "medium", "low")  # DISA's CAT I, II, III, as the mapping's levels name them
MAPPING = "stig-ubuntu2204"


def _uuid(report: Report, *parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "fedharden:cklb:" + ":".join([report["report_id"], *parts])))


def stig_controls(result: Result) -> list[Control]:
    """The STIG controls the mapping says one of the result's ssg rules implements."""
    cited = set(result["references"].get("ssg", []))
    return [c for c in benchmark(MAPPING).controls if cited & set(c.rules)]


def _rule(report: Report, stig_uuid: str, control: Control, results: list[Result]) -> dict[str, Any]:
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
    bench = benchmark(MAPPING)
    judged = sorted({f"{r['requirement']} ({', '.join(s for s in r['references'].get('ssg', []) if s in control.rules)})"
                     for r in results})
    when = report["scan"]["finished_at"]
    return {
        "uuid": _uuid(report, "rule", first["directive"], control.group),
        "stig_uuid": stig_uuid,
        "target_key": None,
        "stig_ref": None,
        "group_id": control.group,
        "group_id_src": control.group,
        "rule_id": control.rule.removesuffix("_rule"),
        "rule_id_src": control.rule,
        "weight": "10.0",
        "classification": "UNCLASSIFIED",
        "severity": control.levels[0] if control.levels and control.levels[0] in SEVERITIES else "medium",
        "rule_version": control.id,
        "group_title": control.srg,
        "rule_title": first["title"],
        "fix_text": first.get("remediation", "").strip(),
        "false_positives": "",
        "false_negatives": "",
        "discussion": f"{first['requirement']} ({first['directive']}): {first['title']}. Judged by "
                      f"{'; '.join(judged)}: ComplianceAsCode rules that {bench.title} {bench.version} maps to "
                      f"{control.id} (mapping at ComplianceAsCode {bench.commit[:12]}).",
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
        "ccis": list(control.ccis),
        "group_tree": [{"id": control.group, "title": control.srg, "description": ""}],
        "reference_identifier": "",
        "srg_id": control.srg,
        "createdAt": when,
        "updatedAt": when,
        "STIGUuid": stig_uuid,
        "status": status,
        "overrides": {},
        "comments": "\n".join(comments),
        "finding_details": details,
    }


def build(report: Report) -> dict[str, Any]:
    by_rule: dict[tuple[str, str], tuple[Control, list[Result]]] = {}
    for r in ordered(report["results"]):
        for control in stig_controls(r):
            by_rule.setdefault((r["directive"], control.id), (control, []))[1].append(r)
    if not by_rule:
        raise UsageError("cklb: no evaluated requirement cites a ComplianceAsCode rule the Ubuntu 22.04 STIG "
                         "mapping places (references.ssg), so there is no checklist")
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

"""OSCAL assessment-results (JSON, OSCAL 1.1.2).

One result for the scan. Its parts:

- an inventory item for the host (local definitions), the subject of every observation;
- one observation per report result (method TEST): the evidence, status, severity, due date;
- one risk per failing or waived result: ``open`` with the requirement's deadline, or
  ``deviation-approved`` with the waiver's justification, approver and expiry in its log;
- one finding per NIST SP 800-53 control the directives cite, targeting the control's
  objective: ``not-satisfied`` when a related result fails or is waived (reason fail) or could
  not be judged (reason other), else ``satisfied``;
- the directives as back-matter resources (URL and content digest); the assessment plan
  reference points at them, since the directives are the plan.

UUIDs are name-based (v5) on the report id, so the same report renders the same document.
fedharden's own properties live in the ``NS`` namespace; the result's ``status`` prop and each
directive resource's are the host statuses of agent.contract (a waived result makes its
control's finding not-satisfied with an approved risk, while the host status counts it).
"""
from __future__ import annotations

import json
import re
import uuid
from typing import Any

from agent.contract import Report, Result
from agent.output.common import (directive_status, evidence_line, json_safe, ordered, overall_status, safe, safe_lines,
                                 summary_text)

OSCAL_VERSION = "1.1.2"
NS = "https://fedharden.example/ns/oscal"
_CONTROL = re.compile(r"^([A-Z]{2})-([0-9]+)(?:\(([0-9]+)\))?$")
_PROBLEM = ("fail", "waived")
_UNJUDGED = ("error", "manual")


def control_id(nist: str) -> str | None:
    """``AC-6(2)`` -> ``ac-6.2``, the id of the control in NIST's OSCAL SP 800-53 catalog."""
    match = _CONTROL.match(nist.strip())
    if not match:
        return None
    family, number, enhancement = match.groups()
    return f"{family.lower()}-{int(number)}" + (f".{int(enhancement)}" if enhancement else "")


def _uuid(report: Report, *parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "fedharden:" + ":".join([report["report_id"], *parts])))


def _prop(name: str, value: object) -> dict[str, str]:
    return {"name": name, "ns": NS, "value": _one_line(str(value))}


def _one_line(text: str) -> str:
    """OSCAL strings may not start or end with whitespace, and titles are one line; control
    characters from the host are escaped."""
    return " ".join(safe(" ".join(text.split())).split()) or "-"


def _text(text: str) -> str:
    return safe_lines(text.strip()).strip() or "-"


def _datetime(day: str) -> str:
    """A date as the end of that day in UTC (OSCAL deadlines are date-times)."""
    return f"{day}T23:59:59+00:00"


def _observation(report: Report, r: Result, host_uuid: str) -> dict[str, Any]:
    props = [_prop("requirement", r["requirement"]), _prop("key", r["key"]), _prop("directive", r["directive"]),
             _prop("status", r["status"]), _prop("severity", r["severity"]), _prop("overdue", str(r["overdue"]).lower())]
    if r["due"]:
        props.append(_prop("due", r["due"]))
    for ref in r["references"].get("nist_800_53", []):
        props.append(_prop("nist-800-53", ref))
    obs: dict[str, Any] = {
        "uuid": _uuid(report, "observation", r["key"]),
        "title": _one_line(f"{r['key']}: {r['title']}"),
        "description": _text(f"{r['title']}: {r['status'].replace('_', ' ')}. {summary_text(r)}"),
        "props": props,
        "methods": ["TEST"],
        "types": ["finding"] if r["status"] in _PROBLEM else ["control-objective"],
        "subjects": [{"subject-uuid": host_uuid, "type": "inventory-item"}],
        "collected": report["scan"]["finished_at"],
    }
    if r["evidence"]:
        obs["relevant-evidence"] = [{"description": _text(evidence_line(e))} for e in r["evidence"]]
    if r.get("message"):
        obs["remarks"] = _text(r["message"])
    return obs


def _risk(report: Report, r: Result, observation: str) -> dict[str, Any]:
    waiver = r.get("waiver") if r["status"] == "waived" else None
    risk: dict[str, Any] = {
        "uuid": _uuid(report, "risk", r["key"]),
        "title": _one_line(f"{r['key']}: {r['title']}"),
        "description": _text(f"{r['title']} does not hold on {report['host']['hostname']}: {summary_text(r)}"),
        "statement": _text(r.get("remediation") or r["title"]),
        "props": [_prop("severity", r["severity"]), _prop("requirement", r["requirement"])],
        "status": "deviation-approved" if waiver else "open",
        "related-observations": [{"observation-uuid": observation}],
    }
    if waiver:
        risk["deadline"] = _datetime(waiver["expires"])
        entry: dict[str, Any] = {
            "uuid": _uuid(report, "risk-log", r["key"]),
            "title": "Risk accepted by waiver",
            "description": _text(waiver["justification"]),
            "start": _datetime(start).replace("23:59:59", "00:00:00") if (start := waiver.get("start"))
            else report["scan"]["started_at"],
            "end": _datetime(waiver["expires"]),
            "status-change": "deviation-approved",
        }
        remarks = [f"approved by {waiver['approver']}" if waiver.get("approver") else "",
                   f"ticket {waiver['ticket']}" if waiver.get("ticket") else "",
                   f"waiver at {waiver['source']}" if waiver.get("source") else ""]
        if any(remarks):
            entry["remarks"] = "; ".join(x for x in remarks if x)
        risk["risk-log"] = {"entries": [entry]}
    elif r["due"]:
        risk["deadline"] = _datetime(r["due"])
    return risk


def _finding(report: Report, control: str, nist: str, results: list[Result],
             observations: dict[str, str], risks: dict[str, str]) -> dict[str, Any]:
    statuses = {r["status"] for r in results}
    if statuses & set(_PROBLEM):
        state, reason = "not-satisfied", "fail"
    elif statuses & set(_UNJUDGED):
        state, reason = "not-satisfied", "other"
    else:
        state, reason = "satisfied", "pass" if "pass" in statuses else "other"
    counts = ", ".join(f"{sum(r['status'] == s for r in results)} {s.replace('_', ' ')}"
                       for s in ("pass", "fail", "waived", "error", "manual", "not_applicable") if s in statuses)
    finding: dict[str, Any] = {
        "uuid": _uuid(report, "finding", control),
        "title": f"{nist} on {_one_line(report['host']['hostname'])}",
        "description": _text(f"{len(results)} requirement result(s) cite {nist}: {counts}."),
        "target": {
            "type": "objective-id",
            "target-id": f"{control}_obj",
            "status": {"state": state, "reason": reason},
        },
        "related-observations": [{"observation-uuid": observations[r["key"]]} for r in results],
    }
    related = [{"risk-uuid": risks[r["key"]]} for r in results if r["key"] in risks]
    if related:
        finding["related-risks"] = related
    return finding


def build(report: Report) -> dict[str, Any]:
    host = report["host"]
    host_uuid = _uuid(report, "host", host["id"])
    results = ordered(report["results"])
    observations = [_observation(report, r, host_uuid) for r in results]
    observation_of = {r["key"]: o["uuid"] for r, o in zip(results, observations)}
    risks = [_risk(report, r, observation_of[r["key"]]) for r in results if r["status"] in _PROBLEM]
    risk_of = {r["key"]: risk["uuid"] for r, risk in zip([r for r in results if r["status"] in _PROBLEM], risks)}
    by_control: dict[str, tuple[str, list[Result]]] = {}
    for r in results:
        for nist in r["references"].get("nist_800_53", []):
            cid = control_id(nist)
            if cid:
                by_control.setdefault(cid, (nist, []))[1].append(r)
    controls = sorted(by_control, key=lambda c: [int(x) if x.isdigit() else x for x in re.split(r"[-.]", c)])
    findings = [_finding(report, c, by_control[c][0], by_control[c][1], observation_of, risk_of) for c in controls]

    inventory_props = [_prop("host-id", host["id"]), _prop("hostname", host["hostname"] or "-"),
                       _prop("target", host["target"])]
    if host.get("os", {}).get("pretty_name"):
        inventory_props.append(_prop("os", host["os"]["pretty_name"]))
    if host.get("agency"):
        inventory_props.append(_prop("agency", host["agency"]))
    summary = report["summary"]
    result_props = [_prop("report-id", report["report_id"]), _prop("status", overall_status(report).value),
                    _prop("compliant", str(summary["compliant"]).lower())]
    if summary["score"] is not None:
        result_props.append(_prop("score", f"{summary['score']:.4f}"))
    for status, count in summary["counts"].items():
        result_props.append(_prop(f"count-{status.replace('_', '-')}", count))
    scan = report["scan"]
    if "tailoring" in scan:
        result_props.append(_prop("tailoring", f"{scan['tailoring']['title']} ({scan['tailoring']['digest']})"))

    resources = []
    for d in report["directives"]:
        resource: dict[str, Any] = {
            "uuid": _uuid(report, "directive", d["id"]),
            "title": _one_line(f"{d['id']}: {d['title']}"),
            "props": [_prop("directive-id", d["id"]), _prop("issued", d["issued"]), _prop("digest", d["digest"]),
                      _prop("status", directive_status(report, d["id"]).value)],
        }
        if d.get("url"):
            resource["rlinks"] = [{"href": d["url"]}]
        resources.append(resource)
    plan_uuid = _uuid(report, "plan")
    resources.insert(0, {
        "uuid": plan_uuid,
        "title": "Assessment plan: the directives evaluated",
        "description": "fedharden evaluates machine-readable directives; they are this assessment's plan: "
                       + ", ".join(d["id"] for d in report["directives"]) + ".",
    })
    result: dict[str, Any] = {
        "uuid": _uuid(report, "result"),
        "title": _one_line(f"fedharden scan of {host['hostname'] or host['target']}"),
        "description": _text(f"Automated evaluation of {host['target']} against "
                             f"{', '.join(d['id'] for d in report['directives']) or 'no directive'}."),
        "start": scan["started_at"],
        "end": scan["finished_at"],
        "props": result_props,
        "local-definitions": {"inventory-items": [{
            "uuid": host_uuid, "description": _one_line(f"{host['hostname']} ({host['target']})"),
            "props": inventory_props,
        }]},
        "reviewed-controls": {"control-selections": [
            {"include-controls": [{"control-id": c} for c in controls]} if controls else {"include-all": {}}
        ]},
    }
    if observations:
        result["observations"] = observations
    if risks:
        result["risks"] = risks
    if findings:
        result["findings"] = findings
    if report.get("warnings"):
        result["remarks"] = _text("\n".join(f"- {w}" for w in report["warnings"]))
    return {"assessment-results": {
        "uuid": _uuid(report, "assessment-results"),
        "metadata": {
            "title": _one_line(f"fedharden assessment results: {host['hostname'] or host['target']}"),
            "last-modified": report["generated_at"],
            "version": report["agent"]["version"],
            "oscal-version": OSCAL_VERSION,
            "props": [_prop("tool", f"fedharden {report['agent']['version']}")],
        },
        "import-ap": {"href": f"#{plan_uuid}",
                      "remarks": "The directives evaluated stand for the assessment plan; see back-matter."},
        "results": [result],
        "back-matter": {"resources": resources},
    }}


def render(report: Report, color: bool = False, *, baseline: Report | None = None) -> str:
    return json_safe(json.dumps(build(report), indent=2, ensure_ascii=False)) + "\n"

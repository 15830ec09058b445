"""SARIF 2.1.0: one run, one rule per requirement, one result per report result.

Statuses map to SARIF result kinds (fail -> fail, waived -> fail with an accepted external
suppression carrying the waiver's justification, pass -> pass, not_applicable ->
notApplicable, manual -> review, error -> open). Given a baseline report, every result gets
a ``baselineState`` (a result's identity is its key and whether it is a problem), and
problems of the baseline that are gone appear as ``absent`` results. The run's properties
carry the host's ``status`` and each directive's (``directiveStatus``), from the summary.
"""
from __future__ import annotations

import json
from typing import Any

from agent.contract import Report, Result
from agent.output.common import (directive_status, evidence_line, json_safe, location, natural, overall_status, safe,
                                 summary_text)

SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
KIND = {"pass": "pass", "fail": "fail", "waived": "fail", "not_applicable": "notApplicable",
        "manual": "review", "error": "open"}
LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note"}
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0"}
ROOT = "TARGET_ROOT"


def _root_uri(target: str) -> str:
    if target.startswith("rootfs:"):
        path = target[len("rootfs:"):].rstrip("/")
        return "file://" + path + "/"
    return "file:///"


def _rule(result: Result, urls: dict[str, str]) -> dict[str, Any]:
    refs = result["references"]
    rule: dict[str, Any] = {
        "id": result["requirement"],
        "name": result["requirement"],
        "shortDescription": {"text": result["title"]},
        "fullDescription": {"text": result["title"]},
        "defaultConfiguration": {"level": LEVEL[result["severity"]]},
        "properties": {
            "tags": ["security", "compliance", result["directive"], *refs.get("nist_800_53", [])],
            "security-severity": SECURITY_SEVERITY[result["severity"]],
            "severity": result["severity"],
            "directive": result["directive"],
            "references": {k: list(v) for k, v in refs.items()},
        },
    }
    if result.get("remediation"):
        rule["help"] = {"text": result["remediation"]}
    if urls.get(result["directive"]):
        rule["helpUri"] = urls[result["directive"]]
    return rule


def _identity(result: Result) -> tuple[str, str]:
    return result["key"], KIND[result["status"]]


def _baseline_state(result: Result, previous: dict[tuple[str, str], Result]) -> str:
    before = previous.get(_identity(result))
    if before is None:
        return "new"
    same = before["status"] == result["status"] and before["evidence"] == result["evidence"]
    return "unchanged" if same else "updated"


def _result(r: Result, rule_index: int, baseline_state: str | None) -> dict[str, Any]:
    kind = KIND[r["status"]]
    out: dict[str, Any] = {
        "ruleId": r["requirement"],
        "ruleIndex": rule_index,
        "kind": kind,
        "level": LEVEL[r["severity"]] if kind == "fail" else "none",
        "message": {"text": f"{r['title']}: {summary_text(r)}"},
        "partialFingerprints": {"fedhardenKey/v1": r["key"]},
        "properties": {
            "key": r["key"],
            "status": r["status"],
            "due": r["due"],
            "overdue": r["overdue"],
            "evidence": [evidence_line(e) for e in r["evidence"]],
        },
    }
    locations: list[dict[str, Any]] = []
    for evidence in r["evidence"]:
        place = location(evidence["where"])
        if place is None:
            continue
        physical: dict[str, Any] = {"artifactLocation": {"uri": place[0].lstrip("/"), "uriBaseId": ROOT}}
        if place[1]:
            physical["region"] = {"startLine": place[1]}
        if physical not in [loc["physicalLocation"] for loc in locations]:
            locations.append({"physicalLocation": physical})
    if locations:
        out["locations"] = locations
    if baseline_state is not None:
        out["baselineState"] = baseline_state
    waiver = r.get("waiver")
    if waiver and (r["status"] == "waived" or waiver["state"] == "expired"):
        accepted = r["status"] == "waived"
        justification = waiver["justification"] if accepted else f"waiver expired on {waiver['expires']}: {waiver['justification']}"
        props = {k: waiver[k] for k in ("approver", "start", "expires", "ticket", "state", "source") if waiver.get(k)}
        out["suppressions"] = [{"kind": "external", "status": "accepted" if accepted else "rejected",
                                "justification": justification, "properties": props}]
    return out


def build(report: Report, baseline: Report | None = None) -> dict[str, Any]:
    urls = {d["id"]: d.get("url", "") for d in report["directives"]}
    current = sorted(report["results"], key=lambda r: (r["directive"], natural(r["key"])))
    absent: list[Result] = []
    previous: dict[tuple[str, str], Result] = {}
    if baseline is not None:
        previous = {_identity(r): r for r in baseline.get("results", [])}
        now = {_identity(r) for r in current}
        absent = [r for ident, r in sorted(previous.items(), key=lambda i: natural(i[0][0]))
                  if ident not in now and KIND[r["status"]] == "fail"]
    rules: list[dict[str, Any]] = []
    index: dict[str, int] = {}
    for r in [*current, *absent]:
        if r["requirement"] not in index:
            index[r["requirement"]] = len(rules)
            rules.append(_rule(r, urls))
    results = [_result(r, index[r["requirement"]], _baseline_state(r, previous) if baseline is not None else None)
               for r in current]
    results += [_result(r, index[r["requirement"]], "absent") for r in absent]
    scan = report["scan"]
    invocation: dict[str, Any] = {
        "executionSuccessful": True,
        "startTimeUtc": scan["started_at"],
        "endTimeUtc": scan["finished_at"],
        "machine": report["host"]["hostname"],
    }
    if report.get("warnings"):
        invocation["toolExecutionNotifications"] = [
            {"level": "warning", "message": {"text": safe(w)}} for w in report["warnings"]]
    run: dict[str, Any] = {
        "tool": {"driver": {
            "name": "fedharden",
            "version": report["agent"]["version"],
            "semanticVersion": report["agent"]["version"],
            "rules": rules,
        }},
        "automationDetails": {"id": f"fedharden/{report['host']['id']}/{report['report_id']}"},
        "invocations": [invocation],
        "originalUriBaseIds": {ROOT: {"uri": _root_uri(report["host"]["target"]),
                                      "description": {"text": "root of the scanned target"}}},
        "results": results,
        "properties": {
            # The host's status and each directive's, as the report's summary states them.
            "status": overall_status(report).value,
            "directiveStatus": {d["id"]: directive_status(report, d["id"]).value for d in report["directives"]},
            "host": report["host"],
            "summary": report["summary"],
            "directives": report["directives"],
        },
    }
    if baseline is not None:
        run["baselineGuid"] = _guid(baseline["report_id"])
    if "waivers" in scan:
        run["properties"]["waivers"] = scan["waivers"]
    if "tailoring" in scan:
        run["properties"]["tailoring"] = scan["tailoring"]
    return {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}


def _guid(report_id: str) -> str:
    """SARIF wants a GUID for the baseline run; derive a stable one from its report id."""
    import uuid

    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"fedharden:report:{report_id}"))


def render(report: Report, color: bool = False, *, baseline: Report | None = None) -> str:
    return json_safe(json.dumps(build(report, baseline), indent=2, ensure_ascii=False)) + "\n"

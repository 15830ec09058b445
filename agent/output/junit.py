"""JUnit XML for CI pipelines: one test suite per directive, one test case per result
(a requirement, or one finding of a per-finding requirement).

fail -> <failure>, error -> <error>, and waived, not_applicable and manual -> <skipped>
with the reason, so a pipeline fails exactly when the scan is non-compliant. Each suite's
properties carry its directive's ``status`` and the host's ``host_status`` (agent.contract).
"""
from __future__ import annotations

import xml.etree.ElementTree as ET

from agent.contract import Report, Result
from agent.output.common import directive_status, evidence_text, ordered, overall_status, safe, summary_text, xml_text


def _seconds(report: Report) -> str:
    return f"{report['scan'].get('duration_ms', 0) / 1000:.3f}"


def _case(suite: ET.Element, r: Result) -> None:
    case = ET.SubElement(suite, "testcase", {"classname": r["directive"], "name": f"{r['key']}: {r['title']}",
                                             "time": "0"})
    props = ET.SubElement(case, "properties")
    for name, value in (("severity", r["severity"]), ("status", r["status"]), ("due", r["due"] or ""),
                        ("overdue", str(r["overdue"]).lower())):
        ET.SubElement(props, "property", {"name": name, "value": value})
    detail = evidence_text(r)
    if r.get("remediation") and r["status"] in ("fail", "waived"):
        detail += "\n\nremediation:\n" + r["remediation"]
    status = r["status"]
    if status == "fail":
        due = f" (due {r['due']}{', OVERDUE' if r['overdue'] else ''})" if r["due"] else ""
        ET.SubElement(case, "failure", {"message": summary_text(r) + due, "type": r["severity"]}).text = detail
    elif status == "error":
        ET.SubElement(case, "error", {"message": summary_text(r), "type": "error"}).text = detail
    elif status in ("waived", "not_applicable", "manual"):
        ET.SubElement(case, "skipped", {"message": f"{status.replace('_', ' ')}: {summary_text(r)}"})
    if detail:
        ET.SubElement(case, "system-out").text = detail


def build(report: Report) -> ET.Element:
    root = ET.Element("testsuites", {"name": f"fedharden {safe(report['host']['hostname'])}"})
    by_directive: dict[str, list[Result]] = {}
    for r in ordered(report["results"]):
        by_directive.setdefault(r["directive"], []).append(r)
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for directive in report["directives"]:
        results = by_directive.get(directive["id"], [])
        counts = {
            "tests": len(results),
            "failures": sum(r["status"] == "fail" for r in results),
            "errors": sum(r["status"] == "error" for r in results),
            "skipped": sum(r["status"] in ("waived", "not_applicable", "manual") for r in results),
        }
        suite = ET.SubElement(root, "testsuite", {
            "name": directive["id"], "hostname": safe(report["host"]["hostname"]),
            "timestamp": report["scan"]["started_at"], "time": "0", **{k: str(v) for k, v in counts.items()},
        })
        props = ET.SubElement(suite, "properties")
        for name, value in (("title", directive["title"]), ("digest", directive["digest"]),
                            ("report_id", report["report_id"]), ("host_id", report["host"]["id"]),
                            ("status", directive_status(report, directive["id"]).value),
                            ("host_status", overall_status(report).value)):
            ET.SubElement(props, "property", {"name": name, "value": value})
        for r in results:
            _case(suite, r)
        for k in totals:
            totals[k] += counts[k]
    root.attrib.update({k: str(v) for k, v in totals.items()})
    root.set("time", _seconds(report))
    return root


def _clean(element: ET.Element) -> None:
    for node in element.iter():
        if node.text is not None:
            node.text = xml_text(node.text)
        for key, value in node.attrib.items():
            node.attrib[key] = xml_text(value)


def render(report: Report, color: bool = False, *, baseline: Report | None = None) -> str:
    root = build(report)
    _clean(root)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"

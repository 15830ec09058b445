"""The sysadmin's view: results grouped by directive, evidence, deadlines, a summary.

Each evidence line is marked ``ok``, ``violation`` or ``info``; a FAIL shows its violations
first and the first lines of its remediation; each directive and the host end with their
status (agent.contract) as the report's summary states it. Every text from the scanned host
is shown with its control characters escaped (common.safe).
"""
from __future__ import annotations

import re
import shutil
import textwrap
from typing import Any

import click

from agent.contract import DirectiveRef, DirectiveSummary, Evidence, Feed, HostStatus, Report, Result, Summary
from agent.output.common import directive_status, overall_status, safe, safe_lines

STYLE: dict[str, dict[str, Any]] = {
    "pass": {"fg": "green"},
    "fail": {"fg": "red", "bold": True},
    "error": {"fg": "magenta"},
    "not_applicable": {"fg": "bright_black"},
    "waived": {"fg": "cyan"},
    "manual": {"fg": "yellow"},
}
LABEL = {"pass": "PASS", "fail": "FAIL", "error": "ERROR", "not_applicable": "N/A", "waived": "WAIVED", "manual": "MANUAL"}
ORDER = {"fail": 0, "error": 1, "manual": 2, "waived": 3, "pass": 4, "not_applicable": 5}
MAX_EVIDENCE = 5
REMEDIATION_LINES = 3
VERDICT_STYLE: dict[str, dict[str, Any]] = {
    "ok": {"fg": "green"}, "violation": {"fg": "red", "bold": True}, "info": {"fg": "bright_black"},
}
HOST_STYLE: dict[HostStatus, dict[str, Any]] = {
    HostStatus.NON_COMPLIANT: STYLE["fail"], HostStatus.INCOMPLETE: STYLE["error"],
    HostStatus.NEEDS_REVIEW: STYLE["manual"], HostStatus.COMPLIANT: STYLE["pass"],
    HostStatus.NOT_APPLICABLE: STYLE["not_applicable"],
}
INDENT = " " * 10


def natural(key: str) -> list[object]:
    """Sort BOD-23-02.2 before BOD-23-02.10."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", key)]


def _due(result: Result) -> str:
    if not result["due"]:
        return ""
    if result["overdue"]:
        return f"{result['due']} OVERDUE"
    if result["status"] in ("pass", "not_applicable"):
        return result["due"]
    days = result["days_left"]
    return f"{result['due']} ({days} days left)" if days is not None and days >= 0 else result["due"]


def render(report: Report, color: bool = False, *, baseline: Report | None = None) -> str:
    width = max(80, min(shutil.get_terminal_size((120, 24)).columns, 160))

    def paint(text: str, style: dict[str, Any]) -> str:
        return click.style(text, **style) if color else text

    lines: list[str] = []
    host = report["host"]
    os_name = safe(host.get("os", {}).get("pretty_name", ""))
    target = f"{safe(host['target'])}{', ' + os_name if os_name else ''}"
    lines.append(f"fedharden scan of {safe(host['hostname'])} ({target})")
    lines.append(f"at {report['scan']['finished_at']}{'' if report['scan']['live'] else ' - offline image: runtime state not judged'}")
    for warning in report.get("warnings", []):
        lines.append(paint(f"warning: {safe(warning)}", STYLE["manual"]))
    if report["scan"].get("feeds"):
        lines.append("feeds: " + "; ".join(safe(_feed(f)) for f in report["scan"]["feeds"]))
    by_directive: dict[str, list[Result]] = {}
    for r in report["results"]:
        by_directive.setdefault(r["directive"], []).append(r)
    idw = max((len(safe(r["key"])) for r in report["results"]), default=12)
    for directive in report["directives"]:
        results = sorted(by_directive.get(directive["id"], []), key=lambda r: (ORDER[r["status"]], natural(r["key"])))
        lines.append("")
        heading = f"{safe(directive['id'])}  {safe(directive['title'])}"
        lines.append(click.style(heading, bold=True) if color else heading)
        for r in results:
            lines.extend(_result(r, directive, width, idw, paint))
        summary = report["summary"]["directives"].get(directive["id"])
        status = directive_status(report, directive["id"])
        counted = f": {_summary_line(summary)}" if summary else ""
        lines.append(f"  {paint(status.label, HOST_STYLE[status])}{counted}")
    total = report["summary"]
    status = overall_status(report)
    lines.append("")
    lines.append("Overall: " + _summary_line(total))
    lines.append(f"Status: {paint(status.label.upper(), {**HOST_STYLE[status], 'bold': True})} - {status.meaning}")
    return "\n".join(lines) + "\n"


def _result(r: Result, directive: DirectiveRef, width: int, idw: int, paint: Any) -> list[str]:
    """One result: its row, its evidence (marked), why, and for a FAIL how to fix it."""
    lines: list[str] = []
    due = _due(r)
    title_width = max(20, width - 8 - idw - 2 - len(due) - 2)
    title = textwrap.shorten(safe(r["title"]), title_width, placeholder="...")
    label = paint(f"{LABEL[r['status']]:<7}", STYLE[r["status"]])
    due_text = paint(due, STYLE["fail"]) if r["overdue"] else due
    lines.append(f"  {label} {safe(r['key']):<{idw}}  {title:<{title_width}}  {due_text}".rstrip())
    # A PASS shows what satisfied it (its first line: the deciding ones come first).
    evidence = r["evidence"] if r["status"] != "pass" else r["evidence"][:1]
    for ev in evidence[:MAX_EVIDENCE]:
        verdict = ev.get("verdict") or "info"
        text = _evidence_text(ev)
        body = textwrap.wrap(text, width - 10 - 11, break_on_hyphens=False) or [""]
        lines.append(INDENT + paint(f"{verdict:<10}", VERDICT_STYLE[verdict]) + " " + body[0])
        lines.extend(INDENT + " " * 11 + more for more in body[1:])
    if len(evidence) > MAX_EVIDENCE:
        lines.append(INDENT + f"... and {len(evidence) - MAX_EVIDENCE} more (see --format json)")
    if r.get("message") and r["status"] != "pass":
        lines.append(INDENT + f"why: {safe(r['message'])}")
    if r["status"] == "fail":
        lines.extend(_remediation(r, directive))
    return lines


def _evidence_text(ev: Evidence) -> str:
    """``expected X; found Y  [where]``; a line that expects nothing is ``found Y``."""
    found = safe(ev["actual"])
    text = f"expected {safe(ev['expected'])}; found {found}" if ev["expected"] else f"found {found}"
    return f"{text}  [{safe(ev['where'])}]" if ev["where"] else text


def _remediation(r: Result, directive: DirectiveRef) -> list[str]:
    """The first lines of how to fix it, and where the full text is."""
    steps = [line.strip() for line in safe_lines(r.get("remediation", "").strip()).split("\n") if line.strip()]
    where = f"fedharden directives show {safe(directive['id'])}"
    if not steps:
        return [INDENT + f"fix: see {where}"]
    lines = [INDENT + "fix: " + steps[0]]
    lines.extend(INDENT + "     " + step for step in steps[1:REMEDIATION_LINES])
    more = " (continued)" if len(steps) > REMEDIATION_LINES else ""
    lines.append(INDENT + f"     full text{more}: {where}")
    return lines


def _feed(feed: Feed) -> str:
    hours = feed.get("age_hours")
    age = "age unknown" if hours is None else (f"{hours:.0f} hours old" if hours < 72 else f"{hours / 24:.0f} days old")
    return f"{feed.get('title', feed['name'])} {feed['version']} ({age}{', stale' if feed.get('stale') else ''})"


def _summary_line(summary: Summary | DirectiveSummary) -> str:
    c = summary["counts"]
    others = [f"{c[k]} {k.replace('_', ' ')}" for k in ("error", "manual", "waived", "not_applicable") if c[k]]
    score = "n/a" if summary["score"] is None else f"{summary['score'] * 100:.0f}%"
    text = f"{c['pass']} pass, {c['fail']} fail"
    if others:
        text += f", {sum(c[k] for k in ('error', 'manual', 'waived', 'not_applicable'))} other ({', '.join(others)})"
    text += f"; score {score}"
    if summary["overdue"]:
        text += f"; {summary['overdue']} overdue"
    return text

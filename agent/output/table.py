"""The sysadmin's view: results grouped by directive, evidence, deadlines, a summary."""
from __future__ import annotations

import re
import shutil
import textwrap
from typing import Any

import click

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


def natural(key: str) -> list[object]:
    """Sort BOD-23-02.2 before BOD-23-02.10."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", key)]


def _due(result: dict[str, Any]) -> str:
    if not result["due"]:
        return ""
    if result["overdue"]:
        return f"{result['due']} OVERDUE"
    if result["status"] in ("pass", "not_applicable"):
        return result["due"]
    days = result["days_left"]
    return f"{result['due']} ({days} days left)" if days is not None and days >= 0 else result["due"]


def render(report: dict[str, Any], color: bool = False, *, baseline: dict[str, Any] | None = None) -> str:
    width = max(80, min(shutil.get_terminal_size((120, 24)).columns, 160))
    paint = (lambda text, status: click.style(text, **STYLE[status])) if color else (lambda text, status: text)
    lines: list[str] = []
    host = report["host"]
    os_name = host.get("os", {}).get("pretty_name", "")
    lines.append(f"fedharden scan of {host['hostname']} ({host['target']}{', ' + os_name if os_name else ''})")
    lines.append(f"at {report['scan']['finished_at']}{'' if report['scan']['live'] else ' - offline image: runtime state not judged'}")
    for warning in report.get("warnings", []):
        lines.append(paint(f"warning: {warning}", "manual"))
    if report["scan"].get("feeds"):
        lines.append("feeds: " + "; ".join(_feed(f) for f in report["scan"]["feeds"]))
    by_directive: dict[str, list[dict[str, Any]]] = {}
    for r in report["results"]:
        by_directive.setdefault(r["directive"], []).append(r)
    idw = max((len(r["key"]) for r in report["results"]), default=12)
    for directive in report["directives"]:
        results = sorted(by_directive.get(directive["id"], []), key=lambda r: (ORDER[r["status"]], natural(r["key"])))
        lines.append("")
        lines.append(click.style(f"{directive['id']}  {directive['title']}", bold=True) if color
                     else f"{directive['id']}  {directive['title']}")
        for r in results:
            due = _due(r)
            title_width = max(20, width - 8 - idw - 2 - len(due) - 2)
            title = textwrap.shorten(r["title"], title_width, placeholder="...")
            label = paint(f"{LABEL[r['status']]:<7}", r["status"])
            due_text = paint(due, "fail") if r["overdue"] else due
            lines.append(f"  {label} {r['key']:<{idw}}  {title:<{title_width}}  {due_text}".rstrip())
            evidence = r["evidence"] if r["status"] != "pass" else r["evidence"][:1]
            for ev in evidence[:MAX_EVIDENCE]:
                text = f"expected {ev['expected']}; found {ev['actual']}" if ev["expected"] else f"found {ev['actual']}"
                if ev["where"]:
                    text += f"  [{ev['where']}]"
                lines.append(textwrap.fill(text, width, initial_indent=" " * 10, subsequent_indent=" " * 12,
                                           break_on_hyphens=False))
            if len(evidence) > MAX_EVIDENCE:
                lines.append(" " * 10 + f"... and {len(evidence) - MAX_EVIDENCE} more (see --format json)")
            if r.get("message") and r["status"] != "pass":
                lines.append(" " * 10 + f"why: {r['message']}")
        summary = report["summary"]["directives"].get(directive["id"])
        if summary:
            lines.append("  " + _summary_line(summary))
    total = report["summary"]
    lines.append("")
    lines.append("Overall: " + _summary_line(total))
    return "\n".join(lines) + "\n"


def _feed(feed: dict[str, Any]) -> str:
    hours = feed.get("age_hours")
    age = "age unknown" if hours is None else (f"{hours:.0f} hours old" if hours < 72 else f"{hours / 24:.0f} days old")
    return f"{feed.get('title', feed['name'])} {feed['version']} ({age}{', stale' if feed.get('stale') else ''})"


def _summary_line(summary: dict[str, Any]) -> str:
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

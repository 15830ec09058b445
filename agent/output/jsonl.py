"""JSON Lines for SIEMs: one event per result, one line each, with stable field names.

Every event carries every field of FIELDS (null when it does not apply), so a SIEM can map
them once: ``event_type`` is always ``fedharden.result`` and ``event_version`` changes only
when a field changes meaning or disappears (``directive_status`` and ``host_status`` were
added at the end).
"""
from __future__ import annotations

import json
from typing import Any

from agent.contract import Report, Waiver
from agent.output.common import directive_status, json_safe, ordered, overall_status

EVENT_TYPE = "fedharden.result"
EVENT_VERSION = "1"
FIELDS = (
    "event_type", "event_version", "timestamp", "report_id", "agent_version",
    "host_id", "hostname", "target", "agency", "host_tags", "os",
    "directive", "requirement", "key", "title", "severity", "status", "message",
    "finding", "cve", "due", "overdue", "days_left", "evidence", "references", "remediation",
    "waiver_state", "waiver_expires", "waiver_approver", "waiver_ticket", "waiver_justification",
    "directive_status", "host_status",
)


def events(report: Report) -> list[dict[str, Any]]:
    host = report["host"]
    out = []
    for r in ordered(report["results"]):
        waiver: Waiver | dict[str, str] = r.get("waiver") or {}
        event = {
            "event_type": EVENT_TYPE,
            "event_version": EVENT_VERSION,
            "timestamp": report["scan"]["finished_at"],
            "report_id": report["report_id"],
            "agent_version": report["agent"]["version"],
            "host_id": host["id"],
            "hostname": host["hostname"],
            "target": host["target"],
            "agency": host.get("agency"),
            "host_tags": host.get("tags", []),
            "os": host.get("os", {}).get("pretty_name"),
            "directive": r["directive"],
            "requirement": r["requirement"],
            "key": r["key"],
            "title": r["title"],
            "severity": r["severity"],
            "status": r["status"],
            "message": r.get("message", ""),
            "finding": r.get("finding"),
            "cve": r.get("cve"),
            "due": r["due"],
            "overdue": r["overdue"],
            "days_left": r.get("days_left"),
            "evidence": r["evidence"],
            "references": r["references"],
            "remediation": r.get("remediation", ""),
            "waiver_state": waiver.get("state"),
            "waiver_expires": waiver.get("expires"),
            "waiver_approver": waiver.get("approver"),
            "waiver_ticket": waiver.get("ticket"),
            "waiver_justification": waiver.get("justification"),
            "directive_status": directive_status(report, r["directive"]).value,
            "host_status": overall_status(report).value,
        }
        out.append({k: event[k] for k in FIELDS})
    return out


def render(report: Report, color: bool = False, *, baseline: Report | None = None) -> str:
    return "".join(_line(e) for e in events(report))


def _line(event: dict[str, Any]) -> str:
    # U+2028/U+2029 are valid inside JSON strings but split lines for some readers; C1 controls
    # and bidirectional overrides would act on a terminal that shows the file (json_safe).
    return json_safe(json.dumps(event, ensure_ascii=False, separators=(",", ":"))) + "\n"

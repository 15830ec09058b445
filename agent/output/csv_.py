"""CSV: one row per result, for spreadsheets. Columns are fixed (COLUMNS); lists are joined
with "; " and evidence lines with newlines (quoted per RFC 4180 by the csv module).

Text cells that a spreadsheet would run as a formula (starting with = + - @ or a control
character) are prefixed with a single quote, since evidence comes from the scanned host; control characters in any cell are escaped.
``directive_status`` and ``host_status`` (agent.contract) close each row.
"""
from __future__ import annotations

import csv
import io

from agent.contract import Report, Waiver
from agent.output.common import directive_status, evidence_text, ordered, overall_status, safe, safe_lines

COLUMNS = (
    "host_id", "hostname", "directive", "requirement", "key", "title", "severity", "status", "message",
    "evidence", "due", "overdue", "days_left", "nist_800_53", "cis", "stig", "ssg", "remediation",
    "waiver_state", "waiver_expires", "waiver_approver", "waiver_ticket", "waiver_justification",
    "directive_status", "host_status",
)
# Cells whose line breaks are the renderer's own (evidence lines, remediation steps); every
# other cell has its control characters escaped (common.safe), as text from the host may.
_MULTILINE = {"evidence", "remediation"}
_FORMULA = ("=", "+", "-", "@", "\t", "\r")
_NUMERIC = {"days_left"}


def _safe(column: str, value: str) -> str:
    if column not in _NUMERIC and value.startswith(_FORMULA):
        return "'" + value
    return value


def rows(report: Report) -> list[dict[str, str]]:
    """The rows as written (after formula guarding), for tests and other tabular outputs."""
    out = []
    host_status = overall_status(report).value
    for r in ordered(report["results"]):
        refs = r["references"]
        waiver: Waiver | dict[str, str] = r.get("waiver") or {}
        row = {
            "host_id": report["host"]["id"],
            "hostname": report["host"]["hostname"],
            "directive": r["directive"],
            "requirement": r["requirement"],
            "key": r["key"],
            "title": r["title"],
            "severity": r["severity"],
            "status": r["status"],
            "message": r.get("message", ""),
            "evidence": evidence_text(r),
            "due": r["due"] or "",
            "overdue": "true" if r["overdue"] else "false",
            "days_left": "" if r.get("days_left") is None else str(r["days_left"]),
            "nist_800_53": "; ".join(refs.get("nist_800_53", [])),
            "cis": "; ".join(refs.get("cis", [])),
            "stig": "; ".join(refs.get("stig", [])),
            "ssg": "; ".join(refs.get("ssg", [])),
            "remediation": r.get("remediation", ""),
            "waiver_state": waiver.get("state", ""),
            "waiver_expires": waiver.get("expires", ""),
            "waiver_approver": waiver.get("approver", ""),
            "waiver_ticket": waiver.get("ticket", ""),
            "waiver_justification": waiver.get("justification", ""),
            "directive_status": directive_status(report, r["directive"]).value,
            "host_status": host_status,
        }
        out.append({k: _safe(k, v if k == "evidence" else safe_lines(v) if k in _MULTILINE else safe(v))
                    for k, v in row.items()})
    return out


def render(report: Report, color: bool = False, *, baseline: Report | None = None) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows(report))
    return buffer.getvalue()

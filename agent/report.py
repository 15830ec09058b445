"""The report: results of one scan in the shape of the versioned JSON Schema
(agent/schemas/report.schema.json), which is the only contract with the collector."""
from __future__ import annotations

import datetime as dt
from dataclasses import field
from typing import Any, Literal, Mapping

from checks.model import Evidence, Status
from checks.record import record

SCHEMA_VERSION: Literal["1.0"] = "1.0"


@record
class Result:
    """One requirement's (or finding's) result in a report."""

    key: str  # unique in a report: the requirement id, or requirement#finding
    directive: str
    requirement: str
    title: str
    severity: str
    status: Status
    evidence: tuple[Evidence, ...]
    due: dt.date | None
    overdue: bool
    days_left: int | None
    references: Mapping[str, list[str]]
    remediation: str = ""
    message: str = ""
    finding: str = ""
    cve: str = ""
    fields: Mapping[str, object] = field(default_factory=dict)
    waiver: Mapping[str, object] | None = None  # the waiver that matched (active, expired or pending)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "key": self.key,
            "directive": self.directive,
            "requirement": self.requirement,
            "title": self.title,
            "severity": self.severity,
            "status": self.status.value,
            "message": self.message,
            "evidence": [e.to_json() for e in self.evidence],
            "due": self.due.isoformat() if self.due else None,
            "overdue": self.overdue,
            "days_left": self.days_left,
            "references": {k: list(v) for k, v in self.references.items()},
            "remediation": self.remediation,
        }
        if self.finding:
            out["finding"] = self.finding
        if self.cve:
            out["cve"] = self.cve
        if self.fields:
            out["fields"] = dict(self.fields)
        if self.waiver is not None:
            out["waiver"] = dict(self.waiver)
        return out


def valid_text(value: Any) -> Any:
    """``value`` with every string made valid Unicode: a file name that is not UTF-8 comes from
    the host as lone surrogates (os.fsdecode), which no JSON document, database or terminal
    takes; each undecodable byte becomes the four characters ``\\xNN``."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
            return value
        except UnicodeEncodeError:
            return "".join(f"\\x{ord(c) - 0xDC00:02x}" if "\udc80" <= c <= "\udcff"
                           else f"\\u{ord(c):04x}" if "\ud800" <= c <= "\udfff" else c for c in value)
    # ASCII strings and plain scalars, most of a report, are kept without a call each.
    if isinstance(value, dict):
        return {k if type(k) is str and k.isascii() else valid_text(k):
                v if type(v) in _PLAIN or type(v) is str and v.isascii() else valid_text(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [v if type(v) in _PLAIN or type(v) is str and v.isascii() else valid_text(v) for v in value]
    return value


_PLAIN = frozenset({int, float, bool, type(None)})

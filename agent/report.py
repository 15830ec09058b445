"""The report: results of one scan in the shape of the versioned JSON Schema
(agent/schemas/report.schema.json), which is the only contract with the collector."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any, Iterable, Mapping

from agent.contract import HostStatus, host_status, worst
from checks.model import Evidence, Status

SCHEMA_VERSION = "1.0"
STATUSES = tuple(s.value for s in Status)


@dataclass(frozen=True)
class Result:
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


def counts(statuses: Iterable[str]) -> dict[str, int]:
    out = dict.fromkeys(STATUSES, 0)
    for status in statuses:
        out[status] += 1
    return out


def score(c: Mapping[str, int]) -> float | None:
    """pass / (pass + fail); waived, error, manual and not_applicable are shown, not scored."""
    judged = c["pass"] + c["fail"]
    return round(c["pass"] / judged, 4) if judged else None


def summarize(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts, score and host status per directive and overall (agent.contract.host_status);
    the overall status is the worst of the directives', so an unjudged directive is never
    hidden by the others."""
    by_directive: dict[str, list[dict[str, Any]]] = {}
    for r in results:
        by_directive.setdefault(r["directive"], []).append(r)
    total = counts(r["status"] for r in results)
    directives = {
        d: {
            "counts": (c := counts(r["status"] for r in rs)),
            "score": score(c),
            "overdue": sum(1 for r in rs if r["overdue"]),
            "status": host_status(c).value,
        }
        for d, rs in sorted(by_directive.items())
    }
    status = worst(HostStatus(d["status"]) for d in directives.values())
    return {
        "total": len(results),
        "counts": total,
        "score": score(total),
        "overdue": sum(1 for r in results if r["overdue"]),
        "status": status.value,
        "compliant": status is HostStatus.COMPLIANT,
        "directives": directives,
    }


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
    if isinstance(value, dict):
        return {valid_text(k): valid_text(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [valid_text(v) for v in value]
    return value


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical(value: Any) -> bytes:
    """UTF-8 JSON with sorted keys and no spaces (one encoder for all: json.dumps with these
    options would build a new one per call, a sixth of the time for a result)."""
    return _CANONICAL.encode(value).encode()


DIGEST_PREFIX = "sum256:"
_MOD = 1 << 256


def result_hash(doc: bytes) -> int:
    """One result's share of the state digest: SHA-256 of its canonical JSON, as an integer."""
    return int.from_bytes(hashlib.sha256(doc).digest(), "big")


def state_digest(results: Iterable[Mapping[str, Any]]) -> str:
    """The digest both sides compute over a full state (see the schema's description): the sum
    modulo 2**256 of every result's hash. A sum, not a hash of the whole list, so that the
    collector checks a delta from the stored digest and the rows the delta replaces alone,
    whatever the size of the state (agent and collector keys are unique, so a sum over a set)."""
    return digest_text(sum(result_hash(canonical(r)) for r in results))


def digest_text(total: int) -> str:
    return f"{DIGEST_PREFIX}{total % _MOD:064x}"


def digest_value(digest: str) -> int | None:
    """The sum a digest text stands for; None for a text of another form (an older agent's)."""
    if not digest.startswith(DIGEST_PREFIX) or len(digest) != len(DIGEST_PREFIX) + 64:
        return None
    try:
        return int(digest[len(DIGEST_PREFIX):], 16)
    except ValueError:
        return None


@lru_cache(maxsize=None)
def schema() -> dict[str, Any]:
    return json.loads(resources.files("agent").joinpath("schemas/report.schema.json").read_text())


def validation_errors(report: Any) -> list[str]:
    """Every schema violation as ``$.json.path: message``; empty when the report is valid."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema(), format_checker=jsonschema.FormatChecker())
    out = []
    for error in sorted(validator.iter_errors(report), key=lambda e: list(map(str, e.absolute_path))):
        path = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
        out.append(f"{path}: {error.message}")
    return out

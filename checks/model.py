"""Result vocabulary shared by every check type."""
from __future__ import annotations

import datetime as dt
from dataclasses import field
from enum import Enum
from typing import Mapping

from checks.record import record, replace


class Status(str, Enum):
    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"  # could not evaluate; the message says why
    NOT_APPLICABLE = "not_applicable"  # the message says why
    WAIVED = "waived"  # an unexpired waiver covers a fail
    MANUAL = "manual"  # needs a human attestation or the network side

    def __str__(self) -> str:
        return self.value


class Severity(str, Enum):
    """A requirement's severity, worst first: the order renderers sort by and ``--min-severity``
    compares with."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    def __str__(self) -> str:
        return self.value

    @property
    def rank(self) -> int:
        """0 is the most severe."""
        return _SEVERITY_ORDER.index(self)

    @property
    def label(self) -> str:
        return self.value.upper()


_SEVERITY_ORDER = tuple(Severity)


class Verdict(str, Enum):
    """What one evidence line says about its check: it satisfied it, it violated it, or it is
    context (a summary, a reason, a deadline) that decided nothing by itself."""

    OK = "ok"
    VIOLATION = "violation"
    INFO = "info"
    UNSAID = ""  # not said by the check type: checks.registry.evaluate derives it from the status

    def __str__(self) -> str:
        return self.value

    @classmethod
    def of(cls, ok: bool) -> Verdict:
        return cls.OK if ok else cls.VIOLATION


@record
class Evidence:
    """What was expected, what was found, where (file:line, or the command), and whether it
    satisfied the check (``verdict``; positional fields unchanged, the verdict last with a
    default, so existing constructors keep working)."""

    expected: str
    actual: str
    where: str = ""
    verdict: Verdict = Verdict.UNSAID

    def to_json(self) -> dict[str, str]:
        return {"expected": self.expected, "actual": self.actual, "where": self.where,
                "verdict": Verdict(self.verdict).value or Verdict.INFO.value}

    def judged(self, verdict: Verdict) -> Evidence:
        """This line with a verdict."""
        return replace(self, verdict=verdict)


@record
class Finding:
    """One item of a catalog-driven requirement (for example one KEV CVE on the host).

    Each finding becomes its own result row, with its own due date.
    """

    id: str
    status: Status
    evidence: tuple[Evidence, ...]
    message: str = ""
    due: dt.date | None = None
    fields: Mapping[str, object] = field(default_factory=dict)


@record
class Outcome:
    """What a check concluded: a status, the evidence for it, and per-finding results."""

    status: Status
    evidence: tuple[Evidence, ...] = ()
    message: str = ""
    findings: tuple[Finding, ...] = ()

    @classmethod
    def of(cls, ok: bool, evidence: tuple[Evidence, ...] | list[Evidence], message: str = "") -> Outcome:
        return cls(Status.PASS if ok else Status.FAIL, tuple(evidence), message)


# Which lines a status shows first: a FAIL its violations, a PASS what satisfied it.
_FIRST = {Status.FAIL: Verdict.VIOLATION, Status.PASS: Verdict.OK}


def settle(status: Status, evidence: tuple[Evidence, ...]) -> tuple[Evidence, ...]:
    """Evidence with every verdict said and the deciding lines first. A line whose check type
    said nothing takes its result's sense (ok under a pass, a violation under a fail, context
    otherwise), unless it expects nothing: then it is context. The order is otherwise kept."""
    default = _FIRST.get(status, Verdict.INFO)

    def said_of(e: Evidence) -> Evidence:
        if Verdict(e.verdict) is not Verdict.UNSAID:
            return e
        return e.judged(default if e.expected else Verdict.INFO)

    said = tuple(said_of(e) for e in evidence)
    first = _FIRST.get(status)
    if first is None:
        return said
    return tuple(sorted(said, key=lambda e: Verdict(e.verdict) is not first))


def settled(outcome: Outcome) -> Outcome:
    """``settle`` applied to an outcome and each of its findings."""
    findings = tuple(replace(f, evidence=settle(f.status, f.evidence)) for f in outcome.findings)
    return replace(outcome, evidence=settle(outcome.status, outcome.evidence), findings=findings)

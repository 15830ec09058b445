"""Result vocabulary shared by every check type."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import Enum
from typing import Mapping


class Status(str, Enum):
    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"  # could not evaluate; the message says why
    NOT_APPLICABLE = "not_applicable"  # the message says why
    WAIVED = "waived"  # an unexpired waiver covers a fail
    MANUAL = "manual"  # needs a human attestation or the network side

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class Evidence:
    """What was expected, what was found, and where (file:line, or the command)."""

    expected: str
    actual: str
    where: str = ""

    def to_json(self) -> dict[str, str]:
        return {"expected": self.expected, "actual": self.actual, "where": self.where}


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class Outcome:
    status: Status
    evidence: tuple[Evidence, ...] = ()
    message: str = ""
    findings: tuple[Finding, ...] = ()

    @classmethod
    def of(cls, ok: bool, evidence: tuple[Evidence, ...] | list[Evidence], message: str = "") -> Outcome:
        return cls(Status.PASS if ok else Status.FAIL, tuple(evidence), message)

"""Loaded, validated directives."""
from __future__ import annotations

import datetime as dt
from typing import Any, Mapping

from checks.model import Severity
from directives.params import Parameter
from checks.record import record


@record
class Requirement:
    """One requirement of a directive, with its parameters' values substituted."""

    id: str
    title: str
    severity: str
    due: Any  # "YYYY-MM-DD", "per_finding", {"days_after_issued": N} or {"days_after_discovery": N}
    rationale: str
    remediation: str  # as written, or generated from a structured fix (checks.fixes.describe)
    references: Mapping[str, list[str]]
    check: Mapping[str, Any]
    only_if: Mapping[str, Any] | None
    directive_id: str
    issued: dt.date
    # When the requirement refers to tunable parameters: their ids, and the requirement as
    # written (before substitution) so a tailoring file can resolve it again with other values.
    parameters: tuple[str, ...] = ()
    template: Mapping[str, Any] | None = None
    fix: Mapping[str, Any] | None = None  # the structured fix or {type: manual, question}, if any

    def due_date(self) -> dt.date | None:
        """The requirement's deadline; None for per-finding deadlines (each finding has its own)
        and for deadlines counted from discovery (each failing result has its own)."""
        if isinstance(self.due, dict):
            if "days_after_issued" in self.due:
                return self.issued + dt.timedelta(days=int(self.due["days_after_issued"]))
            return None
        if self.due == "per_finding":
            return None
        return dt.date.fromisoformat(self.due)

    @property
    def days_after_discovery(self) -> int | None:
        """Days a failure may last from when it was first seen (BOD 23-02's 14 days), if so."""
        if isinstance(self.due, dict) and "days_after_discovery" in self.due:
            return int(self.due["days_after_discovery"])
        return None

    def due_text(self) -> str:
        """The deadline as a person reads it in a listing."""
        if (days := self.days_after_discovery) is not None:
            return f"{days} days after discovery"
        return str(self.due_date() or "per finding")


@record
class Directive:
    """A loaded, validated directive and its requirements."""

    id: str
    title: str
    issuer: str
    kind: str
    issued: dt.date
    url: str
    summary: str
    applies_to: Mapping[str, Any]  # os_family: [...]; roles: [...] with the check that shows one (evident)
    requirements: tuple[Requirement, ...]
    source: str  # path the directive was loaded from
    digest: str  # sha256 of the file's bytes: the report names exactly what was evaluated
    parameters: tuple[Parameter, ...] = ()  # tunable values, with their defaults
    version: str = ""  # as the directive declares it ("2"); "" when it declares none

    def parameter(self, pid: str) -> Parameter | None:
        return next((p for p in self.parameters if p.id == pid), None)


SEVERITIES = tuple(s.value for s in Severity)  # worst first

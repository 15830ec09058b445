"""Loaded, validated directives."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Mapping

from directives.params import Parameter


@dataclass(frozen=True)
class Requirement:
    id: str
    title: str
    severity: str
    due: Any  # "YYYY-MM-DD", "per_finding", or {"days_after_issued": N}
    rationale: str
    remediation: str
    references: Mapping[str, list[str]]
    check: Mapping[str, Any]
    only_if: Mapping[str, Any] | None
    directive_id: str
    issued: dt.date
    # When the requirement refers to tunable parameters: their ids, and the requirement as
    # written (before substitution) so a tailoring file can resolve it again with other values.
    parameters: tuple[str, ...] = ()
    template: Mapping[str, Any] | None = None

    def due_date(self) -> dt.date | None:
        """The requirement's deadline; None for per-finding deadlines (each finding has its own)."""
        if isinstance(self.due, dict):
            return self.issued + dt.timedelta(days=int(self.due["days_after_issued"]))
        if self.due == "per_finding":
            return None
        return dt.date.fromisoformat(self.due)


@dataclass(frozen=True)
class Directive:
    id: str
    title: str
    issuer: str
    kind: str
    issued: dt.date
    url: str
    summary: str
    applies_to: Mapping[str, list[str]]
    requirements: tuple[Requirement, ...]
    source: str  # path the directive was loaded from
    digest: str  # sha256 of the file's bytes: the report names exactly what was evaluated
    parameters: tuple[Parameter, ...] = ()  # tunable values, with their defaults

    def parameter(self, pid: str) -> Parameter | None:
        return next((p for p in self.parameters if p.id == pid), None)


SEVERITIES = ("critical", "high", "medium", "low")

"""Waivers: accepted risks, kept in their own YAML file beside the directives.

A waiver names a requirement (optionally one finding of it and the hosts or tags it is
scoped to), a justification, who approved it, when it starts and when it expires. The
file is validated against ``schemas/waivers.schema.json`` and every requirement id must
exist in the loaded directives; problems are reported as ``file:line: $.path: message``.

Applying waivers to results is the agent's job (agent.waivers); this module only loads
and describes them.
"""
from __future__ import annotations

import datetime as dt
import fnmatch
from typing import Any, Collection, Iterable

from directives.errors import WaiverError
from directives.yamldoc import YamlDoc, read_text, schema_validator
from checks.record import record

ACTIVE, EXPIRED, PENDING = "active", "expired", "pending"


@record
class Waiver:
    """An accepted risk: a requirement, why, who approved it, until when."""

    requirement: str
    justification: str
    expires: dt.date
    approver: str = ""
    start: dt.date | None = None
    ticket: str = ""
    finding: str = ""
    hosts: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    source: str = ""  # file:line of the waiver, so a report points back at it

    def state(self, today: dt.date) -> str:
        """``active`` from start through expires (inclusive), ``pending`` before, ``expired`` after."""
        if self.start and today < self.start:
            return PENDING
        return EXPIRED if today > self.expires else ACTIVE

    def scoped_to(self, hostname: str, host_id: str, tags: Iterable[str]) -> bool:
        """Whether the waiver's host and tag scope includes this host."""
        if self.hosts and not any(fnmatch.fnmatchcase(name, pattern)
                                  for pattern in self.hosts for name in (hostname, host_id)):
            return False
        return not self.tags or bool(set(self.tags) & set(tags))

    def covers(self, requirement: str, finding: str) -> bool:
        return requirement == self.requirement and (not self.finding or finding == self.finding)

    def to_json(self, today: dt.date) -> dict[str, Any]:
        out: dict[str, Any] = {
            "requirement": self.requirement,
            "justification": self.justification,
            "approver": self.approver,
            "start": self.start.isoformat() if self.start else None,
            "expires": self.expires.isoformat(),
            "ticket": self.ticket,
            "state": self.state(today),
            "source": self.source,
        }
        if self.finding:
            out["finding"] = self.finding
        if self.hosts:
            out["hosts"] = list(self.hosts)
        if self.tags:
            out["tags"] = list(self.tags)
        return out


def parse_waivers(text: str, name: str, requirements: Collection[str]) -> list[Waiver]:
    """Validate a waivers file against the schema and the known requirement ids."""
    doc = YamlDoc(text, name, WaiverError)
    if not isinstance(doc.data, dict):
        raise WaiverError([f"{name}:1: $: a waivers file must be a mapping with a 'waivers' list"])
    doc.validate(schema_validator("waivers.schema.json"))
    raw = doc.data.get("waivers")
    entries: list[Any] = raw if isinstance(raw, list) else []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            continue
        rid = entry.get("requirement")
        if isinstance(rid, str) and rid not in requirements:
            from difflib import get_close_matches  # only for a mistake: not on every scan's imports

            close = get_close_matches(rid, sorted(requirements), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            doc.problem(("waivers", i, "requirement"), f"unknown requirement id {rid}{hint}")
        start, expires = entry.get("start"), entry.get("expires")
        if isinstance(start, str) and isinstance(expires, str) and start > expires:
            doc.problem(("waivers", i, "expires"), f"expires ({expires}) is before start ({start})")
    doc.raise_problems()
    return [
        Waiver(
            requirement=e["requirement"], justification=e["justification"].strip(),
            expires=dt.date.fromisoformat(e["expires"]), approver=e.get("approver", "").strip(),
            start=dt.date.fromisoformat(e["start"]) if "start" in e else None, ticket=e.get("ticket", "").strip(),
            finding=e.get("finding", ""), hosts=tuple(e.get("hosts", ())), tags=tuple(e.get("tags", ())),
            source=doc.where(("waivers", i)),
        )
        for i, e in enumerate(entries)
    ]


def load_waivers(path: str, requirements: Collection[str]) -> list[Waiver]:
    """Load a waivers file; ``requirements`` are the ids of every loaded directive's requirements."""
    return parse_waivers(read_text(path, WaiverError), path, requirements)

"""end_of_support: the operating system release is within its vendor's security support.

From the shipped end-of-support table (fact ``os_lifecycle``) and the scan's clock:

- past the end of support, and of any extended programme: ``fail``;
- past regular support but within an extended programme (Debian LTS, Ubuntu Pro ESM, Red Hat
  ELS): ``manual`` - a person attests the host is enrolled and covered;
- within ``warn_days`` of the date that applies: ``manual`` - a person attests the upgrade
  or replacement is planned. ``manual`` is not scored, and shown with its reason: the status
  set has no "warning", and a release that is still supported is not a failure;
- otherwise ``pass``. A release the table does not list is an ``error`` saying so.
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Mapping

from checks.facts import FactKey, Facts, OsLifecycle
from checks.model import Evidence, Outcome, Status

LIFECYCLE = FactKey("os_lifecycle")
CLOCK = FactKey("clock")


class EndOfSupportCheck:
    name = "end_of_support"
    schema: Mapping[str, Any] = {
        "type": "object",
        "properties": {
            "type": {"const": "end_of_support"},
            "warn_days": {"type": "integer", "minimum": 0},
        },
        "required": ["type"],
        "additionalProperties": False,
    }

    def needs(self, params: Mapping[str, Any]) -> set[FactKey]:
        return {LIFECYCLE, CLOCK}

    def evaluate(self, params: Mapping[str, Any], facts: Facts) -> Outcome:
        info = facts.need(LIFECYCLE)
        assert isinstance(info, OsLifecycle)
        today = dt.datetime.fromisoformat(str(facts.need(CLOCK))).date()
        warn = dt.timedelta(days=int(params.get("warn_days", 90)))
        release = info.pretty_name or f"{info.os_id} {info.version_id}"
        entry = info.entry
        if entry is None:
            return Outcome(Status.ERROR, (Evidence("a release in the table", f"{release}: not listed", info.table),),
                           f"{release} is not in the end-of-support table; check the vendor's lifecycle page")
        end = dt.date.fromisoformat(entry.end_of_support)
        extended = dt.date.fromisoformat(entry.extended_until) if entry.extended_until else None
        actual = f"{entry.name}: security support ends {end}"
        if extended:
            actual += f", {entry.extended} until {extended}"
        evidence = (Evidence(f"supported on {today}", actual, info.table),)
        if today > (extended or end):
            return Outcome(Status.FAIL, evidence)
        if today > end:
            return Outcome(Status.MANUAL, evidence,
                           f"regular support ended on {end}; supported only if enrolled in {entry.extended} "
                           f"(until {extended}): attest enrolment and plan the upgrade")
        if end - today <= warn:
            return Outcome(Status.MANUAL, evidence, f"support ends in {(end - today).days} days ({end}): "
                                                    "attest that the upgrade or replacement is planned")
        return Outcome(Status.PASS, evidence)


CHECK = EndOfSupportCheck()

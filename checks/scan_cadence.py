"""scan_cadence: the host's own evidence that it is scanned often enough (BOD 23-01).

Reads the agent's record of its last completed scan (fact ``last_scan``) and the clock:

- ``last_scan``: that scan finished at most ``max_age_days`` ago and evaluated one of
  ``directives`` (a vulnerability enumeration, not just a configuration check);
- ``detection_data``: every feed in ``feeds`` was used by that scan and was at most
  ``max_age_hours`` old when it ran.

No record at all is an ``error`` with the reason, never a pass.
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Mapping

from checks.facts import FactKey, Facts, LastScan
from checks.model import Evidence, Outcome, Status, Verdict

LAST_SCAN = FactKey("last_scan")
CLOCK = FactKey("clock")


def _when(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


class CadenceCheck:
    name = "scan_cadence"
    schema: Mapping[str, Any] = {
        "type": "object",
        "properties": {
            "type": {"const": "scan_cadence"},
            "rule": {"enum": ["last_scan", "detection_data"]},
            "max_age_days": {"type": "integer", "minimum": 1},
            "directives": {"type": "array", "items": {"type": "string"}, "minItems": 1},
            "max_age_hours": {"type": "number", "minimum": 0},
            "feeds": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        },
        "required": ["type", "rule"],
        "allOf": [
            {"if": {"properties": {"rule": {"const": "last_scan"}}},
             "then": {"required": ["max_age_days", "directives"]}},
            {"if": {"properties": {"rule": {"const": "detection_data"}}},
             "then": {"required": ["max_age_hours", "feeds"]}},
        ],
        "additionalProperties": False,
    }

    def needs(self, params: Mapping[str, Any]) -> set[FactKey]:
        return {LAST_SCAN, CLOCK}

    def evaluate(self, params: Mapping[str, Any], facts: Facts) -> Outcome:
        record = facts.need(LAST_SCAN)
        assert isinstance(record, LastScan)
        now = _when(str(facts.need(CLOCK)))
        finished = _when(record.finished_at)
        if params["rule"] == "last_scan":
            limit = dt.timedelta(days=params["max_age_days"])
            wanted = list(params["directives"])
            age = now - finished
            recent, enumerated = age <= limit, any(d in record.directives for d in wanted)
            evidence = [Evidence(f"a scan within {params['max_age_days']} days",
                                 f"last scan finished {finished.isoformat(timespec='minutes')} "
                                 f"({age.days} days {age.seconds // 3600} hours ago)", record.path, Verdict.of(recent)),
                        Evidence(f"the scan evaluated {' or '.join(wanted)}",
                                 "evaluated " + (", ".join(record.directives) or "no directive"), record.path,
                                 Verdict.of(enumerated))]
            ok = recent and enumerated
            return Outcome.of(ok, evidence)
        limit_h = float(params["max_age_hours"])
        if record.feeds is None:
            return Outcome(Status.ERROR, (Evidence("feed ages recorded", "not recorded", record.path),),
                           "the scan record does not say which detection data it used")
        by_name = {f.name: f for f in record.feeds}
        evidence = []
        ok = True
        for name in params["feeds"]:
            feed = by_name.get(name)
            expected = f"{name} at most {limit_h:g} hours old when scanned"
            if feed is None:
                ok = False
                evidence.append(Evidence(expected, "not used by the last scan", record.path, Verdict.VIOLATION))
            elif feed.age_hours is None or feed.age_hours > limit_h:
                ok = False
                shown = "of unknown age" if feed.age_hours is None else f"{feed.age_hours:g} hours old"
                evidence.append(Evidence(expected, f"{name} {feed.version} {shown}", record.path, Verdict.VIOLATION))
            else:
                evidence.append(Evidence(expected, f"{name} {feed.version} {feed.age_hours:g} hours old", record.path,
                                         Verdict.OK))
        return Outcome.of(ok, evidence)


CHECK = CadenceCheck()

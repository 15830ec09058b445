"""Compound checks: ``all``, ``any`` and ``none`` of a list of check specs.

Three-valued logic (Kleene): pass is true, fail is false, every other status is unknown.

    all:  any child fails -> fail;  every child passes -> pass;  else unknown
    any:  any child passes -> pass; every child fails -> fail;   else unknown
    none: any child passes -> fail; every child fails -> pass;   else unknown

An unknown result takes the children's unknown status when they agree (all
not_applicable -> not_applicable, all manual -> manual), and ``error`` otherwise.
"""
from __future__ import annotations

from typing import Any, Mapping

from checks.facts import FactKey, Facts
from checks.model import Evidence, Outcome, Status


def _unknown(outcomes: list[Outcome]) -> Status:
    unknown = {o.status for o in outcomes if o.status not in (Status.PASS, Status.FAIL)}
    return unknown.pop() if len(unknown) == 1 else Status.ERROR


class Compound:
    def __init__(self, name: str) -> None:
        self.name = name
        self.schema: Mapping[str, Any] = {
            "type": "object",
            "properties": {name: {"type": "array", "items": {"type": "object"}, "minItems": 1}},
            "required": [name],
            "additionalProperties": False,
        }

    def needs(self, params: Mapping[str, Any]) -> set[FactKey]:
        from checks.registry import needs

        return set().union(*(needs(child) for child in params[self.name]))

    def evaluate(self, params: Mapping[str, Any], facts: Facts) -> Outcome:
        from checks.registry import evaluate

        outcomes = [evaluate(child, facts) for child in params[self.name]]
        passes = [o.status is Status.PASS for o in outcomes]
        fails = [o.status is Status.FAIL for o in outcomes]
        if self.name == "all":
            status = Status.FAIL if any(fails) else Status.PASS if all(passes) else _unknown(outcomes)
        elif self.name == "any":
            status = Status.PASS if any(passes) else Status.FAIL if all(fails) else _unknown(outcomes)
        else:
            status = Status.FAIL if any(passes) else Status.PASS if all(fails) else _unknown(outcomes)
        evidence: tuple[Evidence, ...] = tuple(e for o in outcomes for e in o.evidence)
        message = "; ".join(dict.fromkeys(o.message for o in outcomes if o.message))
        return Outcome(status, evidence, message)


CHECKS = (Compound("all"), Compound("any"), Compound("none"))

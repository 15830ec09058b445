"""Compound checks: ``all``, ``any`` and ``none`` of a list of check specs.

Three-valued logic (Kleene): pass is true, fail is false, every other status is unknown.

    all:  any child fails -> fail;  every child passes -> pass;  else unknown
    any:  any child passes -> pass; every child fails -> fail;   else unknown
    none: any child passes -> fail; every child fails -> pass;   else unknown

An unknown result takes the children's unknown status when they agree (all
not_applicable -> not_applicable, all manual -> manual), and ``error`` otherwise.

Evidence: the children that decided the result come first, with their lines' verdicts read
in the compound's sense; the other children's lines are context (``info``). An ``any`` that
passes shows the branch that passed, not the alternatives it did not need; a ``none`` reads
each child inverted (the forbidden state found is the violation, its absence is ok).

Children are judged through the registry, which binds its ``needs`` and ``evaluate`` here
(``Compound.bind``): the registry depends on this module, never the other way round.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

from checks.facts import FactKey, Facts
from checks.model import Evidence, Outcome, Status, Verdict


def _unknown(outcomes: list[Outcome]) -> Status:
    unknown = {o.status for o in outcomes if o.status not in (Status.PASS, Status.FAIL)}
    return unknown.pop() if len(unknown) == 1 else Status.ERROR


def _inverted(verdict: Verdict, status: Status) -> Verdict:
    """A deciding child's line read by ``none``: what violated the child satisfies the
    compound and the other way round; a line that cannot have decided is context."""
    verdict = Verdict(verdict)
    if status is Status.PASS:
        return Verdict.OK if verdict is Verdict.VIOLATION else Verdict.INFO
    return Verdict.VIOLATION if verdict is Verdict.OK else Verdict.INFO


NeedsFn = Callable[[Mapping[str, Any]], set[FactKey]]
EvaluateFn = Callable[[Mapping[str, Any], Facts], Outcome]


class Compound:
    def __init__(self, name: str) -> None:
        self.name = name
        self._needs: NeedsFn | None = None
        self._evaluate: EvaluateFn | None = None
        self.schema: Mapping[str, Any] = {
            "type": "object",
            "properties": {name: {"type": "array", "items": {"type": "object"}, "minItems": 1}},
            "required": [name],
            "additionalProperties": False,
        }

    def bind(self, needs: NeedsFn, evaluate: EvaluateFn) -> None:
        """How to judge a child spec of any type (checks.registry)."""
        self._needs, self._evaluate = needs, evaluate

    def _children(self) -> tuple[NeedsFn, EvaluateFn]:
        if self._needs is None or self._evaluate is None:
            raise RuntimeError(f"compound check {self.name!r} used before checks.registry bound it")
        return self._needs, self._evaluate

    def needs(self, params: Mapping[str, Any]) -> set[FactKey]:
        needs, _ = self._children()
        return set().union(*(needs(child) for child in params[self.name]))

    def evaluate(self, params: Mapping[str, Any], facts: Facts) -> Outcome:
        _, evaluate = self._children()
        outcomes = [evaluate(child, facts) for child in params[self.name]]
        passes = [o.status is Status.PASS for o in outcomes]
        fails = [o.status is Status.FAIL for o in outcomes]
        if self.name == "all":
            status = Status.FAIL if any(fails) else Status.PASS if all(passes) else _unknown(outcomes)
        elif self.name == "any":
            status = Status.PASS if any(passes) else Status.FAIL if all(fails) else _unknown(outcomes)
        else:
            status = Status.FAIL if any(passes) else Status.PASS if all(fails) else _unknown(outcomes)
        message = "; ".join(dict.fromkeys(o.message for o in outcomes if o.message))
        return Outcome(status, self._evidence(status, outcomes), message)

    def _evidence(self, status: Status, outcomes: list[Outcome]) -> tuple[Evidence, ...]:
        """The children's evidence, deciding children first, verdicts in the compound's sense."""
        decided = status in (Status.PASS, Status.FAIL)
        if self.name == "all" or not decided:
            return tuple(e for o in outcomes for e in o.evidence)
        if self.name == "any":
            # pass: the children that passed decided; fail: every child failed, each decided.
            deciding = [o for o in outcomes if o.status is status]
            rest = [o for o in outcomes if o.status is not status]
            return (*(e for o in deciding for e in o.evidence),
                    *(e.judged(Verdict.INFO) for o in rest for e in o.evidence))
        # none: pass when every child failed (each decided), fail when some child passed.
        child = Status.FAIL if status is Status.PASS else Status.PASS
        deciding = [o for o in outcomes if o.status is child]
        rest = [o for o in outcomes if o.status is not child]
        return (*(e.judged(_inverted(e.verdict, status)) for o in deciding for e in o.evidence),
                *(e.judged(Verdict.INFO) for o in rest for e in o.evidence))


CHECKS = (Compound("all"), Compound("any"), Compound("none"))

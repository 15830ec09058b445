"""manual: what no file can answer; a person must, so the result is ``manual`` with the question.

Used alone, or in an ``all`` with the checks that can be judged (a bootloader password is set:
checked; it is set *appropriately*: asked), so a failing part still fails and a passing one
leaves the question standing.
"""
from __future__ import annotations

from typing import Any, Mapping

from checks.facts import FactKey, Facts
from checks.model import Evidence, Outcome, Status, Verdict


class ManualCheck:
    name = "manual"
    schema: Mapping[str, Any] = {
        "type": "object",
        "properties": {
            "type": {"const": "manual"},
            "question": {"type": "string", "minLength": 1},
        },
        "required": ["type", "question"],
        "additionalProperties": False,
    }

    def needs(self, params: Mapping[str, Any]) -> set[FactKey]:
        return set()

    def evaluate(self, params: Mapping[str, Any], facts: Facts) -> Outcome:
        question = params["question"]
        return Outcome(Status.MANUAL, (Evidence(question, "to be attested by a person", "", Verdict.INFO),),
                       question)


CHECK = ManualCheck()

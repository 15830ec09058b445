"""manual: a fix that needs a person's judgment; it carries the question to answer."""
from __future__ import annotations

from typing import Any, Mapping

from checks.fixes.model import Action, Files, schema


class Manual:
    name = "manual"
    schema: Mapping[str, Any] = schema("manual", {"question": {"type": "string", "minLength": 1}}, ("question",))
    disruptive = False

    def reads(self, params: Mapping[str, Any]) -> tuple[str, ...]:
        return ()

    def plan(self, params: Mapping[str, Any], files: Files) -> tuple[Action, ...]:
        return ()

    def describe(self, params: Mapping[str, Any]) -> str:
        return f"Needs a decision: {params['question']}"


FIX = Manual()

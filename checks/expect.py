"""Value expectations shared by config and sysctl checks: one operator per expectation."""
from __future__ import annotations

import re
from typing import Any, Mapping

OPERATORS = ("equals", "not_equals", "one_of", "none_of", "at_least", "at_most", "matches")

# JSON Schema properties a check type merges into its own schema.
SCHEMA_PROPERTIES: dict[str, Any] = {
    "equals": {"type": ["string", "integer"]},
    "not_equals": {"type": ["string", "integer"]},
    "one_of": {"type": "array", "items": {"type": ["string", "integer"]}, "minItems": 1},
    "none_of": {"type": "array", "items": {"type": ["string", "integer"]}, "minItems": 1},
    "at_least": {"type": "integer"},
    "at_most": {"type": "integer"},
    "matches": {"type": "string", "format": "regex"},
}


def describe(params: Mapping[str, Any]) -> str:
    """Human text of the expectation, used as evidence's `expected`."""
    parts = []
    for op in OPERATORS:
        if op in params:
            value = params[op]
            if isinstance(value, list):
                value = ", ".join(str(v) for v in value)
            parts.append(f"{op.replace('_', ' ')} {value}")
    return " and ".join(parts) or "present"


def _number(text: str) -> int | None:
    try:
        return int(text.strip().split()[0], 0)
    except (ValueError, IndexError):
        return None


def satisfied(params: Mapping[str, Any], actual: str) -> bool:
    """Whether ``actual`` meets every operator in ``params``. Words compare case-insensitively
    (sshd and login.defs keywords are), numbers numerically, regexes against the whole value."""
    norm = " ".join(actual.split()).lower()
    for op in OPERATORS:
        if op not in params:
            continue
        want = params[op]
        if op == "equals" and norm != str(want).lower():
            return False
        if op == "not_equals" and norm == str(want).lower():
            return False
        if op == "one_of" and norm not in {str(w).lower() for w in want}:
            return False
        if op == "none_of" and norm in {str(w).lower() for w in want}:
            return False
        if op in ("at_least", "at_most"):
            number = _number(actual)
            if number is None:
                return False
            if op == "at_least" and number < want:
                return False
            if op == "at_most" and number > want:
                return False
        if op == "matches" and not re.fullmatch(want, actual.strip()):
            return False
    return True

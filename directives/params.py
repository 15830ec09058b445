"""Tunable parameters: values a directive lets an agency change without editing it.

A directive declares them in ``parameters`` (a list): each has an ``id``, a ``title``, a
JSON type, a ``default`` and optional bounds (``minimum``/``maximum``, ``enum``,
``pattern``). Anywhere inside a requirement's ``check`` or ``only_if`` the mapping
``{param: ID}`` stands for the parameter's value, and ``{{ID}}`` inside its ``title``,
``rationale`` or ``remediation`` is replaced by the value, so the text a sysadmin reads
agrees with what is checked. A tailoring file overrides values (directives.tailoring);
the value is validated against the parameter's declaration, never against nothing.
"""
from __future__ import annotations

import re
from dataclasses import field
from typing import Any, Callable, Mapping
from checks.record import record

PLACEHOLDER = re.compile(r"\{\{\s*([a-z][a-z0-9_]*)\s*\}\}")
TEXT_FIELDS = ("title", "rationale", "remediation")


@record
class Parameter:
    """A tunable value a directive declares: its type, default and bounds."""

    id: str
    title: str
    type: str  # integer, number, string, boolean
    default: Any
    description: str = ""
    bounds: Mapping[str, Any] = field(default_factory=dict)  # minimum, maximum, enum, pattern

    def schema(self) -> dict[str, Any]:
        """The JSON Schema every value of this parameter must satisfy."""
        return {"type": self.type, **self.bounds}

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "type": self.type, "default": self.default, **self.bounds}


def from_json(data: Mapping[str, Any]) -> Parameter:
    return Parameter(
        id=data["id"], title=data["title"], type=data["type"], default=data["default"],
        description=data.get("description", ""),
        bounds={k: data[k] for k in ("minimum", "maximum", "enum", "pattern") if k in data},
    )


def value_errors(parameter: Parameter, value: Any) -> list[str]:
    """Why ``value`` does not fit the parameter (empty when it does)."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(parameter.schema())
    return [e.message for e in validator.iter_errors(value)]


def is_reference(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"param"}


def resolve(spec: Any, values: Mapping[str, Any], unknown: Callable[[tuple[Any, ...], str], None] | None = None,
            path: tuple[Any, ...] = ()) -> Any:
    """``spec`` with every ``{param: ID}`` replaced by its value; ``unknown(path, id)`` hears of
    references to undeclared parameters (they stay as they are)."""
    if is_reference(spec):
        name = spec["param"]
        if isinstance(name, str) and name in values:
            return values[name]
        if unknown is not None:
            unknown(path + ("param",), str(name))
        return spec
    if isinstance(spec, dict):
        return {k: resolve(v, values, unknown, path + (k,)) for k, v in spec.items()}
    if isinstance(spec, list):
        return [resolve(v, values, unknown, path + (i,)) for i, v in enumerate(spec)]
    return spec


def interpolate(text: str, values: Mapping[str, Any], unknown: Callable[[str], None] | None = None) -> str:
    """``{{ID}}`` placeholders replaced by values; unknown ones are reported and kept."""

    def sub(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in values:
            value = values[name]
            return ("true" if value else "false") if isinstance(value, bool) else str(value)
        if unknown is not None:
            unknown(name)
        return match.group(0)

    return PLACEHOLDER.sub(sub, text)


def references(spec: Any) -> set[str]:
    """The parameter ids a check spec or text refers to."""
    if isinstance(spec, str):
        return set(PLACEHOLDER.findall(spec))
    if is_reference(spec):
        return {str(spec["param"])}
    if isinstance(spec, dict):
        return set().union(*(references(v) for v in spec.values())) if spec else set()
    if isinstance(spec, list):
        return set().union(*(references(v) for v in spec)) if spec else set()
    return set()

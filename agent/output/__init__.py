"""Report renderers. Each takes the report (a dict valid against the schema) and returns text.

Formats register here by name; ``--format`` accepts any of them.
"""
from __future__ import annotations

from typing import Any, Callable

Renderer = Callable[[dict[str, Any], bool], str]


def _table(report: dict[str, Any], color: bool) -> str:
    from agent.output.table import render

    return render(report, color)


def _json(report: dict[str, Any], color: bool) -> str:
    import json

    return json.dumps(report, indent=2, ensure_ascii=False) + "\n"


FORMATS: dict[str, Renderer] = {"table": _table, "json": _json}

"""The report itself, as indented JSON (the format the collector and ``--baseline`` read)."""
from __future__ import annotations

from typing import Any

from agent.output.common import indented_json, json_safe


def render(report: dict[str, Any], color: bool = False, *, baseline: dict[str, Any] | None = None) -> str:
    return json_safe(indented_json(report)) + "\n"

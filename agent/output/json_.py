"""The report itself, as indented JSON (the format the collector and ``--baseline`` read)."""
from __future__ import annotations

from typing import Any

from agent.output.common import json_safe
from agent.output.jsontext import dumps


def render(report: dict[str, Any], color: bool = False, *, baseline: dict[str, Any] | None = None) -> str:
    return json_safe(dumps(report)) + "\n"

"""The report itself, as indented JSON (the format the collector and ``--baseline`` read)."""
from __future__ import annotations

import json
from typing import Any

from agent.output.common import json_safe


def render(report: dict[str, Any], color: bool = False, *, baseline: dict[str, Any] | None = None) -> str:
    return json_safe(json.dumps(report, indent=2, ensure_ascii=False)) + "\n"

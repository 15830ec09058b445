"""Report renderers. Each takes the report (a dict valid against the schema) and returns text.

Formats register here by name; ``--format`` accepts any of them. A renderer is called as
``render(report, color, baseline=previous_report_or_None)``: ``color`` matters to the table
only, ``baseline`` (an earlier report of the same host) to formats that show what changed
(SARIF's ``baselineState``). Each format lives in its own module, imported on first use.
"""
from __future__ import annotations

import importlib
from typing import Protocol

from agent.contract import Report


class Renderer(Protocol):
    def __call__(self, report: Report, color: bool = False, *,
                 baseline: Report | None = None) -> str: ...


def _lazy(module: str) -> Renderer:
    def render(report: Report, color: bool = False, *, baseline: Report | None = None) -> str:
        mod = importlib.import_module(f"agent.output.{module}")
        return mod.render(report, color, baseline=baseline)  # type: ignore[no-any-return]

    render.__name__ = f"render_{module}"
    return render


def _json(report: Report, color: bool = False, *, baseline: Report | None = None) -> str:
    import json

    from agent.output.common import json_safe

    return json_safe(json.dumps(report, indent=2, ensure_ascii=False)) + "\n"


FORMATS: dict[str, Renderer] = {
    "table": _lazy("table"),
    "json": _json,
    "sarif": _lazy("sarif"),
    "junit": _lazy("junit"),
    "csv": _lazy("csv_"),
    "jsonl": _lazy("jsonl"),
    "oscal": _lazy("oscal"),
    "cklb": _lazy("cklb"),
    "html": _lazy("html"),
}

# File name extension of each format, for ``--output-dir``.
EXTENSIONS: dict[str, str] = {
    "table": "txt",
    "json": "json",
    "sarif": "sarif",
    "junit": "junit.xml",
    "csv": "csv",
    "jsonl": "jsonl",
    "oscal": "oscal.json",
    "cklb": "cklb",
    "html": "html",
}

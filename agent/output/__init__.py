"""Report renderers. Each takes the report (a dict valid against the schema) and returns text.

Formats register here by name, one ``Format(name, ext, module)`` record each; ``--format``
accepts any of them. A renderer is called as ``render(report, color, baseline=previous_or_None)``:
``color`` matters to the table only, ``baseline`` (an earlier report of the same host) to
formats that show what changed (SARIF's ``baselineState``). Each format lives in its own module
of this package, imported on first use, whose ``render`` has that signature.
"""
from __future__ import annotations

import importlib
from typing import Protocol

from agent.contract import Report
from checks.record import record


class Renderer(Protocol):
    def __call__(self, report: Report, color: bool = False, *,
                 baseline: Report | None = None) -> str: ...


@record
class Format:
    """An output format: its name, file extension and renderer module."""

    name: str  # what --format takes
    ext: str  # file name extension for --output-dir (fedharden.EXT, or HOST.EXT with --inventory)
    module: str  # agent.output.MODULE renders it

    def __call__(self, report: Report, color: bool = False, *,
                 baseline: Report | None = None) -> str:
        """Render ``report`` (a Format is a Renderer)."""
        mod = importlib.import_module(f"agent.output.{self.module}")
        return mod.render(report, color, baseline=baseline)  # type: ignore[no-any-return]


FORMATS: dict[str, Format] = {f.name: f for f in (
    Format("table", "txt", "table"),
    Format("json", "json", "json_"),
    Format("sarif", "sarif", "sarif"),
    Format("junit", "junit.xml", "junit"),
    Format("csv", "csv", "csv_"),
    Format("jsonl", "jsonl", "jsonl"),
    Format("oscal", "oscal.json", "oscal"),
    Format("cklb", "cklb", "cklb"),
    Format("html", "html", "html"),
)}

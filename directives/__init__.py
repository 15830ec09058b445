"""Directives are data: YAML files, their JSON Schema, and the loader that validates them.

Policy files beside the directives: waivers (accepted risks with an expiry,
``directives.waivers``). All of them are YAML read with line numbers (``directives.yamldoc``)
and validated against a JSON Schema in ``directives/schemas/``.

Exception tree::

    DirectiveError          a file that cannot be used; ``problems`` holds one line per
    │                       problem, each ``file:line: $.json.path: message``
    ├── WaiverError         a waivers file
    └── TailoringError      a tailoring file
"""
from __future__ import annotations

from directives.errors import DirectiveError, TailoringError, WaiverError
from directives.loader import library_paths, load_file, load_library, load_paths
from directives.model import Directive, Requirement

__all__ = ["Directive", "DirectiveError", "Requirement", "TailoringError", "WaiverError", "library_paths", "load_file",
           "load_library", "load_paths"]

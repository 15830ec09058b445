"""Directives are data: YAML files, their JSON Schema, and the loader that validates them.

Exception tree::

    DirectiveError          a file that cannot be used; ``problems`` holds one line per
                            problem, each ``file:line: $.json.path: message``
"""
from __future__ import annotations

from directives.loader import DirectiveError, library_paths, load_file, load_library, load_paths
from directives.model import Directive, Requirement

__all__ = ["Directive", "DirectiveError", "Requirement", "library_paths", "load_file", "load_library", "load_paths"]

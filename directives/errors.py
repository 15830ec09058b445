"""The exception tree of the directives package (see its docstring)."""
from __future__ import annotations


class DirectiveError(Exception):
    """A policy file that cannot be used; ``problems`` holds one ``file:line: $.path: message`` each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class WaiverError(DirectiveError):
    """A waivers file that cannot be used."""


class TailoringError(DirectiveError):
    """A tailoring file that cannot be used."""

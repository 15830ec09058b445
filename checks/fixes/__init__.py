"""The closed set of fix types: pure planners of (parameters, file state) -> actions.

A fix spec sits beside a requirement's check (``fix:``): one fix ``{type: NAME, ...}``, or
``{all: [fix, ...]}``, or ``{type: manual, question: ...}`` for a fix that needs a person's
judgment. Like a check type, a fix type does no I/O: it names the files it reads (``reads``),
is handed their state (``model.Files``) and returns the actions (``model.Action``: whole-file
writes, attribute changes, links, packages, commands as argv) that make the requirement hold,
or none when it holds already; ``describe`` is the remediation text a person reads.

Exception tree::

    FixError        the fix cannot be planned for this target (caught by the agent: one line)
"""
from __future__ import annotations

from checks.fixes.model import Action, FileState, Files, FixError
from checks.fixes.registry import COMPOUND, FIX_TYPES, describe, disruptive, is_manual, parts, plan, reads
from checks.fixes.registry import summary

__all__ = ["COMPOUND", "FIX_TYPES", "Action", "FileState", "Files", "FixError", "describe", "disruptive",
           "is_manual", "parts", "plan", "reads", "summary"]

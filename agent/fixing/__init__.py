"""Remediation (issue 21): plan the structured fixes of failing requirements, apply them to this
host or an image with backups, roll an apply back, and re-scan what changed.

The fix types themselves are pure (checks.fixes): they read file state and return actions.
This package gives them the state of the target (``targetfs``), builds the plan and its diff
(``planner``, ``diff``), carries actions out with a journal of backups (``apply``,
``journal``) and undoes an apply (``journal.rollback``), and turns a journal into the record
fix --submit reports to the collector (``record``). docs/remediation.md tells the cycle.
"""
from __future__ import annotations

from agent import ScanError


class ApplyFailed(ScanError):
    """An apply stopped part way; what it had changed was rolled back (exit 3). ``apply_id``:
    its journal's, for the record fix --submit reports."""

    def __init__(self, message: str, apply_id: str = "") -> None:
        super().__init__(message)
        self.apply_id = apply_id

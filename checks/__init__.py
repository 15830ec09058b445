"""The closed set of check types: pure functions of (parameters, facts) -> Outcome.

No I/O happens here: no files, no subprocess, no psutil, no paramiko. A check declares
which facts it needs (``needs``), the agent gathers them once per scan, and the check
judges them (``evaluate``). A fact that could not be gathered yields ``error`` (or
``not_applicable`` when the fact cannot exist on the target), never ``pass``.

Exception tree::

    CheckError                  base of everything raised by this package
    └── CheckParamError         parameters do not fit the check type (caught by the loader)

``FactUnavailable`` (checks.facts) is raised *into* a check by ``Facts.need`` and turned
into an outcome by ``evaluate``; it never escapes this package.

Evidence says what was expected, what was found, where, and its ``Verdict`` (ok, violation,
info); ``evaluate`` returns every line with its verdict, the deciding lines first.
"""
from __future__ import annotations

from checks.model import Evidence, Finding, Outcome, Status, Verdict
from checks.registry import CHECK_TYPES, CheckError, CheckParamError, evaluate, needs

__all__ = [
    "CHECK_TYPES",
    "CheckError",
    "CheckParamError",
    "Evidence",
    "Finding",
    "Outcome",
    "Status",
    "Verdict",
    "evaluate",
    "needs",
]

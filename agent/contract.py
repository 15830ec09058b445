"""The report contract's vocabulary, defined once: result statuses, host statuses and the one
function that turns a directive's (or a host's) result counts into a host status.

The agent, every renderer, the exit code and the collector read a host's status from here,
so that "compliant" means the same everywhere. Unknown is never compliant:

| status           | when                                                              |
|------------------|-------------------------------------------------------------------|
| `non_compliant`  | at least one `fail` (waived results are not fails)                |
| `incomplete`     | no `fail`, at least one `error` (something could not be judged)   |
| `needs_review`   | no `fail`/`error`, at least one `manual`                          |
| `compliant`      | no `fail`/`error`/`manual`, at least one `pass` or `waived`       |
| `not_applicable` | every result `not_applicable` (or no result at all)               |

A host's overall status is the worst of its directives' statuses, in the order above.
"""
from __future__ import annotations

from enum import Enum
from typing import Iterable, Mapping

from checks.model import Status

__all__ = ["Status", "HostStatus", "host_status", "worst", "exit_code", "report_status",
           "EXIT_OK", "EXIT_FAIL", "EXIT_USAGE", "EXIT_COULD_NOT_COMPLETE", "EXIT_INCOMPLETE"]

# The agent's exit codes. 0, 1 and 4 say what the scan found (``exit_code``); 2 and 3 say
# that it did not get that far.
EXIT_OK = 0  # compliant, needs_review or not_applicable
EXIT_FAIL = 1  # non_compliant: at least one requirement fails
EXIT_USAGE = 2  # usage error or invalid input (an option, a directive file, a directory that is no root)
EXIT_COULD_NOT_COMPLETE = 3  # the scan (or its submission) could not complete
EXIT_INCOMPLETE = 4  # incomplete: nothing fails, but something could not be judged


class HostStatus(str, Enum):
    NON_COMPLIANT = "non_compliant"
    INCOMPLETE = "incomplete"
    NEEDS_REVIEW = "needs_review"
    COMPLIANT = "compliant"
    NOT_APPLICABLE = "not_applicable"

    def __str__(self) -> str:
        return self.value

    @property
    def rank(self) -> int:
        """0 is the worst; ``worst`` picks the lowest rank."""
        return _ORDER.index(self)

    @property
    def label(self) -> str:
        return self.value.replace("_", " ")

    @property
    def meaning(self) -> str:
        """One line a sysadmin reads under the status."""
        return _MEANING[self]

    @property
    def acceptable(self) -> bool:
        """Whether the agent exits 0 for it: nothing failed and nothing went unjudged."""
        return self in (HostStatus.COMPLIANT, HostStatus.NEEDS_REVIEW, HostStatus.NOT_APPLICABLE)


_ORDER = tuple(HostStatus)
_MEANING = {
    HostStatus.NON_COMPLIANT: "at least one requirement fails",
    HostStatus.INCOMPLETE: "nothing fails, but some requirements could not be judged (ERROR): "
                           "not compliant until they are",
    HostStatus.NEEDS_REVIEW: "nothing fails; some requirements need a person to confirm them (MANUAL)",
    HostStatus.COMPLIANT: "every requirement judged passes (or is waived)",
    HostStatus.NOT_APPLICABLE: "no requirement applies here",
}


def host_status(counts: Mapping[str, int]) -> HostStatus:
    """The status of a directive (or a whole host) from its result counts by status name."""
    def n(status: Status) -> int:
        return int(counts.get(status.value, 0) or 0)

    if n(Status.FAIL):
        return HostStatus.NON_COMPLIANT
    if n(Status.ERROR):
        return HostStatus.INCOMPLETE
    if n(Status.MANUAL):
        return HostStatus.NEEDS_REVIEW
    if n(Status.PASS) or n(Status.WAIVED):
        return HostStatus.COMPLIANT
    return HostStatus.NOT_APPLICABLE


def worst(statuses: Iterable[HostStatus | str]) -> HostStatus:
    """The worst of several statuses; ``not_applicable`` when there are none."""
    ranked = [HostStatus(s) for s in statuses]
    return min(ranked, key=lambda s: s.rank) if ranked else HostStatus.NOT_APPLICABLE


def exit_code(status: HostStatus | str) -> int:
    """The exit code for a scanned host's status: 0 when acceptable, 1 non_compliant, 4 incomplete."""
    status = HostStatus(status)
    if status.acceptable:
        return EXIT_OK
    return EXIT_FAIL if status is HostStatus.NON_COMPLIANT else EXIT_INCOMPLETE


def report_status(report: Mapping[str, object]) -> HostStatus:
    """A report's overall host status, as its summary states it (never re-derived)."""
    summary = report["summary"]
    assert isinstance(summary, Mapping)
    return HostStatus(summary["status"])

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

__all__ = ["Status", "HostStatus", "host_status", "worst", "STRICTLY_COMPLIANT"]


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
    def acceptable(self) -> bool:
        """Whether the agent exits 0 for it: nothing failed and nothing went unjudged."""
        return self in (HostStatus.COMPLIANT, HostStatus.NEEDS_REVIEW, HostStatus.NOT_APPLICABLE)


_ORDER = tuple(HostStatus)
STRICTLY_COMPLIANT = HostStatus.COMPLIANT


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

"""The hosts listing's status and overdue filters, in SQL: shared by the hosts enrolled here
(collectors.reads) and the host summaries agency collectors forward (collectors.federated_hosts)."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from agent.contract import HostStatus
from collectors import BadRequest
from collectors.models import NO_DUE

HOST_STATUSES = tuple(s.value for s in HostStatus)  # the hosts listing's status filter
STATUS_ALIASES = {"noncompliant": HostStatus.NON_COMPLIANT.value}  # the filter's earlier spelling
# The SQL form of agent.contract.host_status, for filters: a status holds when the statuses
# before it have no result and, but for not_applicable, its own has one (tests check the two agree).
_DECIDED_BY = {HostStatus.NON_COMPLIANT: ("fail",), HostStatus.INCOMPLETE: ("error",),
               HostStatus.NEEDS_REVIEW: ("manual",), HostStatus.COMPLIANT: ("pass", "waived"),
               HostStatus.NOT_APPLICABLE: ()}


def host_status_filter(status: str | None) -> HostStatus | None:
    """The hosts listing's ``status`` query parameter, checked (``noncompliant`` still accepted)."""
    if status is None:
        return None
    status = STATUS_ALIASES.get(status, status)
    if status not in HOST_STATUSES:
        raise BadRequest(f"status must be one of {', '.join(HOST_STATUSES)}", "$.query.status")
    return HostStatus(status)


def status_condition(counts_of: Any, status: HostStatus) -> Any:
    """Rows of ``counts_of`` (n_* columns) whose counts make ``status``."""
    before = [s for s in HostStatus if s.rank < status.rank]
    terms = [counts_of.c[f"n_{r}"] == 0 for s in before for r in _DECIDED_BY[s]]
    own = _DECIDED_BY[status]
    if own:
        terms.append(sa.or_(*(counts_of.c[f"n_{r}"] > 0 for r in own)))
    return sa.and_(*terms)


def compliance_filter(q: Any, counts_of: Any, reported: Any, *, status: str | None, overdue: bool | None,
                      day: str) -> Any:
    """The hosts listing's status and overdue filters, on the table holding the counts (a host's,
    or one directive's when the listing is for a directive); enrolled and forwarded hosts alike.
    A host that never reported has no status."""
    wanted = host_status_filter(status)
    if wanted is not None:
        q = q.where(status_condition(counts_of, wanted), reported)
    if overdue is True:
        q = q.where(counts_of.c.fail_min_due != NO_DUE, counts_of.c.fail_min_due < day)
    elif overdue is False:
        q = q.where(sa.or_(counts_of.c.fail_min_due == NO_DUE, counts_of.c.fail_min_due >= day))
    return q

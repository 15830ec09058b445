"""Which version of each directive the hosts evaluated (host_directive_versions, written at
ingest from the reports' directive lists), and the rollup of one version: the hosts that
evaluated it, by host status, with their result counts.

A version's rollup is read from each host's per-directive counts (host_directives) joined
with the versions, in the database, one row per agency: the counters the other rollups read
are kept per directive, not per version. It covers the hosts enrolled here; an agency
collector forwards its rollups per directive only, so a national collector's version rollup
holds its own hosts, not the federated ones.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from agent.contract import HostStatus
from collectors.host_filters import status_condition
from collectors.models import COUNT_COLUMNS, HOST_COUNT_COLUMNS, NO_DUE, STATUSES, host_directive_versions, \
    host_directives
from collectors.rollups import host_counts_json, pct, today
from collectors.scope import agency_codes


def _scope(q: Any, ids: list[int] | None, directive: str | None) -> Any:
    v = host_directive_versions
    if ids is not None:
        q = q.where(v.c.agency_id.in_(ids))
    if directive is not None:
        q = q.where(v.c.directive == directive)
    return q


def versions(conn: Connection, ids: list[int] | None, directive: str | None = None) -> dict[str, Any]:
    """Per directive, each version (and content digest) hosts evaluated: how many hosts, per
    agency and in all, and when the collector first saw one evaluate it."""
    v = host_directive_versions
    q = sa.select(v.c.directive, v.c.version, v.c.digest, v.c.agency_id, sa.func.count(), sa.func.min(v.c.since))
    q = _scope(q, ids, directive).group_by(v.c.directive, v.c.version, v.c.digest, v.c.agency_id)
    names = agency_codes(conn)
    found: dict[str, dict[tuple[str, str], dict[str, Any]]] = {}
    for name, version, digest, agency_id, n, since in conn.execute(q):
        entry = found.setdefault(name, {}).setdefault((version, digest), {
            "version": version or None, "digest": digest, "hosts": 0, "first_seen": since, "agencies": {}})
        entry["hosts"] += n
        entry["first_seen"] = min(entry["first_seen"], since)
        entry["agencies"][names.get(agency_id, (str(agency_id), ""))[0]] = n
    return {"directives": [{"directive": name, "versions": [
        {**e, "first_seen": _iso(e["first_seen"])} for _, e in sorted(found[name].items(), key=lambda kv: kv[1]["first_seen"])]}
        for name in sorted(found)]}


def _iso(value: dt.datetime) -> str:
    return value.isoformat(timespec="seconds") + "Z"


def version_rollup(conn: Connection, ids: list[int] | None, directive: str, version: str,
                   digest: str | None = None, day: dt.date | None = None) -> dict[str, Any]:
    """The hosts that evaluated ``directive`` at ``version`` (and ``digest``, when given), per
    agency and overall: hosts by status, result counts, % compliant and hosts with a failing
    result past its due date."""
    day = day or today()
    v, hd = host_directive_versions, host_directives
    joined = v.outerjoin(hd, sa.and_(hd.c.host_pk == v.c.host_pk, hd.c.directive == v.c.directive))
    by_status = [sa.func.sum(sa.case((sa.or_(status_condition(hd, s), hd.c.host_pk.is_(None)) if
                                      s is HostStatus.NOT_APPLICABLE else status_condition(hd, s), 1), else_=0))
                 for s in HostStatus]
    late = sa.and_(hd.c.fail_min_due != NO_DUE, hd.c.fail_min_due < day.isoformat())
    q = sa.select(v.c.agency_id, sa.func.count(), *by_status, *(sa.func.sum(hd.c[c]) for c in COUNT_COLUMNS),
                  sa.func.sum(sa.case((late, 1), else_=0))).select_from(joined)
    q = _scope(q, ids, directive).where(v.c.version == version)
    if digest is not None:
        q = q.where(v.c.digest == digest)
    names = agency_codes(conn)
    agencies, total = [], None
    for agency_id, hosts, *values in conn.execute(q.group_by(v.c.agency_id)):
        entry = _entry(int(hosts), [int(x or 0) for x in values])
        total = entry if total is None else _sum(total, entry)
        code, title = names.get(agency_id, (str(agency_id), ""))
        agencies.append({"agency": code, "name": title, **entry})
    agencies.sort(key=lambda a: a["agency"])
    return {"today": day.isoformat(), "directive": directive, "version": version, "digest": digest,
            "overall": total or _entry(0, [0] * (len(HostStatus) + len(STATUSES) + 1)), "agencies": agencies}


def _entry(hosts: int, values: list[int]) -> dict[str, Any]:
    statuses, rest = values[:len(HostStatus)], values[len(HostStatus):]
    counts = dict(zip(STATUSES, rest[:len(STATUSES)]))
    host_counts = (hosts, *statuses, 0)  # HOST_COUNT_COLUMNS: every status is known here
    assert len(host_counts) == len(HOST_COUNT_COLUMNS)
    return {**host_counts_json(host_counts), "counts": counts, "compliant_pct": pct(counts),
            "overdue_hosts": rest[len(STATUSES)]}


def _sum(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    hosts = tuple(a[c] + b[c] for c in HOST_COUNT_COLUMNS)
    counts = {s: a["counts"][s] + b["counts"][s] for s in STATUSES}
    return {**host_counts_json(hosts), "counts": counts, "compliant_pct": pct(counts),
            "overdue_hosts": a["overdue_hosts"] + b["overdue_hosts"]}

"""Host-level reads for an agency's SOC: hosts, one host's results, changes, exports.
Every query takes the caller's agency ids (collectors.scope) and filters by them."""
from __future__ import annotations

import datetime as dt
import json
from typing import Any, Iterator

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from agent.contract import HostStatus, host_status
from collectors import BadRequest, NotFound, federated_hosts
from collectors.host_filters import compliance_filter, host_status_filter
from collectors.models import STATUSES, agencies, events, host_directive_versions, host_directives, host_tags, \
    hosts, results
from collectors.rollups import today

# models.FAILING_FINDING spelled out literally (no bound parameters), so both databases match
# the query to the partial index ix_results_failing_findings
FAILING_FINDING_RESULTS = sa.text("results.status = 'fail' AND results.key LIKE '%#%'")


def iso(value: dt.datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") + "Z" if value else None


def _host_json(row: Any, day: str) -> dict[str, Any]:
    counts = {s: int(getattr(row, f"n_{s}")) for s in STATUSES}
    status = host_status(counts) if row.reported else None
    return {"host_id": row.host_id, "agency": row.code, "hostname": row.hostname, "os": row.os,
            "agent_version": row.agent_version, "enrolled_at": iso(row.enrolled_at), "last_seen": iso(row.last_seen),
            "last_scan": iso(row.last_scan), "sequence": row.last_sequence, "total": row.total, "counts": counts,
            "status": status.value if status else None, "compliant": status is HostStatus.COMPLIANT,
            "overdue": bool(row.fail_min_due) and row.fail_min_due < day,
            "tags": row.tags.split("\n") if row.tags else [], "federated": bool(row.federated)}


def with_status(q: Any, status: str | None) -> Any:
    """Only results of this status (a query parameter, checked)."""
    if status is None:
        return q
    if status not in STATUSES:
        raise BadRequest(f"status must be one of {', '.join(STATUSES)}", "$.query.status")
    return q.where(results.c.status == status)


def _enrolled_hosts(ids: list[int] | None, *, directive: str | None, status: str | None, overdue: bool | None,
                    tag: str | None, day: str, version: str | None = None) -> Any:
    """Hosts enrolled here, as the listing's columns (federated_hosts.listing gives the same)."""
    h = hosts
    src: Any = h.join(agencies, agencies.c.id == h.c.agency_id)
    counts_of: Any = h
    if directive is not None:
        hd = host_directives
        src = src.join(hd, sa.and_(hd.c.host_pk == h.c.id, hd.c.directive == directive))
        counts_of = hd
    reported = h.c.last_report_id.is_not(None)
    q = sa.select(h.c.host_id, agencies.c.code, h.c.hostname, h.c.os, h.c.agent_version, h.c.enrolled_at,
                  h.c.last_seen, h.c.last_scan, h.c.last_sequence, reported.label("reported"), h.c.total,
                  *[counts_of.c[f"n_{s}"] for s in STATUSES], counts_of.c.fail_min_due, h.c.tags,
                  sa.false().label("federated")).select_from(src)
    if ids is not None:
        q = q.where(h.c.agency_id.in_(ids))
    q = compliance_filter(q, counts_of, reported, status=status, overdue=overdue, day=day)
    if tag is not None:
        tagged = sa.select(host_tags.c.host_pk).where(host_tags.c.tag == tag)
        if ids is not None:
            tagged = tagged.where(host_tags.c.agency_id.in_(ids))
        q = q.where(h.c.id.in_(tagged))
    if version is not None:
        v = host_directive_versions
        q = q.where(h.c.id.in_(sa.select(v.c.host_pk).where(v.c.directive == directive, v.c.version == version)))
    return q


def list_hosts(conn: Connection, ids: list[int] | None, *, directive: str | None = None, status: str | None = None,
               overdue: bool | None = None, tag: str | None = None, limit: int = 100,
               offset: int = 0, enrolled: bool = True, federated: bool = False,
               version: str | None = None) -> dict[str, Any]:
    """Hosts in scope; with ``directive``, counts, status and overdue are those of that directive,
    and with ``version`` too, only the hosts whose last report evaluated that version of it.

    ``enrolled``: the hosts enrolled here; ``federated``: the host summaries agency collectors
    forward (federation), marked so. Those carry no tags or versions, so a tag or version
    filter leaves them out."""
    host_status_filter(status)  # checked before any query
    if version is not None and directive is None:
        raise BadRequest("version filters a directive: give directive too", "$.query.version")

    day = today().isoformat()
    parts: list[sa.Select[Any]] = []
    if enrolled:
        parts.append(_enrolled_hosts(ids, directive=directive, status=status, overdue=overdue, tag=tag, day=day,
                                     version=version))
    if federated and tag is None and version is None and federated_hosts.present(conn, ids):
        parts.append(federated_hosts.listing(ids, directive=directive, status=status, overdue=overdue, day=day))
    if not parts:
        return {"total": 0, "limit": limit, "offset": offset, "directive": directive, "tag": tag, "hosts": []}
    listed = (parts[0] if len(parts) == 1 else sa.union_all(*parts)).subquery("listed")
    total = conn.execute(sa.select(sa.func.count()).select_from(listed)).scalar_one()
    rows = conn.execute(sa.select(listed).order_by(listed.c.code, listed.c.hostname, listed.c.host_id)
                        .limit(limit).offset(offset))
    return {"total": total, "limit": limit, "offset": offset, "directive": directive, "tag": tag,
            "hosts": [_host_json(r, day) for r in rows]}


def agency_tags(conn: Connection, ids: list[int] | None, limit: int = 500) -> list[str]:
    """The tags hosts in scope carry, for a filter's choices."""
    q = sa.select(host_tags.c.tag).distinct()
    if ids is not None:
        q = q.where(host_tags.c.agency_id.in_(ids))
    return list(conn.execute(q.order_by(host_tags.c.tag).limit(limit)).scalars())


def host_detail(conn: Connection, ids: list[int] | None, host_id: str, *, directive: str | None = None,
                status: str | None = None) -> dict[str, Any]:
    q = sa.select(hosts, agencies.c.code, hosts.c.last_report_id.is_not(None).label("reported"),
                  sa.false().label("federated")) \
        .select_from(hosts.join(agencies, agencies.c.id == hosts.c.agency_id)).where(hosts.c.host_id == host_id)
    if ids is not None:
        q = q.where(hosts.c.agency_id.in_(ids))
    row = conn.execute(q).first()
    if row is None:  # also for a host of another agency: its existence is not disclosed
        raise NotFound("no such host in your scope")
    day = today().isoformat()
    rq = sa.select(results.c.doc, results.c.failing_since, results.c.updated_at, results.c.due, results.c.status) \
        .where(results.c.host_pk == row.id)
    if directive is not None:
        rq = rq.where(results.c.directive == directive)
    rq = with_status(rq, status)
    items = []
    for r in conn.execute(rq.order_by(results.c.key)):
        doc = json.loads(r.doc)
        doc["failing_since"] = iso(r.failing_since)
        doc["overdue"] = r.status == "fail" and bool(r.due) and r.due < day  # as of today, not as of the scan
        doc["updated_at"] = iso(r.updated_at)
        items.append(doc)
    hd, v = host_directives, host_directive_versions
    evaluated = {d: (version or None, digest) for d, version, digest in conn.execute(
        sa.select(v.c.directive, v.c.version, v.c.digest).where(v.c.host_pk == row.id))}
    per_directive = []
    for d in conn.execute(sa.select(hd).where(hd.c.host_pk == row.id).order_by(hd.c.directive)):
        counts = {s: int(getattr(d, f"n_{s}")) for s in STATUSES}
        version, digest = evaluated.get(d.directive, (None, None))
        per_directive.append({"directive": d.directive, "status": host_status(counts).value, "counts": counts,
                              "overdue": bool(d.fail_min_due) and d.fail_min_due < day,
                              "version": version, "digest": digest})
    return {"host": _host_json(row, day), "state": {"report_id": row.last_report_id, "sequence": row.last_sequence,
                                    "state_digest": row.state_digest},
            "directives": per_directive, "results": items}


def changes(conn: Connection, ids: list[int] | None, *, since: dt.datetime, until: dt.datetime | None,
            only: str, directive: str | None, limit: int) -> dict[str, Any]:
    """Status changes in a time window: ``regressions`` (to fail), ``fixes`` (from fail), or ``all``."""
    e = events
    q = sa.select(e.c.at, e.c.key, e.c.directive, e.c.requirement, e.c.old_status, e.c.new_status, e.c.report_id,
                  hosts.c.host_id, hosts.c.hostname, agencies.c.code) \
        .select_from(e.join(hosts, hosts.c.id == e.c.host_pk).join(agencies, agencies.c.id == e.c.agency_id)) \
        .where(e.c.at >= since)
    if until is not None:
        q = q.where(e.c.at < until)
    if ids is not None:
        q = q.where(e.c.agency_id.in_(ids))
    if directive is not None:
        q = q.where(e.c.directive == directive)
    if only == "regressions":
        q = q.where(e.c.new_status == "fail", sa.or_(e.c.old_status.is_(None), e.c.old_status != "fail"))
    elif only == "fixes":
        q = q.where(e.c.old_status == "fail", sa.or_(e.c.new_status.is_(None), e.c.new_status != "fail"))
    elif only != "all":
        raise BadRequest("only must be regressions, fixes or all", "$.query.only")
    rows = conn.execute(q.order_by(e.c.at.desc(), e.c.id.desc()).limit(limit))
    return {"since": iso(since), "until": iso(until), "only": only, "changes": [
        {"at": iso(r.at), "agency": r.code, "host_id": r.host_id, "hostname": r.hostname, "key": r.key,
         "directive": r.directive, "requirement": r.requirement, "from": r.old_status, "to": r.new_status,
         "report_id": r.report_id} for r in rows]}


EXPORT_COLUMNS = ("agency", "host_id", "hostname", "key", "directive", "requirement", "status", "due", "overdue",
                  "failing_since", "title", "severity", "message")


def export_results(conn: Connection, ids: list[int] | None, *, directive: str | None,
                   status: str | None) -> Iterator[dict[str, Any]]:
    """Every current result in scope, one flat row each (streamed by the caller)."""
    day = today().isoformat()
    q = sa.select(agencies.c.code, hosts.c.host_id, hosts.c.hostname, results.c.key, results.c.directive,
                  results.c.requirement, results.c.status, results.c.due, results.c.failing_since, results.c.doc) \
        .select_from(results.join(hosts, hosts.c.id == results.c.host_pk)
                     .join(agencies, agencies.c.id == hosts.c.agency_id))
    if ids is not None:
        q = q.where(hosts.c.agency_id.in_(ids))
    if directive is not None:
        q = q.where(results.c.directive == directive)
    q = with_status(q, status)
    for r in conn.execute(q.order_by(agencies.c.code, hosts.c.host_id, results.c.key).execution_options(yield_per=1000)):
        doc = json.loads(r.doc)
        yield {"agency": r.code, "host_id": r.host_id, "hostname": r.hostname, "key": r.key,
               "directive": r.directive, "requirement": r.requirement, "status": r.status, "due": r.due or None,
               "overdue": r.status == "fail" and bool(r.due) and r.due < day, "failing_since": iso(r.failing_since),
               "title": doc.get("title", ""), "severity": doc.get("severity", ""), "message": doc.get("message", "")}


def host_events(conn: Connection, ids: list[int] | None, host_id: str, *, limit: int = 200) -> list[dict[str, Any]]:
    """One host's status changes, newest first: the history behind its current results."""
    q = sa.select(hosts.c.id).where(hosts.c.host_id == host_id)
    if ids is not None:
        q = q.where(hosts.c.agency_id.in_(ids))
    pk = conn.execute(q).scalar()
    if pk is None:
        raise NotFound("no such host in your scope")
    e = events
    rows = conn.execute(sa.select(e.c.at, e.c.key, e.c.directive, e.c.requirement, e.c.old_status, e.c.new_status,
                                  e.c.report_id).where(e.c.host_pk == pk)
                        .order_by(e.c.at.desc(), e.c.id.desc()).limit(limit))
    return [{"at": iso(r.at), "key": r.key, "directive": r.directive, "requirement": r.requirement,
             "from": r.old_status, "to": r.new_status, "report_id": r.report_id} for r in rows]


def overdue_findings(conn: Connection, ids: list[int] | None, *, directive: str | None = None,
                     limit: int = 100, offset: int = 0) -> dict[str, Any]:
    """Failing per-finding results (KEV: one per CVE, each with its own due date) past their due
    date, oldest deadline first; read from the partial index ix_results_failing_findings."""
    day = today().isoformat()
    q = sa.select(agencies.c.code, hosts.c.host_id, hosts.c.hostname, results.c.key, results.c.directive,
                  results.c.requirement, results.c.due, results.c.failing_since, results.c.doc) \
        .select_from(results.join(hosts, hosts.c.id == results.c.host_pk)
                     .join(agencies, agencies.c.id == hosts.c.agency_id)) \
        .where(FAILING_FINDING_RESULTS, results.c.due != "", results.c.due < day)
    if ids is not None:
        q = q.where(hosts.c.agency_id.in_(ids))
    if directive is not None:
        q = q.where(results.c.directive == directive)
    total = conn.execute(sa.select(sa.func.count()).select_from(q.subquery())).scalar_one()
    # the index's own order: the page is read from it, not sorted from every overdue finding
    rows = conn.execute(q.order_by(results.c.due, results.c.host_pk, results.c.key).limit(limit).offset(offset))
    items = []
    for r in rows:
        doc = json.loads(r.doc)
        items.append({"agency": r.code, "host_id": r.host_id, "hostname": r.hostname, "key": r.key,
                      "directive": r.directive, "requirement": r.requirement, "cve": doc.get("cve", ""),
                      "finding": doc.get("finding", ""), "title": doc.get("title", ""),
                      "severity": doc.get("severity", ""), "due": r.due,
                      "days_overdue": (dt.date.fromisoformat(day) - dt.date.fromisoformat(r.due)).days,
                      "failing_since": iso(r.failing_since)})
    return {"today": day, "total": total, "limit": limit, "offset": offset, "findings": items}

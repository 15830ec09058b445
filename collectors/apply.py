"""Applying reports: each host's stored state loaded with its row locked, the report planned
against it (collectors.plan) and the plans of a round written together.

Reports of different hosts that arrive together are applied in one transaction (group commit,
``ingest_many``; collectors.ingest_queue gathers them), but each gets the answer it would get
alone: a refusal is decided before anything is written, and a database error rolls
everything back and retries the reports one by one, so the database never holds half a
report.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from collectors import AuthError, CollectorError, Conflict, Forbidden, Resync
from collectors.auth import Principal, now
from collectors.models import NO_DUE, STATUSES, agg_directives, agg_requirements, events, host_directive_versions, \
    host_directives, host_headers, host_tags, hosts, reports, results
from collectors.plan import (DIRECTIVE_COUNTERS, HostState, Plan, Stored, StoredState, Summary, check_order,
                             directives_digest, plan_writes)
from collectors.storage import Database, in_list

Answer = tuple[int, dict[str, Any]]  # HTTP status and body
Outcome = Answer | Exception  # a refusal (CollectorError) or a database error is one report's outcome
RESULT_COLUMNS = ("directive", "requirement", "status", "due", "updated_at", "doc")
STORED_COLUMNS = ("host_pk", "key", *Stored._fields)  # a stored result: its host and key, then Stored


@dataclass
class Submission:
    """One valid report on its way in: who sent it and when it arrived."""

    principal: Principal
    report: dict[str, Any]
    received: dt.datetime = field(default_factory=now)


def every(outcomes: list[Outcome | None]) -> list[Outcome]:
    """The outcomes, one per report, in order; a report left without one is a bug, never skipped."""
    if any(o is None for o in outcomes):
        raise RuntimeError("ingest left a report without an outcome")
    return [o for o in outcomes if o is not None]


def ingest(db: Database, principal: Principal, report: dict[str, Any]) -> Answer:
    """Apply one valid report; returns (HTTP status, answer). Raises Resync/Conflict/Forbidden."""
    outcome = ingest_many(db, [Submission(principal, report)])[0]
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


def ingest_many(db: Database, subs: Sequence[Submission]) -> list[Outcome]:
    """Apply reports in as few transactions as possible (group commit): one per round of
    distinct hosts, so one commit, one lock of each shared counter and one round trip per
    statement serve the whole round.

    Each report's outcome is what ingesting it alone would give: a refusal is that report's
    answer and never touches the others; a database error (a report id two hosts claim, a
    deadlock with another collector process) rolls the round back and its reports are
    applied one by one, each in its own transaction.
    """
    outcomes: list[Outcome | None] = [None] * len(subs)
    pending = list(range(len(subs)))
    while pending:
        this_round: list[int] = []
        later: list[int] = []
        hosts_in_round: set[int | None] = set()
        for i in pending:
            pk = subs[i].principal.host_pk
            (later if pk in hosts_in_round else this_round).append(i)
            hosts_in_round.add(pk)
        pending = later
        try:
            with db.write() as conn:
                done = _apply_round(db, conn, [subs[i] for i in this_round])
        except sa.exc.DBAPIError as exc:
            if len(this_round) == 1 or exc.connection_invalidated:
                # Alone, or the connection was lost (retrying each report would only wait on
                # it again): the error is the answer, a 409 or a 503 the agent retries after.
                done = [exc] * len(this_round)
            else:
                done = [ingest_many(db, [subs[i]])[0] for i in this_round]
        for i, outcome in zip(this_round, done):
            outcomes[i] = outcome
    return every(outcomes)


@dataclass(frozen=True)
class _Statements:
    hosts: Any
    seen: Any
    summaries: Any
    fail_min_dues: Any


def _statements(db: Database) -> _Statements:
    """The hot path's reads, built once per database (building them costs more than running them)."""
    d = db.engine.dialect
    return db.statement(("ingest-reads",), lambda: _Statements(
        # Host rows locked in id order: two transactions never wait on each other crosswise.
        hosts=sa.select(*(hosts.c[c] for c in HostState._fields[:-1]), host_headers.c.digest)
        .select_from(hosts.outerjoin(host_headers, host_headers.c.host_pk == hosts.c.id))
        .where(in_list(d, hosts.c.id, "pks")).order_by(hosts.c.id).with_for_update(of=hosts),
        seen=sa.select(reports.c.report_id, reports.c.host_pk, reports.c.sequence, reports.c.state_digest)
        .where(in_list(d, reports.c.report_id, "ids")),
        summaries=sa.select(host_directives).where(in_list(d, host_directives.c.host_pk, "pks")),
        # (constants as literals, as the SQL sent before: one statement text whatever the values)
        fail_min_dues=sa.select(results.c.host_pk, results.c.directive, sa.func.min(results.c.due))
        .where(results.c.host_pk.in_(sa.bindparam("pks", expanding=True)),
               results.c.status == sa.literal_column("'fail'"), results.c.due != sa.literal_column(f"'{NO_DUE}'"))
        .group_by(results.c.host_pk, results.c.directive),
    ))


def _result_assignments(excluded: Any) -> dict[str, Any]:
    """A replaced result row; a result failing before and after keeps its failing_since."""
    keep = sa.case((sa.and_(results.c.status == "fail", excluded.status == "fail"), results.c.failing_since),
                   else_=excluded.failing_since)
    return {**{c: excluded[c] for c in RESULT_COLUMNS}, "failing_since": keep}


def _by_host(pks: Sequence[int], rows: Sequence[Sequence[Any]]) -> dict[int, dict[str, Stored]]:
    """Rows of STORED_COLUMNS by host and key (every host of ``pks`` present)."""
    out: dict[int, dict[str, Stored]] = {pk: {} for pk in pks}
    new_stored = tuple.__new__  # builds the named tuple without a Python-level call per row
    for r in rows:
        out[r[0]][r[1]] = new_stored(Stored, r[2:])
    return out


def _load_states(db: Database, conn: Connection, pks: Sequence[int]) -> dict[int, dict[str, Stored]]:
    """Every current result of these hosts in one query, for full reports (a hundred rows per host)."""
    return _by_host(pks, db.select_in(conn, results, STORED_COLUMNS, "host_pk", pks))


def _load_rows(db: Database, conn: Connection, pks: Sequence[int], pairs: Sequence[tuple[int, str]]
               ) -> dict[int, dict[str, Stored]]:
    """The stored results of these (host, key) pairs, by host: the rows deltas replace."""
    return _by_host(pks, db.select_pairs(conn, results, STORED_COLUMNS, ("host_pk", "key"), ("bigint", "text"),
                                         pairs))


def _load_summaries(db: Database, conn: Connection, pks: Sequence[int]) -> dict[int, dict[str, Summary]]:
    """Each host's per-directive summaries as last written (host_directives), to diff against."""
    out: dict[int, dict[str, Summary]] = {pk: {} for pk in pks}
    for row in conn.execute(_statements(db).summaries, {"pks": list(pks)}):
        out[row.host_pk][row.directive] = {"counts": {s: getattr(row, f"n_{s}") for s in STATUSES},
                                           "fail_min_due": row.fail_min_due}
    return out


def _load_headers(db: Database, conn: Connection, pks: Sequence[int]) -> dict[int, dict[str, Any]]:
    """The stored header forms of these hosts (those a compact delta patches: few)."""
    if not pks:
        return {}
    return {pk: json.loads(doc) for pk, doc in db.select_in(conn, host_headers, ("host_pk", "doc"), "host_pk", pks)}


def _apply_round(db: Database, conn: Connection, subs: Sequence[Submission]) -> list[Outcome]:
    """Reports of distinct hosts, checked against stored state and applied in one transaction."""
    outcomes: list[Outcome | None] = [None] * len(subs)
    live: list[int] = []
    for i, sub in enumerate(subs):
        principal = sub.principal
        try:
            principal.require("agent")
            named = sub.report["host"]["id"] if "host" in sub.report else principal.host_id  # a compact delta names none
            if named != principal.host_id:
                raise Forbidden(f"this agent token is bound to host {principal.host_id}, not {named}")
        except CollectorError as exc:
            outcomes[i] = exc
            continue
        live.append(i)
    if live:
        st = _statements(db)
        pks = {i: pk for i in live if (pk := subs[i].principal.host_pk) is not None}  # every agent token has one
        host_rows = {r[0]: HostState._make(r) for r in conn.execute(st.hosts, {"pks": sorted(set(pks.values()))})}
        seen = {r.report_id: r for r in conn.execute(st.seen, {"ids": [subs[i].report["report_id"] for i in live]})}
        ready: list[tuple[int, HostState, str | None]] = []
        for i in live:
            report, host = subs[i].report, host_rows.get(pks.get(i, -1))
            if host is None:
                outcomes[i] = AuthError("the host this token was issued for no longer exists")
                continue
            dup = seen.get(report["report_id"])
            if dup is not None:
                if dup.host_pk != host.id:
                    outcomes[i] = Conflict(f"report_id {report['report_id']} was already used by another host")
                else:  # a replay (the agent did not see our answer): same answer, nothing changes
                    outcomes[i] = (200, {"status": "duplicate", "report_id": report["report_id"],
                                         "host_id": host.host_id, "sequence": dup.sequence,
                                         "state_digest": dup.state_digest})
                continue
            directives = directives_digest(report)
            try:
                check_order(host, report, directives)  # before any of its rows is read
            except Resync as exc:
                outcomes[i] = exc
                continue
            ready.append((i, host, directives))
        if ready:
            # A full report replaces the whole state: every stored row. A delta: the rows it names.
            full = [host.id for i, host, _ in ready if subs[i].report["kind"] == "full"]
            deltas = [(host.id, subs[i].report) for i, host, _ in ready if subs[i].report["kind"] == "delta"]
            stored = _load_states(db, conn, full) if full else {}
            stored.update(_load_rows(db, conn, [pk for pk, _ in deltas],
                                     [(pk, key) for pk, report in deltas
                                      for key in (*(c["key"] for c in report["changes"]), *report["removed"])]))
            summaries = _load_summaries(db, conn, [host.id for _, host, _ in ready])
            headers = _load_headers(db, conn, [host.id for i, host, _ in ready if "header" in subs[i].report])
            plans: list[Plan] = []
            for i, host, directives in ready:
                try:
                    plan = plan_writes(StoredState(host, stored[host.id], summaries[host.id], headers.get(host.id)),
                                       subs[i].report, subs[i].received, directives)
                except CollectorError as exc:
                    outcomes[i] = exc
                    continue
                plans.append(plan)
                outcomes[i] = (200, plan.answer)
            _write(db, conn, plans)
    return every(outcomes)


def _write(db: Database, conn: Connection, plans: Sequence[Plan]) -> None:
    """A round's plans, one statement per kind of write."""
    for plan in plans:  # a host's tags change rarely: statements of its own when they do
        if plan.tags_removed:
            conn.execute(host_tags.delete().where(host_tags.c.host_pk == plan.host["id"],
                                                  host_tags.c.tag.in_(plan.tags_removed)))
        if plan.tags_added:
            conn.execute(host_tags.insert(), plan.tags_added)
    db.delete_many(conn, results, [row for p in plans for row in p.deleted_results])
    _write_results(db, conn, plans)
    recounts = [p for p in plans if p.recount]
    if recounts:
        dues = {(pk, directive): due for pk, directive, due in conn.execute(
            _statements(db).fail_min_dues, {"pks": sorted({p.host["id"] for p in recounts})})}
        for plan in recounts:
            plan.settle(dues)
    db.insert_many(conn, events, [row for p in plans for row in p.events])
    db.delete_many(conn, host_directives, [row for p in plans for row in p.deleted_host_directives])
    db.upsert_replace(conn, host_directives, [row for p in plans for row in p.host_directives.values()],
                      ("host_pk", "directive"))
    db.update_many(conn, hosts, [p.host for p in plans], "id")
    db.upsert_replace(conn, host_headers, [p.header_doc for p in plans if p.header_doc is not None], ("host_pk",))
    _write_versions(db, conn, [p for p in plans if p.versions is not None])
    db.insert_many(conn, reports, [p.report for p in plans])
    # The shared counters last, in key order: other rounds wait on these rows only until our
    # commit, and every transaction locks them in the same order.
    requirement_counts: dict[tuple[int, str, str, str, int], dict[str, int]] = {}
    directive_counts: dict[tuple[int, str, int], list[int]] = {}
    for plan in plans:
        _add(requirement_counts, plan.requirement_counts)
        _add(directive_counts, plan.directive_counts)
    rows = [{"agency_id": a, "directive": d, "requirement": r, "due": due, "shard": shard,
             **{f"n_{s}": c[s] for s in STATUSES}}
            for (a, d, r, due, shard), c in sorted(requirement_counts.items()) if any(c.values())]
    db.upsert_add(conn, agg_requirements, rows, ("agency_id", "directive", "requirement", "due", "shard"),
                  [f"n_{s}" for s in STATUSES])
    rows = [{"agency_id": a, "directive": d, "shard": shard, **dict(zip(DIRECTIVE_COUNTERS, change))}
            for (a, d, shard), change in sorted(directive_counts.items()) if any(change)]
    db.upsert_add(conn, agg_directives, rows, ("agency_id", "directive", "shard"), list(DIRECTIVE_COUNTERS))


def _write_versions(db: Database, conn: Connection, plans: Sequence[Plan]) -> None:
    """The directive versions of hosts whose directives changed: a directive no longer
    evaluated leaves, a new one or a new version is written with the time of this report, one
    evaluated before keeps the time it was first seen."""
    for plan in plans:
        kept = [row["directive"] for row in plan.versions or ()]
        t = host_directive_versions
        conn.execute(t.delete().where(t.c.host_pk == plan.host["id"], t.c.directive.not_in(kept)))
    db.upsert(conn, host_directive_versions, [row for p in plans for row in p.versions or ()], ("host_pk", "directive"),
              _version_assignments, "version")


def _version_assignments(excluded: Any) -> dict[str, Any]:
    t = host_directive_versions
    same = sa.and_(t.c.digest == excluded.digest, t.c.version == excluded.version)
    return {"agency_id": excluded.agency_id, "version": excluded.version, "digest": excluded.digest,
            "since": sa.case((same, t.c.since), else_=excluded.since)}


def _write_results(db: Database, conn: Connection, plans: Sequence[Plan]) -> None:
    """The round's new and replaced results. A key its host did not hold when its rows were read
    (under the host's row lock, which every writer takes first) is inserted, with no conflict
    to resolve: a first full report's rows go straight in."""
    inserts = [row for p in plans for row in p.results if row["key"] in p.inserted]
    upserts = [row for p in plans for row in p.results if row["key"] not in p.inserted]
    db.insert_many(conn, results, inserts)
    db.upsert(conn, results, upserts, ("host_pk", "key"), _result_assignments, "result")


def _add(total: dict[Any, Any], changes: Mapping[Any, Any]) -> None:
    """Counter changes (a dict or list of changes per key) added to the round's ``total``."""
    for key, change in changes.items():
        have = total.get(key)
        if have is None:
            total[key] = change.copy()
        elif isinstance(change, list):
            for slot, n in enumerate(change):
                have[slot] += n
        else:
            for status, n in change.items():
                have[status] += n

"""Ingest: enrollment of hosts, and full reports and deltas applied atomically.

A report is checked against the agent's own schema (agent.report.validation_errors), then,
with the host's row locked, checked against stored state (duplicate, sequence, base,
directives), applied, and its ``state_digest`` compared with agent.report.state_digest over
the resulting full state. A full report reads the host's stored results; a delta reads only
the rows it replaces and moves the stored digest (a sum, agent.report.state_digest) and the
per-directive summaries by them, so its cost does not grow with the host's state. Reports
of different hosts that arrive together are applied in one transaction (group commit,
``ingest_many``; collectors.ingest_queue gathers them), but each gets the answer it would get
alone: a refusal is decided before anything is written, and a database error rolls
everything back and retries the reports one by one, so the database never holds half a
report.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Iterable, Mapping, NamedTuple, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from agent.contract import HostStatus, host_status
from agent.report import canonical, digest_text, digest_value, result_hash, validation_errors
from collectors import AuthError, BadRequest, CollectorError, Conflict, Forbidden, Resync, TooLarge, inputs
from collectors.auth import ENROLL, Principal, create_token, now
from collectors.models import (HOST_STATUS_COLUMNS, NO_DUE, SHARDS, STATUSES, agg_directives, agg_requirements,
                               events, host_directives, host_tags, hosts, reports, results, tokens)
from collectors.storage import Database, in_list, inserted_id

DEFAULT_MAX_BODY = 16 * 1024 * 1024
SQLITE_PAIRS = 10_000  # (host, key) pairs per lookup: 20,000 parameters, under SQLite's 32,766
# agg_directives' counters in the order of a round's changes to them: hosts, then hosts by status
DIRECTIVE_COUNTERS = ("hosts", *HOST_STATUS_COLUMNS)
_STATUS_SLOT = {status: 1 + i for i, status in enumerate(HostStatus)}  # HOST_STATUS_COLUMNS is in this order


# ---------------------------------------------------------------------------- parsing


def decode_body(raw: bytes, encoding: str | None, limit: int) -> bytes:
    """The request body, gunzipped when sent with Content-Encoding: gzip, at most ``limit`` bytes."""
    if not encoding or encoding == "identity":
        return raw
    if encoding != "gzip":
        raise BadRequest(f"unsupported Content-Encoding {encoding!r} (use gzip or none)")
    inflater = zlib.decompressobj(wbits=31)
    try:
        out = inflater.decompress(raw, limit + 1)
    except zlib.error as exc:
        raise BadRequest(f"body is not valid gzip: {exc}") from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise TooLarge(f"body is larger than {limit} bytes once decompressed")
    return out


def parse_json(raw: bytes) -> Any:
    """A request body's JSON value (collectors.inputs: bounded depth, no NUL, no lone surrogate)."""
    return inputs.parse(raw)


@lru_cache(maxsize=1)
def _fast_validator() -> Any:
    """The report schema compiled to Python (about 25 times faster than interpreting it), with
    the same format checks as the agent's validator, so both accept the same reports."""
    import fastjsonschema
    import jsonschema

    from agent.report import schema

    checker = jsonschema.FormatChecker()
    formats = {name: (lambda value, name=name: checker.conforms(value, name)) for name in ("date", "date-time")}
    return fastjsonschema.compile(schema(), formats=formats)


def parse_report(raw: bytes) -> dict[str, Any]:
    """A valid report, or BadRequest naming the JSON path of the first problem."""
    import fastjsonschema

    report = inputs.parse(raw, inputs.report_nul_allowed)
    try:
        _fast_validator()(report)
    except fastjsonschema.JsonSchemaException:
        # The agent's own validator is the judge and words the errors.
        problems = validation_errors(report)
        if problems:
            path, _, message = problems[0].partition(": ")
            raise BadRequest(message, path, problems[:50]) from None
    items = report["results"] if report["kind"] == "full" else report["changes"]
    field = "results" if report["kind"] == "full" else "changes"
    seen: set[str] = set()
    for i, r in enumerate(items):
        if r["key"] in seen:
            raise BadRequest(f"duplicate result key {r['key']!r}", f"$.{field}[{i}].key")
        seen.add(r["key"])
    for i, key in enumerate(report.get("removed") or []):
        if key in seen:
            raise BadRequest(f"key {key!r} is both changed and removed", f"$.removed[{i}]")
    return report


def utc(value: str) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return parsed


# ---------------------------------------------------------------------------- enrollment


def enroll(db: Database, principal: Principal, body: Any) -> dict[str, Any]:
    """Register a host in the enrolling agency; returns its new agent token (shown once).

    A host already enrolled is claimed only by the install that holds it (the same
    ``instance``: a reinstall of its credential, which revokes its previous agent tokens), or
    once it is free: released by that install (``POST /api/v1/release``) or by an admin
    (``fedharden collector host release|reset``). Anything else, another install or an
    enrollment that names none, is refused with 409: the enrollment secret alone never takes
    a host from the agent that reports for it. A host enrolled without an instance gets one
    the agent never learns, so no later enrollment claims it until it is released. The
    answer names the host's current head (``last_report_id``, ``last_sequence``; null for a
    new host): the new install's chain continues after it instead of taking it for another
    machine's.
    """
    principal.require(ENROLL)
    if not isinstance(body, dict):
        raise BadRequest("the enrollment body is a JSON object", "$")
    host_id = body.get("host_id")
    if not isinstance(host_id, str) or not 1 <= len(host_id) <= 200:
        raise BadRequest("host_id: a string of 1 to 200 characters is required", "$.host_id")
    hostname = body.get("hostname", "")
    if not isinstance(hostname, str) or len(hostname) > 255:
        raise BadRequest("hostname: a string of at most 255 characters", "$.hostname")
    instance = body.get("instance")
    if instance is not None and (not isinstance(instance, str) or not 1 <= len(instance) <= 64):
        raise BadRequest("instance: a string of 1 to 64 characters", "$.instance")
    claim = instance or "unnamed:" + secrets.token_hex(16)
    at = now()
    with db.write() as conn:
        row = conn.execute(sa.select(hosts.c.id, hosts.c.agency_id, hosts.c.instance, hosts.c.last_report_id,
                                     hosts.c.last_sequence)
                           .where(hosts.c.host_id == host_id).with_for_update()).first()
        if row is not None and row.agency_id != principal.agency_id:
            raise Conflict(f"host {host_id} is enrolled in another agency", reason="other_agency")
        if row is not None and row.instance is not None and row.instance != instance:
            if instance is None:
                raise Conflict(f"host {host_id} is already enrolled: only its own install enrolls it again "
                               "(with its instance); to hand the host to a new install, the old one releases "
                               f"it, or an admin runs `fedharden collector host reset {host_id}`",
                               reason="enrolled")
            raise Conflict(f"host {host_id} is already enrolled by another install with the same machine-id "
                           "(a cloned image?): give this machine its own machine-id, or have an admin run "
                           f"`fedharden collector host release {host_id}` if the old install is gone",
                           reason="other_install")
        if row is None:
            host_pk = inserted_id(conn.execute(hosts.insert().values(
                host_id=host_id, agency_id=principal.agency_id, hostname=hostname, enrolled_at=at, shard=0,
                instance=claim,
            )))
            conn.execute(hosts.update().where(hosts.c.id == host_pk).values(shard=host_pk % SHARDS))
        else:
            host_pk = int(row.id)
            conn.execute(hosts.update().where(hosts.c.id == host_pk).values(instance=claim))
            conn.execute(tokens.update().where(tokens.c.host_pk == host_pk, tokens.c.role == "agent",
                                               tokens.c.revoked_at.is_(None)).values(revoked_at=at))
        _, token = create_token(conn, "agent", agency_id=principal.agency_id, host_pk=host_pk,
                                name=f"enrolled {hostname or host_id}")
    return {"status": "enrolled", "host_id": host_id, "agency": principal.agency, "token": token,
            "last_report_id": row.last_report_id if row is not None else None,
            "last_sequence": row.last_sequence if row is not None else None}


def release(db: Database, principal: Principal) -> dict[str, Any]:
    """The install that holds a host gives it up: the next enrollment of its agency claims it
    (and revokes this install's token then; until then the token keeps working)."""
    from collectors.admin import release_host

    principal.require("agent")
    assert principal.host_id is not None
    with db.write() as conn:
        release_host(conn, principal.host_id, f"agent token {principal.token_id}")
    return {"status": "released", "host_id": principal.host_id}


# ---------------------------------------------------------------------------- reports


class Stored(NamedTuple):
    """One current result as stored: what ingest needs to diff, count and digest."""

    directive: str
    requirement: str
    status: str
    due: str
    doc: str


Summary = dict[str, Any]  # one directive on one host: {"counts": {status: n}, "fail_min_due": date or NO_DUE}
Answer = tuple[int, dict[str, Any]]  # HTTP status and body
Outcome = Answer | Exception  # a refusal (CollectorError) or a database error is one report's outcome


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


def directives_digest(report: Mapping[str, Any]) -> str:
    pairs = sorted((d["id"], d["digest"]) for d in report["directives"])
    return "sha256:" + hashlib.sha256(canonical(pairs)).hexdigest()


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


def _position(host: Any) -> dict[str, Any]:
    """What the collector holds for the host, told with every resync so the agent can realign."""
    return {"last_report_id": host.last_report_id, "last_sequence": host.last_sequence}


def _check_order(host: Any, report: Mapping[str, Any], directives: str) -> None:
    seq = report["sequence"]
    if host.last_sequence is not None and seq <= host.last_sequence:
        raise Resync("out_of_order", f"sequence {seq} is not after the last applied sequence {host.last_sequence}",
                     **_position(host))
    if report["kind"] != "delta":
        return
    if host.last_report_id is None:
        raise Resync("no_state", "the collector holds no state for this host yet", **_position(host))
    if report["base"] != host.last_report_id:
        raise Resync("unknown_base", f"base {report['base']} is not the host's current state", **_position(host))
    if host.directives_digest != directives:
        raise Resync("directives_changed", "the directives differ from those of the host's current state",
                     **_position(host))


@dataclass(frozen=True)
class _Statements:
    hosts: Any
    seen: Any
    summaries: Any


RESULT_COLUMNS = ("directive", "requirement", "status", "due", "updated_at", "doc")
STORED_COLUMNS = "r.host_pk, r.key, r.directive, r.requirement, r.status, r.due, r.doc"  # host, key, Stored


def _statements(db: Database) -> _Statements:
    """The hot path's reads, built once per database (building them costs more than running them)."""
    key = ("ingest-reads",)
    found = db._statements.get(key)
    if found is None:
        d = db.engine.dialect
        found = db._statements[key] = _Statements(
            # Host rows locked in id order: two transactions never wait on each other crosswise.
            hosts=sa.select(hosts).where(in_list(d, hosts.c.id, "pks")).order_by(hosts.c.id).with_for_update(of=hosts),
            seen=sa.select(reports.c.report_id, reports.c.host_pk, reports.c.sequence, reports.c.state_digest)
            .where(in_list(d, reports.c.report_id, "ids")),
            summaries=sa.select(host_directives).where(in_list(d, host_directives.c.host_pk, "pks")),
        )
    return found


def _result_assignments(excluded: Any) -> dict[str, Any]:
    """A replaced result row; a result failing before and after keeps its failing_since."""
    keep = sa.case((sa.and_(results.c.status == "fail", excluded.status == "fail"), results.c.failing_since),
                   else_=excluded.failing_since)
    return {**{c: excluded[c] for c in RESULT_COLUMNS}, "failing_since": keep}


def _load_states(conn: Connection, pks: Sequence[int]) -> dict[int, dict[str, Stored]]:
    """Every current result of these hosts in one query, for full reports (a hundred rows per
    host): plain DB-API tuples, no result objects."""
    # IN with one placeholder per host, not = ANY(array) as lookups by key do (storage.in_list):
    # for a hundred rows per host, the array form's generic plan measured twice the database
    # CPU per report.
    return _stored_rows(conn, pks, [(f"SELECT {STORED_COLUMNS} FROM results r WHERE r.host_pk IN "
                                     f"({_marks(conn, len(pks))})", tuple(pks))])


def _marks(conn: Connection, n: int) -> str:
    """``n`` comma-separated DB-API placeholders, for SQL sent to the driver as it is."""
    return ",".join(["?" if conn.dialect.paramstyle == "qmark" else "%s"] * n)


def _stored_rows(conn: Connection, pks: Sequence[int], queries: Sequence[tuple[str, Any]]
                 ) -> dict[int, dict[str, Stored]]:
    """The rows these queries of STORED_COLUMNS return, by host and key (every host of ``pks``
    present): plain DB-API tuples, no result objects."""
    rows: dict[int, dict[str, Stored]] = {pk: {} for pk in pks}
    new_stored = tuple.__new__  # builds the named tuple without a Python-level call per row
    for sql, params in queries:
        for r in conn.exec_driver_sql(sql, params).cursor.fetchall():
            rows[r[0]][r[1]] = new_stored(Stored, r[2:])
    return rows


def _load_rows(conn: Connection, pks: Sequence[int], pairs: Sequence[tuple[int, str]]) -> dict[int, dict[str, Stored]]:
    """The stored results of these (host, key) pairs, by host: the rows deltas replace."""
    queries: list[tuple[str, Any]] = []
    if conn.dialect.paramstyle == "qmark":  # SQLite: each pair looked up in the primary key, in turn
        for at in range(0, len(pairs), SQLITE_PAIRS):  # within any build's limit on parameters
            chunk = pairs[at:at + SQLITE_PAIRS]
            queries.append((f"SELECT {STORED_COLUMNS} FROM (VALUES {','.join(['(?,?)'] * len(chunk))}) AS w "
                            "CROSS JOIN results r ON r.host_pk = w.column1 AND r.key = w.column2",
                            tuple(v for pair in chunk for v in pair)))
    elif pairs:  # PostgreSQL: two arrays, one statement text whatever their length (prepared once)
        queries.append((f"SELECT {STORED_COLUMNS} FROM results r JOIN unnest(%s::bigint[], %s::text[]) "
                        "AS w(host_pk, key) ON r.host_pk = w.host_pk AND r.key = w.key",
                        ([pk for pk, _ in pairs], [key for _, key in pairs])))
    return _stored_rows(conn, pks, queries)


def _fail_min_dues(conn: Connection, pks: Sequence[int]) -> dict[tuple[int, str], str]:
    """The earliest due date of each directive's failing results on these hosts, as stored."""
    sql = f"SELECT host_pk, directive, min(due) FROM results WHERE host_pk IN ({_marks(conn, len(pks))}) " \
          f"AND status = 'fail' AND due <> '{NO_DUE}' GROUP BY host_pk, directive"
    return {(pk, directive): due for pk, directive, due in conn.exec_driver_sql(sql, tuple(pks)).cursor.fetchall()}


def _load_summaries(db: Database, conn: Connection, pks: Sequence[int]) -> dict[int, dict[str, Summary]]:
    """Each host's per-directive summaries as last written (host_directives), to diff against."""
    out: dict[int, dict[str, Summary]] = {pk: {} for pk in pks}
    for row in conn.execute(_statements(db).summaries, {"pks": list(pks)}):
        out[row.host_pk][row.directive] = {"counts": {s: getattr(row, f"n_{s}") for s in STATUSES},
                                           "fail_min_due": row.fail_min_due}
    return out


@dataclass
class _Recount:
    """A host whose earliest failing due date left with a result of one of ``directives``: the
    date is read back from the stored results once the round's results are written."""

    host_pk: int
    directives: set[str]
    summaries: dict[str, Summary]
    host_row: dict[str, Any]  # the host's pending row in _Writes.hosts
    rows: dict[str, dict[str, Any]]  # its pending host_directives rows, by directive

    def settle(self, dues: Mapping[tuple[int, str], str]) -> None:
        for directive in self.directives & set(self.summaries):
            due = dues.get((self.host_pk, directive), NO_DUE)
            self.summaries[directive]["fail_min_due"] = self.rows[directive]["fail_min_due"] = due
        self.host_row["fail_min_due"] = _host_min_due(self.summaries)


@dataclass
class _Writes:
    """A round's writes, gathered from every accepted report and sent one statement per kind."""

    deleted_results: list[dict[str, Any]] = field(default_factory=list)
    results: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    deleted_host_directives: list[dict[str, Any]] = field(default_factory=list)
    host_directives: list[dict[str, Any]] = field(default_factory=list)
    hosts: list[dict[str, Any]] = field(default_factory=list)
    reports: list[dict[str, Any]] = field(default_factory=list)
    recounts: list[_Recount] = field(default_factory=list)
    # Counter changes by the counter tables' keys, in their column order (so sorting the keys
    # gives the lock order): (agency, directive, requirement, due, shard) -> {status: change}
    requirement_counts: defaultdict[tuple[int, str, str, str, int], dict[str, int]] = field(
        default_factory=lambda: defaultdict(lambda: dict.fromkeys(STATUSES, 0)))
    # (agency, directive, shard) -> change in each of DIRECTIVE_COUNTERS
    directive_counts: defaultdict[tuple[int, str, int], list[int]] = field(
        default_factory=lambda: defaultdict(lambda: [0] * len(DIRECTIVE_COUNTERS)))

    def flush(self, db: Database, conn: Connection) -> None:
        db.delete_many(conn, results, self.deleted_results)
        db.upsert(conn, results, self.results, ("host_pk", "key"), _result_assignments, "result")
        if self.recounts:
            dues = _fail_min_dues(conn, sorted({r.host_pk for r in self.recounts}))
            for recount in self.recounts:
                recount.settle(dues)
        db.insert_many(conn, events, self.events)
        db.delete_many(conn, host_directives, self.deleted_host_directives)
        db.upsert_replace(conn, host_directives, self.host_directives, ("host_pk", "directive"))
        db.update_many(conn, hosts, self.hosts, "id")
        db.insert_many(conn, reports, self.reports)
        # The shared counters last, in key order: other rounds wait on these rows only until our
        # commit, and every transaction locks them in the same order.
        rows = [{"agency_id": a, "directive": d, "requirement": r, "due": due, "shard": shard,
                 **{f"n_{s}": c[s] for s in STATUSES}}
                for (a, d, r, due, shard), c in sorted(self.requirement_counts.items()) if any(c.values())]
        db.upsert_add(conn, agg_requirements, rows, ("agency_id", "directive", "requirement", "due", "shard"),
                      [f"n_{s}" for s in STATUSES])
        rows = [{"agency_id": a, "directive": d, "shard": shard, **dict(zip(DIRECTIVE_COUNTERS, change))}
                for (a, d, shard), change in sorted(self.directive_counts.items()) if any(change)]
        db.upsert_add(conn, agg_directives, rows, ("agency_id", "directive", "shard"), list(DIRECTIVE_COUNTERS))


def _apply_round(db: Database, conn: Connection, subs: Sequence[Submission]) -> list[Outcome]:
    """Reports of distinct hosts, checked against stored state and applied in one transaction."""
    outcomes: list[Outcome | None] = [None] * len(subs)
    live: list[int] = []
    for i, sub in enumerate(subs):
        principal = sub.principal
        try:
            principal.require("agent")
            if sub.report["host"]["id"] != principal.host_id:
                raise Forbidden(f"this agent token is bound to host {principal.host_id}, "
                                f"not {sub.report['host']['id']}")
        except CollectorError as exc:
            outcomes[i] = exc
            continue
        live.append(i)
    if live:
        st = _statements(db)
        pks = sorted({pk for i in live if (pk := subs[i].principal.host_pk) is not None})
        host_rows = {r.id: r for r in conn.execute(st.hosts, {"pks": pks})}
        seen = {r.report_id: r for r in conn.execute(st.seen, {"ids": [subs[i].report["report_id"] for i in live]})}
        ready: list[tuple[int, Any, str]] = []
        for i in live:
            report, host = subs[i].report, host_rows.get(subs[i].principal.host_pk)
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
                _check_order(host, report, directives)
            except Resync as exc:
                outcomes[i] = exc
                continue
            ready.append((i, host, directives))
        if ready:
            # A full report replaces the whole state: every stored row. A delta: the rows it names.
            full = [host.id for i, host, _ in ready if subs[i].report["kind"] == "full"]
            deltas = [(host.id, subs[i].report) for i, host, _ in ready if subs[i].report["kind"] == "delta"]
            stored = _load_states(conn, full) if full else {}
            stored.update(_load_rows(conn, [pk for pk, _ in deltas],
                                     [(pk, key) for pk, report in deltas
                                      for key in (*(c["key"] for c in report["changes"]), *report["removed"])]))
            summaries = _load_summaries(db, conn, [host.id for _, host, _ in ready])
            writes = _Writes()
            for i, host, directives in ready:
                try:
                    outcomes[i] = _apply(writes, conn, host, subs[i], directives, stored[host.id],
                                         summaries[host.id])
                except CollectorError as exc:
                    outcomes[i] = exc
            writes.flush(db, conn)
    return every(outcomes)


def _apply(writes: _Writes, conn: Connection, host: Any, sub: Submission, directives: str,
           stored: Mapping[str, Stored], old_summaries: Mapping[str, Summary]) -> Answer:
    """Check one report against its host's state and add what it changes to the round's writes.
    ``stored``: for a full report every stored result of the host, for a delta those it names."""
    report, received = sub.report, sub.received
    full = report["kind"] == "full"
    new = {r["key"]: r for r in (report["results"] if full else report["changes"])}
    new_docs = {key: canonical(item) for key, item in new.items()}
    if full:
        removed = [key for key in stored if key not in new]
        summed = sum(result_hash(doc) for doc in new_docs.values())
        count = len(new)
    else:
        removed = report["removed"]
        for i, key in enumerate(removed):
            if key not in stored:
                raise Resync("unknown_key", f"removed key {key!r} ($.removed[{i}]) is not in the host's current "
                             "state", **_position(host))
        base = digest_value(host.state_digest or "")
        if base is None:
            raise Resync("digest_mismatch", "the host's stored state has a digest of an older form; send a full "
                         "report", **_position(host))
        # The stored digest moved by the rows replaced: a delta costs what it changes.
        summed = base + sum(result_hash(doc) for doc in new_docs.values())
        summed -= sum(result_hash(stored[key].doc.encode()) for key in (*removed, *(k for k in new if k in stored)))
        count = host.total + sum(key not in stored for key in new) - len(removed)
    digest = digest_text(summed)
    if digest != report["state_digest"]:
        if full:
            raise BadRequest("does not match the digest of the report's results", "$.state_digest")
        raise Resync("digest_mismatch", "the state after applying this delta does not match its state_digest",
                     expected=report["state_digest"], computed=digest, **_position(host))
    observed = min(utc(report["generated_at"]), received)  # an agent clock ahead of ours is clamped
    had_state = host.last_report_id is not None
    agency, shard = host.agency_id, host.shard
    counts = writes.requirement_counts
    changed: list[tuple[Stored | None, Mapping[str, Any]]] = []  # (stored row or None, new result)
    for key, item in new.items():
        doc = new_docs[key].decode()
        old = stored.get(key)
        if old is not None and old.doc == doc:
            continue
        status, due = item["status"], item["due"] or NO_DUE
        changed.append((old, item))
        writes.results.append({"host_pk": host.id, "key": key, "directive": item["directive"],
                               "requirement": item["requirement"], "status": status, "due": due,
                               # kept by the upsert while the result keeps failing
                               "failing_since": observed if status == "fail" else None,
                               "updated_at": received, "doc": doc})
        counts[(agency, item["directive"], item["requirement"], due, shard)][status] += 1
        if old is not None:
            counts[(agency, old.directive, old.requirement, old.due, shard)][old.status] -= 1
        if had_state and (old is None or old.status != status):
            writes.events.append(_event(host, report, key, item["directive"], item["requirement"],
                                        old.status if old else None, status, received))
    for key in removed:
        old = stored[key]
        writes.deleted_results.append({"host_pk": host.id, "key": key})
        counts[(agency, old.directive, old.requirement, old.due, shard)][old.status] -= 1
        writes.events.append(_event(host, report, key, old.directive, old.requirement, old.status, None, received))

    recount: set[str] = set()
    if full:
        summaries = _summaries_of((r["directive"], r["status"], r["due"] or NO_DUE) for r in new.values())
    else:
        summaries, recount = _summaries_moved(old_summaries, changed, [stored[key] for key in removed])
    hd_rows = _host_directive_writes(writes, host, old_summaries, summaries, recount)
    totals = Counter[str]()
    for summary in summaries.values():
        totals.update(summary["counts"])
    host_row = dict(
        id=host.id, hostname=report["host"]["hostname"], target=report["host"]["target"],
        os=(report["host"].get("os") or {}).get("pretty_name", ""), agent_version=report["agent"]["version"],
        last_seen=received, last_scan=observed, last_report_id=report["report_id"],
        last_sequence=report["sequence"], state_digest=report["state_digest"], directives_digest=directives,
        total=count, fail_min_due=_host_min_due(summaries),
        tags=_update_tags(conn, host, report["host"].get("tags") or []),
        **{f"n_{s}": totals[s] for s in STATUSES})
    writes.hosts.append(host_row)
    if recount:
        writes.recounts.append(_Recount(host.id, recount, summaries, host_row, hd_rows))
    upserts = len(changed)
    writes.reports.append(dict(
        report_id=report["report_id"], host_pk=host.id, kind=report["kind"], sequence=report["sequence"],
        state_digest=report["state_digest"], generated_at=observed, received_at=received,
        changed=upserts + len(removed)))
    return 200, {"status": "accepted", "report_id": report["report_id"], "host_id": host.host_id,
                 "sequence": report["sequence"], "state_digest": digest, "changed": upserts, "removed": len(removed)}


def _update_tags(conn: Connection, host: Any, tags: list[str]) -> str:
    """The host's tags as its last report gave them, as stored on its row (one per line, sorted);
    the host_tags rows the tag filter reads change only when the set does, so the usual report
    costs no extra statement."""
    stored = "\n".join(sorted(set(tags)))
    if stored != (host.tags or ""):
        have, want = set(filter(None, (host.tags or "").split("\n"))), set(tags)
        if have - want:
            conn.execute(host_tags.delete().where(host_tags.c.host_pk == host.id,
                                                  host_tags.c.tag.in_(sorted(have - want))))
        if want - have:
            conn.execute(host_tags.insert(), [{"host_pk": host.id, "tag": t, "agency_id": host.agency_id}
                                              for t in sorted(want - have)])
    return stored


def _event(host: Any, report: Mapping[str, Any], key: str, directive: str, requirement: str,
           old: str | None, new: str | None, at: dt.datetime) -> dict[str, Any]:
    return {"agency_id": host.agency_id, "host_pk": host.id, "key": key, "directive": directive,
            "requirement": requirement, "old_status": old, "new_status": new, "at": at,
            "report_id": report["report_id"]}


def _empty_summary() -> Summary:
    return {"counts": dict.fromkeys(STATUSES, 0), "fail_min_due": NO_DUE}


def _summaries_of(rows: Iterable[tuple[str, str, str]]) -> dict[str, Summary]:
    """Per-directive summaries of a whole state, from (directive, status, due) of each result."""
    out: dict[str, Summary] = {}
    for directive, status, due in rows:
        summary = out.get(directive)
        if summary is None:
            summary = out[directive] = _empty_summary()
        _count(summary, status, due)
    return out


def _count(summary: Summary, status: str, due: str) -> None:
    """One more result in ``summary``: its status counted, its due date the earliest failing one
    if it fails before the others."""
    summary["counts"][status] += 1
    if status == "fail" and due and (not summary["fail_min_due"] or due < summary["fail_min_due"]):
        summary["fail_min_due"] = due


def _summaries_moved(old: Mapping[str, Summary], changed: Sequence[tuple[Stored | None, Mapping[str, Any]]],
                     removed: Sequence[Stored]) -> tuple[dict[str, Summary], set[str]]:
    """Per-directive summaries after a delta: the stored ones moved by the results it replaces,
    adds and removes; and the directives whose earliest failing due date may have left with
    one of them, that date to be read back once the results are written."""
    out = dict(old)
    copied: set[str] = set()
    recount: set[str] = set()

    def summary(directive: str) -> Summary:
        if directive not in copied:  # the stored summaries stay as loaded: they are diffed after
            prev = out.get(directive)
            out[directive] = ({"counts": dict(prev["counts"]), "fail_min_due": prev["fail_min_due"]}
                              if prev else _empty_summary())
            copied.add(directive)
        return out[directive]

    def leave(row: Stored) -> None:
        s = summary(row.directive)
        s["counts"][row.status] -= 1
        if row.status == "fail" and row.due and row.due == s["fail_min_due"]:
            recount.add(row.directive)

    for row, item in changed:
        if row is not None:
            leave(row)
        _count(summary(item["directive"]), item["status"], item["due"] or NO_DUE)
    for row in removed:
        leave(row)
    for directive in copied:
        counts = out[directive]["counts"]
        if not any(counts.values()):
            del out[directive]  # the host has no result of it any more
        elif not counts["fail"]:
            out[directive]["fail_min_due"] = NO_DUE
    return out, recount


def _host_min_due(summaries: Mapping[str, Summary]) -> str:
    dues = [s["fail_min_due"] for s in summaries.values() if s["fail_min_due"]]
    return min(dues) if dues else NO_DUE


def _host_directive_writes(writes: _Writes, host: Any, old: Mapping[str, Summary], new: Mapping[str, Summary],
                           recount: set[str]) -> dict[str, dict[str, Any]]:
    """host_directives rows that changed (and those whose due date is to be read back), and the
    per-directive host counters they move; returns the written rows by directive."""
    counters = writes.directive_counts
    rows: dict[str, dict[str, Any]] = {}
    for directive in sorted(set(old) - set(new)):
        writes.deleted_host_directives.append({"host_pk": host.id, "directive": directive})
        delta = counters[(host.agency_id, directive, host.shard)]
        delta[0] -= 1
        delta[_STATUS_SLOT[host_status(old[directive]["counts"])]] -= 1
    for directive, summary in new.items():
        prev = old.get(directive)
        if prev == summary and directive not in recount:
            continue
        counts = summary["counts"]
        rows[directive] = {"host_pk": host.id, "directive": directive, "agency_id": host.agency_id,
                           "fail_min_due": summary["fail_min_due"], **{f"n_{s}": counts[s] for s in STATUSES}}
        writes.host_directives.append(rows[directive])
        # the directive's host status, from the counts at hand (agent.contract: unknown is never compliant)
        status = host_status(counts)
        was = host_status(prev["counts"]) if prev is not None else None
        if status is not was:
            delta = counters[(host.agency_id, directive, host.shard)]
            delta[_STATUS_SLOT[status]] += 1
            if was is None:
                delta[0] += 1
            else:
                delta[_STATUS_SLOT[was]] -= 1
    return rows

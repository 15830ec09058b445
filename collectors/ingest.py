"""Ingest: enrollment of hosts, and full reports and deltas applied in one transaction each.

A report is checked against the agent's own schema (agent.report.validation_errors), then,
with the host's row locked, checked against stored state (duplicate, sequence, base,
directives), applied, and its ``state_digest`` compared with agent.report.state_digest over
the resulting full state. Any refusal raises before anything is written, and the transaction
is rolled back, so the database never holds half a report.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Mapping, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from agent.report import canonical, validation_errors
from collectors import BadRequest, Conflict, Forbidden, Resync, TooLarge
from collectors.auth import ENROLL, Principal, create_token, now
from collectors.models import (NO_DUE, SHARDS, STATUSES, agg_directives, agg_requirements, events,
                               host_directives, host_tags, hosts, reports, results, tokens)
from collectors.storage import Database

DEFAULT_MAX_BODY = 16 * 1024 * 1024


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
    try:
        return json.loads(raw)
    except UnicodeDecodeError:
        raise BadRequest("body is not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise BadRequest(f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None


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

    report = parse_json(raw)
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

    Enrolling again from the same install revokes the host's previous agent tokens. Another
    install claiming the same host id (a cloned image that kept its machine-id, or a reinstall
    that lost its state directory) is refused until an admin releases the host. The answer
    names the host's current head (``last_report_id``, ``last_sequence``; null for a new host):
    the new install's chain continues after it instead of taking it for another machine's.
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
    at = now()
    with db.write() as conn:
        row = conn.execute(sa.select(hosts.c.id, hosts.c.agency_id, hosts.c.instance, hosts.c.last_report_id,
                                     hosts.c.last_sequence)
                           .where(hosts.c.host_id == host_id).with_for_update()).first()
        if row is not None and row.agency_id != principal.agency_id:
            raise Conflict(f"host {host_id} is enrolled in another agency", reason="other_agency")
        if row is not None and row.instance and instance and row.instance != instance:
            raise Conflict(f"host {host_id} is already enrolled by another install with the same machine-id "
                           "(a cloned image?): give this machine its own machine-id, or have an admin run "
                           f"`fedharden collector host release {host_id}` if the old install is gone",
                           reason="other_install")
        if row is None:
            host_pk = int(conn.execute(hosts.insert().values(
                host_id=host_id, agency_id=principal.agency_id, hostname=hostname, enrolled_at=at, shard=0,
                instance=instance,
            )).inserted_primary_key[0])
            conn.execute(hosts.update().where(hosts.c.id == host_pk).values(shard=host_pk % SHARDS))
        else:
            host_pk = int(row.id)
            conn.execute(hosts.update().where(hosts.c.id == host_pk).values(instance=instance or row.instance))
            conn.execute(tokens.update().where(tokens.c.host_pk == host_pk, tokens.c.role == "agent",
                                               tokens.c.revoked_at.is_(None)).values(revoked_at=at))
        _, token = create_token(conn, "agent", agency_id=principal.agency_id, host_pk=host_pk,
                                name=f"enrolled {hostname or host_id}")
    return {"status": "enrolled", "host_id": host_id, "agency": principal.agency, "token": token,
            "last_report_id": row.last_report_id if row is not None else None,
            "last_sequence": row.last_sequence if row is not None else None}


# ---------------------------------------------------------------------------- reports


class Stored(NamedTuple):
    """One current result as stored: what ingest needs to diff, count and digest."""

    directive: str
    requirement: str
    status: str
    due: str
    doc: str


def directives_digest(report: Mapping[str, Any]) -> str:
    pairs = sorted((d["id"], d["digest"]) for d in report["directives"])
    return "sha256:" + hashlib.sha256(canonical(pairs)).hexdigest()


def ingest(db: Database, principal: Principal, report: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """Apply one valid report; returns (HTTP status, answer). Raises Resync/Conflict/Forbidden."""
    principal.require("agent")
    if report["host"]["id"] != principal.host_id:
        raise Forbidden(f"this agent token is bound to host {principal.host_id}, "
                        f"not {report['host']['id']}")
    received = now()
    report["_directives_digest"] = directives_digest(report)
    observed = min(utc(report["generated_at"]), received)  # an agent clock ahead of ours is clamped
    with db.write() as conn:
        host = conn.execute(_statements().host, {"host_pk": principal.host_pk, "report_id": report["report_id"]}).one()
        dup = None if host.seen_by is None else conn.execute(
            sa.select(reports.c.host_pk, reports.c.sequence, reports.c.state_digest)
            .where(reports.c.report_id == report["report_id"])).one()
        if dup is not None:
            if dup.host_pk != host.id:
                raise Conflict(f"report_id {report['report_id']} was already used by another host")
            # A replay (the agent did not see our answer): same answer, nothing changes.
            return 200, {"status": "duplicate", "report_id": report["report_id"], "host_id": host.host_id,
                         "sequence": dup.sequence, "state_digest": dup.state_digest}
        _check_order(host, report)
        state = _load_state(conn, host.id)
        new_state = _apply(state, report, host)
        digest = digest_of(new_state)
        if digest != report["state_digest"]:
            if report["kind"] == "full":
                raise BadRequest("does not match the digest of the report's results", "$.state_digest")
            raise Resync("digest_mismatch", "the state after applying this delta does not match its state_digest",
                         expected=report["state_digest"], computed=digest, **_position(host))
        changed = _write(db, conn, host, report, state, new_state, observed, received)
    return 200, {"status": "accepted", "report_id": report["report_id"], "host_id": host.host_id,
                 "sequence": report["sequence"], "state_digest": digest, "changed": changed[0],
                 "removed": changed[1]}


def digest_of(state: Mapping[str, Stored | dict[str, Any]]) -> str:
    """agent.report.state_digest of the state, from the canonical JSON already stored per result.

    canonical() of a list is "[" + ",".join(canonical(item)) + "]", so joining the stored texts
    in key order gives the same bytes without parsing a hundred documents per delta; the tests
    check it against state_digest itself.
    """
    parts = []
    for key in sorted(state):
        item = state[key]
        parts.append(item.doc.encode() if isinstance(item, Stored) else canonical(item))
    return "sha256:" + hashlib.sha256(b"[" + b",".join(parts) + b"]").hexdigest()


def _position(host: Any) -> dict[str, Any]:
    """What the collector holds for the host, told with every resync so the agent can realign."""
    return {"last_report_id": host.last_report_id, "last_sequence": host.last_sequence}


def _check_order(host: Any, report: Mapping[str, Any]) -> None:
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
    if host.directives_digest != report["_directives_digest"]:
        raise Resync("directives_changed", "the directives differ from those of the host's current state",
                     **_position(host))


@dataclass(frozen=True)
class _Statements:
    host: Any
    state: Any
    update_host: Any
    insert_report: Any


HOST_UPDATE_COLUMNS = ("hostname", "target", "os", "agent_version", "last_seen", "last_scan", "last_report_id",
                       "last_sequence", "state_digest", "directives_digest", "total", "fail_min_due", "tags",
                       *(f"n_{s}" for s in STATUSES))


@lru_cache(maxsize=1)
def _statements() -> _Statements:
    """The hot path's statements, built once (building them costs more than running them)."""
    seen = sa.select(reports.c.host_pk).where(reports.c.report_id == sa.bindparam("report_id")).scalar_subquery()
    return _Statements(
        # One round trip locks the host row and tells whether this report id was seen before.
        host=sa.select(hosts, seen.label("seen_by")).where(hosts.c.id == sa.bindparam("host_pk"))
        .with_for_update(of=hosts),
        state=sa.select(results.c.key, results.c.directive, results.c.requirement, results.c.status,
                        results.c.due, results.c.doc)
        .where(results.c.host_pk == sa.bindparam("host_pk")),
        update_host=hosts.update().where(hosts.c.id == sa.bindparam("pk"))
        .values({c: sa.bindparam(c) for c in HOST_UPDATE_COLUMNS}),
        insert_report=reports.insert(),
    )


def _results_upsert(db: Database) -> Any:
    """Insert or replace result rows; a result failing before and after keeps its failing_since."""
    key = ("results-upsert",)
    stmt = db._statements.get(key)
    if stmt is None:
        ins = db.insert(results)
        keep = sa.case((sa.and_(results.c.status == "fail", ins.excluded.status == "fail"), results.c.failing_since),
                       else_=ins.excluded.failing_since)
        values = {c: ins.excluded[c] for c in ("directive", "requirement", "status", "due", "updated_at", "doc")}
        stmt = db._statements[key] = ins.on_conflict_do_update(index_elements=["host_pk", "key"],
                                                                set_={**values, "failing_since": keep})
    return stmt


def _load_state(conn: Connection, host_pk: int) -> dict[str, Stored]:
    # The hottest read of ingest (every result of the host, per report): plain DB-API tuples.
    rows = conn.exec_driver_sql(_STATE_SQL[conn.dialect.paramstyle], (host_pk,)).cursor.fetchall()
    return {r[0]: Stored(r[1], r[2], r[3], r[4], r[5]) for r in rows}


_STATE_SQL = {style: f"SELECT key, directive, requirement, status, due, doc FROM results WHERE host_pk = {mark}"
              for style, mark in (("qmark", "?"), ("format", "%s"), ("pyformat", "%s"), ("numeric", ":1"))}


def _apply(state: Mapping[str, Stored], report: Mapping[str, Any], host: Any) -> dict[str, Stored | dict[str, Any]]:
    """The full state after the report: stored entries where unchanged, result dicts where new."""
    if report["kind"] == "full":
        return {r["key"]: r for r in report["results"]}
    out: dict[str, Stored | dict[str, Any]] = dict(state)
    for i, key in enumerate(report["removed"]):
        if out.pop(key, None) is None:
            raise Resync("unknown_key", f"removed key {key!r} ($.removed[{i}]) is not in the host's current state",
                         **_position(host))
    for r in report["changes"]:
        out[r["key"]] = r
    return out


def _write(db: Database, conn: Connection, host: Any, report: Mapping[str, Any], state: Mapping[str, Stored],
           new_state: Mapping[str, Stored | dict[str, Any]], observed: dt.datetime,
           received: dt.datetime) -> tuple[int, int]:
    shard, agency = host.shard, host.agency_id
    had_state = host.last_report_id is not None
    upserts: list[dict[str, Any]] = []
    event_rows: list[dict[str, Any]] = []
    agg: Counter[tuple[str, str, str, str]] = Counter()
    for key, item in new_state.items():
        if isinstance(item, Stored):
            continue
        doc = canonical(item).decode()
        old = state.get(key)
        if old is not None and old.doc == doc:
            continue
        status, due = item["status"], item["due"] or NO_DUE
        failing_since = observed if status == "fail" else None  # kept by the upsert while still failing
        upserts.append({"host_pk": host.id, "key": key, "directive": item["directive"],
                        "requirement": item["requirement"], "status": status, "due": due,
                        "failing_since": failing_since, "updated_at": received, "doc": doc})
        agg[(item["directive"], item["requirement"], due, status)] += 1
        if old is not None:
            agg[(old.directive, old.requirement, old.due, old.status)] -= 1
        if had_state and (old is None or old.status != status):
            event_rows.append(_event(host, report, key, item["directive"], item["requirement"],
                                     old.status if old else None, status, received))
    removed = [k for k in state if k not in new_state]
    for key in removed:
        old = state[key]
        agg[(old.directive, old.requirement, old.due, old.status)] -= 1
        event_rows.append(_event(host, report, key, old.directive, old.requirement, old.status, None, received))

    if removed:
        conn.execute(results.delete().where(results.c.host_pk == host.id, results.c.key.in_(removed)))
    if upserts:
        conn.execute(_results_upsert(db), upserts)
    if event_rows:
        conn.execute(events.insert(), event_rows)
    directives = _directive_summaries(new_state)
    host_counts = _update_host_directives(db, conn, host, _directive_summaries(state) if had_state else {},
                                          directives)
    totals = Counter[str]()
    for summary in directives.values():
        totals.update(summary["counts"])
    fail_dues = [s["fail_min_due"] for s in directives.values() if s["fail_min_due"]]
    tags = _update_tags(conn, host, report["host"].get("tags") or [])
    conn.execute(_statements().update_host, dict(
        pk=host.id, hostname=report["host"]["hostname"], target=report["host"]["target"],
        os=(report["host"].get("os") or {}).get("pretty_name", ""), agent_version=report["agent"]["version"],
        last_seen=received, last_scan=observed, last_report_id=report["report_id"],
        last_sequence=report["sequence"], state_digest=report["state_digest"],
        directives_digest=report["_directives_digest"], total=len(new_state),
        fail_min_due=min(fail_dues) if fail_dues else NO_DUE, tags=tags,
        **{f"n_{s}": totals[s] for s in STATUSES}))
    conn.execute(_statements().insert_report, dict(
        report_id=report["report_id"], host_pk=host.id, kind=report["kind"], sequence=report["sequence"],
        state_digest=report["state_digest"], generated_at=observed, received_at=received,
        changed=len(upserts) + len(removed)))
    # The shared counters last: other hosts' reports wait on these rows only until our commit.
    _update_requirement_counts(db, conn, agency, shard, agg)
    db.upsert_add(conn, agg_directives, host_counts, ("agency_id", "directive", "shard"), ["hosts", "compliant_hosts"])
    return len(upserts), len(removed)


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


def _update_requirement_counts(db: Database, conn: Connection, agency: int, shard: int,
                               agg: Mapping[tuple[str, str, str, str], int]) -> None:
    by_key: dict[tuple[str, str, str], dict[str, int]] = defaultdict(lambda: dict.fromkeys(STATUSES, 0))
    for (directive, requirement, due, status), n in agg.items():
        if n:
            by_key[(directive, requirement, due)][status] += n
    # Sorted, so two transactions touching the same counters lock them in the same order.
    rows = [{"agency_id": agency, "directive": d, "requirement": r, "due": due, "shard": shard,
             **{f"n_{s}": c[s] for s in STATUSES}}
            for (d, r, due), c in sorted(by_key.items()) if any(c.values())]
    db.upsert_add(conn, agg_requirements, rows, ("agency_id", "directive", "requirement", "due", "shard"),
                  [f"n_{s}" for s in STATUSES])


def _directive_summaries(state: Mapping[str, Stored | dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for item in state.values():
        if isinstance(item, Stored):
            directive, status, due = item.directive, item.status, item.due
        else:
            directive, status, due = item["directive"], item["status"], item["due"] or NO_DUE
        summary = out.setdefault(directive, {"counts": dict.fromkeys(STATUSES, 0), "fail_min_due": NO_DUE})
        summary["counts"][status] += 1
        if status == "fail" and due and (not summary["fail_min_due"] or due < summary["fail_min_due"]):
            summary["fail_min_due"] = due
    return out


def _update_host_directives(db: Database, conn: Connection, host: Any, old: Mapping[str, Mapping[str, Any]],
                            new: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Write host_directives from the summaries before and after; return the per-directive host
    counter increments for the caller to apply."""
    gone = sorted(set(old) - set(new))
    if gone:
        conn.execute(host_directives.delete().where(host_directives.c.host_pk == host.id,
                                                    host_directives.c.directive.in_(gone)))
    rows = []
    host_deltas: dict[str, tuple[int, int]] = {}
    for directive, summary in new.items():
        counts, due = summary["counts"], summary["fail_min_due"]
        prev = old.get(directive)
        if prev == summary:
            continue
        rows.append({"host_pk": host.id, "directive": directive, "agency_id": host.agency_id,
                     "fail_min_due": due, **{f"n_{s}": counts[s] for s in STATUSES}})
        was_compliant = prev is not None and prev["counts"]["fail"] == 0
        host_deltas[directive] = (0 if prev is not None else 1, int(counts["fail"] == 0) - int(was_compliant))
    for directive in gone:
        host_deltas[directive] = (-1, -int(old[directive]["counts"]["fail"] == 0))
    db.upsert_replace(conn, host_directives, rows, ("host_pk", "directive"))
    return [{"agency_id": host.agency_id, "directive": d, "shard": host.shard, "hosts": h, "compliant_hosts": c}
            for d, (h, c) in sorted(host_deltas.items()) if h or c]

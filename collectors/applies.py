"""Apply records: what each ``fedharden fix --apply`` did to a host (POST /api/v1/applies, from the
host's own agent token), stored per host and read in the caller's scope.

An apply is an event, not state: a record never touches a host's results, counters or status
(unknown is never compliant, and neither is "someone ran a fix": only the re-scan's report
changes a status). The apply id is the key: a record is kept at the highest revision its
agent sent (a rollback's supersedes the apply's), and a resend of that revision or an older
one is answered ``duplicate`` and changes nothing.
"""
from __future__ import annotations

import datetime as dt
import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from agent.contract import canonical
from collectors import Forbidden, NotFound
from collectors.auth import Principal
from collectors.models import host_applies, hosts
from collectors.reads import iso
from collectors.storage import Database
from collectors.wire import utc

MAX_LIST = 500


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def _normalized(doc: dict[str, Any]) -> dict[str, Any]:
    """The record with its times as the API writes every time (UTC, ``Z``)."""
    out = dict(doc)
    out["started_at"] = iso(utc(doc["started_at"]))
    out["finished_at"] = iso(utc(doc["finished_at"])) if doc.get("finished_at") else None
    if "rollback" in doc:
        out["rollback"] = {**doc["rollback"], "at": iso(utc(doc["rollback"]["at"]))}
    return out


def store(db: Database, principal: Principal, doc: dict[str, Any]) -> dict[str, Any]:
    """Keep one valid apply record (collectors.wire.parse_apply) for the token's host; the answer."""
    principal.require("agent")
    if doc["host_id"] != principal.host_id:
        raise Forbidden(f"this agent token is bound to host {principal.host_id}, not {doc['host_id']}")
    record = _normalized(doc)
    key = (host_applies.c.host_pk == principal.host_pk, host_applies.c.apply_id == record["apply_id"])
    values = {"revision": record["revision"], "outcome": record["outcome"], "by_user": record["by"]["user"],
              "started_at": utc(record["started_at"]), "finished_at": utc(record["finished_at"])
              if record["finished_at"] else None, "doc": canonical(record).decode()}
    with db.write() as conn:
        # The host's row, locked: two deliveries of one apply (a retry racing its first try)
        # take turns, and the second finds the first's row.
        host = conn.execute(sa.select(hosts.c.agency_id).where(hosts.c.id == principal.host_pk)
                            .with_for_update()).first()
        if host is None:
            raise NotFound("the host of this token is gone")
        stored = conn.execute(sa.select(host_applies.c.revision).where(*key)).scalar()
        now = _now()
        if stored is None:
            conn.execute(host_applies.insert().values(host_pk=principal.host_pk, apply_id=record["apply_id"],
                                                      agency_id=host.agency_id, received_at=now, updated_at=now,
                                                      **values))
            status, revision = "accepted", record["revision"]
        elif stored < record["revision"]:
            conn.execute(host_applies.update().where(*key).values(updated_at=now, **values))
            status, revision = "accepted", record["revision"]
        else:
            status, revision = "duplicate", int(stored)
    return {"status": status, "apply_id": record["apply_id"], "host_id": principal.host_id, "revision": revision}


def _host_pk(conn: Connection, ids: list[int] | None, host_id: str) -> int:
    q = sa.select(hosts.c.id).where(hosts.c.host_id == host_id)
    if ids is not None:
        q = q.where(hosts.c.agency_id.in_(ids))
    pk = conn.execute(q).scalar()
    if pk is None:  # also for a host of another agency: its existence is not disclosed
        raise NotFound("no such host in your scope")
    return int(pk)


def host_applies_of(conn: Connection, ids: list[int] | None, host_id: str, *, limit: int = 50) -> dict[str, Any]:
    """One host's applies, newest first (two started in one second: the later received first),
    each as its agent last reported it, with its counts."""
    pk = _host_pk(conn, ids, host_id)
    a = host_applies
    total = conn.execute(sa.select(sa.func.count()).where(a.c.host_pk == pk)).scalar_one()
    rows = conn.execute(sa.select(a.c.doc, a.c.received_at, a.c.updated_at).where(a.c.host_pk == pk)
                        .order_by(a.c.started_at.desc(), a.c.received_at.desc(), a.c.apply_id.desc()).limit(min(limit, MAX_LIST)))
    items = []
    for r in rows:
        doc = json.loads(r.doc)
        doc.pop("schema_version", None)
        doc["counts"] = {"requirements": len(doc["requirements"]), "fixed": len(doc["fixed"]),
                         "failing": len(doc["failing"])}
        doc["received_at"], doc["updated_at"] = iso(r.received_at), iso(r.updated_at)
        items.append(doc)
    return {"host_id": host_id, "total": int(total), "applies": items}

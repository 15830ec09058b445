"""Host summaries in federation, forwarded only when the agency collector opts in
(``--upstream-detail hosts``): per host its id, hostname, OS, last scan and per directive the
status counts and the earliest due date of a failing result. Never results or evidence.

The agency sends its hosts in pages in the order of its own host key (``position``); a page
covers the range ``(after, upto]`` of positions (``upto`` null: to the end) and replaces
everything the national side holds for the agency in that range, in one transaction. A pass
over all pages therefore mirrors the agency (a host gone there is gone upstream), any page can
be sent again with the same effect, and pages of two overlapping passes never leave a host
twice or half-written. A rollup push without ``host_detail`` drops the agency's hosts.

The national side keeps them in ``federated_hosts`` and ``federated_host_directives``, apart
from the hosts enrolled with it; the hosts listing shows them with ``"federated": true``.
"""
from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from collectors import BadRequest
from collectors.auth import Principal, now
from collectors.host_filters import compliance_filter
from collectors.models import (NO_DUE, STATUSES, agencies, federated_host_directives, federated_hosts,
                               host_directives, hosts, settings)
from collectors.storage import Database

PAYLOAD_VERSION = "1"
HOSTS_PATH = "/api/v1/federation/hosts"
PAGE_HOSTS = 1000          # hosts per page the agency sends (about 0.3 to 1 MB of JSON)
PAGE_BYTES = 4 * 1024 * 1024  # fewer hosts per page when they carry many directives: well under 16 MiB
MAX_PAGE_HOSTS = 5000      # the most the national side accepts in one page
MAX_HOST_DIRECTIVES = 500  # directives per host
HOST_KEYS = {"position", "host_id", "hostname", "os", "last_scan", "directives"}
DIRECTIVE_KEYS = {"directive", "counts", "fail_due"}
PAGE_KEYS = {"version", "after", "upto", "hosts"}
PAGE_LOCK = 0x6665_6468_0000_0000  # plus the agency id: one agency's pages are applied one at a time
PASS_SETTING = "federation.hosts_pass."  # plus the agency id: when the last pass started


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") + "Z" if value else None


# ---------------------------------------------------------------------------- agency side


def build_page(conn: Connection, agency_id: int, after: int, size: int = PAGE_HOSTS,
               max_bytes: int = PAGE_BYTES) -> dict[str, Any]:
    """The agency's hosts with positions after ``after``: at most ``size`` of them, and fewer
    when their JSON would exceed ``max_bytes``."""
    while True:
        page = _page(conn, agency_id, after, size)
        if size == 1 or len(json.dumps(page)) <= max_bytes:
            return page
        size //= 2


def _page(conn: Connection, agency_id: int, after: int, size: int) -> dict[str, Any]:
    h = hosts
    rows = conn.execute(sa.select(h.c.id, h.c.host_id, h.c.hostname, h.c.os, h.c.last_scan)
                        .where(h.c.agency_id == agency_id, h.c.id > after).order_by(h.c.id).limit(size)).all()
    per_host: dict[int, list[dict[str, Any]]] = defaultdict(list)
    if rows:
        hd = host_directives
        q = sa.select(hd.c.host_pk, hd.c.directive, hd.c.fail_min_due, *[hd.c[f"n_{s}"] for s in STATUSES]) \
            .where(hd.c.host_pk.in_([r.id for r in rows])).order_by(hd.c.host_pk, hd.c.directive)
        for r in conn.execute(q):
            per_host[r.host_pk].append({"directive": r.directive, "fail_due": r.fail_min_due or None,
                                        "counts": {s: int(getattr(r, f"n_{s}")) for s in STATUSES}})
    return {"version": PAYLOAD_VERSION, "after": after, "upto": rows[-1].id if len(rows) == size else None,
            "hosts": [{"position": r.id, "host_id": r.host_id, "hostname": r.hostname, "os": r.os,
                       "last_scan": _iso(r.last_scan), "directives": per_host[r.id]} for r in rows]}


def claim_pass(db: Database, agency_id: int, interval: float) -> bool:
    """True when no process of this deployment started a pass for the agency in the last
    ``interval`` seconds, recording that this one starts now: with several workers or replicas
    one of them forwards the hosts, not each of them."""
    name = PASS_SETTING + str(agency_id)
    at = now()
    stamp = at.isoformat(timespec="microseconds")  # fixed width, so the text compares like the time
    due = (at - dt.timedelta(seconds=interval)).isoformat(timespec="microseconds")
    with db.write() as conn:
        conn.execute(db.insert(settings).values(name=name, value="").on_conflict_do_nothing(index_elements=["name"]))
        done = conn.execute(settings.update().where(settings.c.name == name, settings.c.value <= due)
                            .values(value=stamp))
    return bool(done.rowcount)


# ---------------------------------------------------------------------------- national side


def _keys(value: dict[str, Any], allowed: set[str], path: str) -> None:
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise BadRequest(f"unknown field {unknown[0]!r}", f"{path}.{unknown[0]}")


def _object(value: Any, what: str, path: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadRequest(f"an object with {what} is required", path)
    return value


def _count(value: Any, path: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2 ** 31:
        raise BadRequest("a non-negative integer is required", path)
    return value


def _position(value: Any, path: str, nullable: bool = False) -> int | None:
    if value is None and nullable:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2 ** 63:
        raise BadRequest("a non-negative integer is required" + (" or null" if nullable else ""), path)
    return value


def _text(value: Any, path: str, limit: int, minimum: int = 0) -> str:
    if not isinstance(value, str) or not minimum <= len(value) <= limit:
        raise BadRequest(f"a string of {minimum} to {limit} characters is required", path)
    return value


def _day(value: Any, path: str) -> str:
    if value is None:
        return NO_DUE
    try:
        if isinstance(value, str) and len(value) == 10:
            return dt.date.fromisoformat(value).isoformat()
    except ValueError:
        pass
    raise BadRequest("a YYYY-MM-DD date or null is required", path)


def _time(value: Any, path: str) -> dt.datetime | None:
    if value is None:
        return None
    try:
        if isinstance(value, str) and 20 <= len(value) <= 35 and value.endswith("Z"):
            parsed = dt.datetime.fromisoformat(value[:-1])
            if parsed.tzinfo is None:
                return parsed
    except ValueError:
        pass
    raise BadRequest("a UTC date-time (YYYY-MM-DDTHH:MM:SSZ) or null is required", path)


def _host(value: Any, path: str, agency_id: int, after: int, upto: int | None,
          received: dt.datetime) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One forwarded host as its row and its directive rows, or BadRequest with the field's path."""
    h = _object(value, "position, host_id, hostname, os, last_scan and directives", path)
    _keys(h, HOST_KEYS, path)
    position = _position(h.get("position"), f"{path}.position")
    assert position is not None
    if position <= after or (upto is not None and position > upto):
        raise BadRequest("position is outside the page's range (after, upto]", f"{path}.position")
    host_id = _text(h.get("host_id"), f"{path}.host_id", 200, 1)
    directives = h.get("directives", [])
    if not isinstance(directives, list) or len(directives) > MAX_HOST_DIRECTIVES:
        raise BadRequest(f"a list of at most {MAX_HOST_DIRECTIVES} directives is required", f"{path}.directives")
    totals = dict.fromkeys(STATUSES, 0)
    dues: list[str] = []
    rows: dict[str, dict[str, Any]] = {}
    for j, d in enumerate(directives):
        p = f"{path}.directives[{j}]"
        d = _object(d, "directive, counts and fail_due", p)
        _keys(d, DIRECTIVE_KEYS, p)
        name = _text(d.get("directive"), f"{p}.directive", 100, 1)
        if name in rows:
            raise BadRequest("duplicate directive", f"{p}.directive")
        counts = _object(d.get("counts"), "a count per status", f"{p}.counts")
        _keys(counts, set(STATUSES), f"{p}.counts")
        n = {s: _count(counts.get(s, 0), f"{p}.counts.{s}") for s in STATUSES}
        due = _day(d.get("fail_due"), f"{p}.fail_due")
        if due and not n["fail"]:
            raise BadRequest("fail_due is the due date of a failing result: null when none fails", f"{p}.fail_due")
        rows[name] = {"agency_id": agency_id, "host_id": host_id, "directive": name, "fail_min_due": due,
                      **{f"n_{s}": n[s] for s in STATUSES}}
        for s in STATUSES:
            totals[s] += n[s]
        if due:
            dues.append(due)
    host = {"agency_id": agency_id, "host_id": host_id, "position": position,
            "hostname": _text(h.get("hostname", ""), f"{path}.hostname", 255),
            "os": _text(h.get("os", ""), f"{path}.os", 200),
            "last_scan": _time(h.get("last_scan"), f"{path}.last_scan"),
            "total": sum(totals.values()), **{f"n_{s}": totals[s] for s in STATUSES},
            "fail_min_due": min(dues) if dues else NO_DUE, "received_at": received}
    return host, list(rows.values())


def receive(db: Database, principal: Principal, body: Any) -> dict[str, Any]:
    """Replace the calling agency's forwarded hosts in the page's range with the page's hosts."""
    principal.require("soc")
    assert principal.agency_id is not None
    page = _object(body, "version, after, upto and hosts", "$")
    _keys(page, PAGE_KEYS, "$")
    if page.get("version") != PAYLOAD_VERSION:
        raise BadRequest(f"version must be {PAYLOAD_VERSION!r}", "$.version")
    after = _position(page.get("after"), "$.after")
    assert after is not None
    upto = _position(page.get("upto"), "$.upto", nullable=True)
    if upto is not None and upto <= after:
        raise BadRequest("upto must be after after (or null: to the end)", "$.upto")
    items = page.get("hosts")
    if not isinstance(items, list) or len(items) > MAX_PAGE_HOSTS:
        raise BadRequest(f"a list of at most {MAX_PAGE_HOSTS} hosts is required", "$.hosts")
    received = now()
    host_rows: list[dict[str, Any]] = []
    directive_rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        host, dirs = _host(item, f"$.hosts[{i}]", principal.agency_id, after, upto, received)
        if host_rows and host["position"] <= host_rows[-1]["position"]:
            raise BadRequest("hosts must be in increasing position order", f"$.hosts[{i}].position")
        if host["host_id"] in seen:
            raise BadRequest("duplicate host_id", f"$.hosts[{i}].host_id")
        seen.add(host["host_id"])
        host_rows.append(host)
        directive_rows.extend(dirs)
    f, fd = federated_hosts, federated_host_directives
    in_range = f.c.position > after if upto is None else sa.and_(f.c.position > after, f.c.position <= upto)
    # ... and a host of this page held at another position (the agency re-keyed it) moves here
    replaced = sa.and_(f.c.agency_id == principal.agency_id, sa.or_(in_range, f.c.host_id.in_(sorted(seen))))
    with db.write() as conn:
        db.advisory_lock(conn, PAGE_LOCK + principal.agency_id)
        gone = sa.select(f.c.host_id).where(replaced)
        conn.execute(fd.delete().where(fd.c.agency_id == principal.agency_id, fd.c.host_id.in_(gone)))
        removed = conn.execute(f.delete().where(replaced)).rowcount
        if host_rows:
            conn.execute(f.insert(), host_rows)
        if directive_rows:
            conn.execute(fd.insert(), directive_rows)
    return {"status": "accepted", "agency": principal.agency, "after": after, "upto": upto, "hosts": len(host_rows),
            "replaced": removed, "received_at": _iso(received)}


def forget(conn: Connection, agency_id: int) -> None:
    """Drop every host the agency forwarded (it stopped forwarding host detail)."""
    conn.execute(federated_host_directives.delete().where(federated_host_directives.c.agency_id == agency_id))
    conn.execute(federated_hosts.delete().where(federated_hosts.c.agency_id == agency_id))


# ---------------------------------------------------------------------------- reads


def present(conn: Connection, ids: list[int] | None) -> bool:
    """Whether any forwarded host is in scope (the hosts listing skips the table otherwise)."""
    q = sa.select(federated_hosts.c.host_id)
    if ids is not None:
        q = q.where(federated_hosts.c.agency_id.in_(ids))
    return conn.execute(q.limit(1)).first() is not None


def forwarding_agencies(conn: Connection, ids: list[int] | None) -> list[str]:
    """Codes of the agencies in scope whose host summaries this collector holds."""
    q = sa.select(agencies.c.code).where(sa.exists().where(federated_hosts.c.agency_id == agencies.c.id))
    if ids is not None:
        q = q.where(agencies.c.id.in_(ids))
    return list(conn.execute(q.order_by(agencies.c.code)).scalars())


def listing(ids: list[int] | None, *, directive: str | None, status: str | None, overdue: bool | None,
            day: str) -> Any:
    """Forwarded hosts in scope as the hosts listing's columns (see collectors.reads.list_hosts)."""
    f = federated_hosts
    src: Any = f.join(agencies, agencies.c.id == f.c.agency_id)
    counts_of: Any = f
    if directive is not None:
        fd = federated_host_directives
        src = src.join(fd, sa.and_(fd.c.agency_id == f.c.agency_id, fd.c.host_id == f.c.host_id,
                                   fd.c.directive == directive))
        counts_of = fd
    reported = f.c.last_scan.is_not(None)
    unknown_time = sa.cast(sa.null(), sa.DateTime)  # what the agency keeps to itself
    q = sa.select(f.c.host_id, agencies.c.code, f.c.hostname, f.c.os, sa.literal_column("''").label("agent_version"),
                  unknown_time.label("enrolled_at"), unknown_time.label("last_seen"), f.c.last_scan,
                  sa.cast(sa.null(), sa.BigInteger).label("last_sequence"), reported.label("reported"),
                  f.c.total, *[counts_of.c[f"n_{s}"] for s in STATUSES], counts_of.c.fail_min_due,
                  sa.literal_column("''").label("tags"), sa.true().label("federated")).select_from(src)
    if ids is not None:
        q = q.where(f.c.agency_id.in_(ids))
    return compliance_filter(q, counts_of, reported, status=status, overdue=overdue, day=day)

"""Federation: an agency collector forwards its rollups to a national collector.

The payload is the agency's counters (per directive, requirement and due date, and hosts per
directive by host status), and whether the agency forwards host summaries too (``host_detail``). The national
collector stores the counters as the agency's ``FEDERATED_SHARD`` counter rows, so its
rollups, side-by-side view and daily history treat a federated agency like a local one.

Host-level detail stays in the agency unless it opts in (``--upstream-detail hosts``): then
the forwarder also sends host summaries in pages (collectors.federated_hosts); without it a
push says ``host_detail: false`` and the national side drops any it held.

A collector of an earlier version pushes per directive only ``hosts`` and ``compliant_hosts``,
which then counted every host without a failing result. The national side still accepts that
form during an upgrade, and says so (a warning in its answer and its log): the hosts that
were not counted compliant are non-compliant, and the others ``unknown_hosts``, never
compliant, until the agency pushes the statuses.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import re
import threading
from typing import Any, Callable

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from collectors import BadRequest, UpstreamError, federated_hosts
from collectors.auth import Principal, now
from collectors.models import (FEDERATED_SHARD, HOST_COUNT_COLUMNS, HOST_STATUS_COLUMNS, STATUSES, UNKNOWN_HOSTS,
                               agg_directives, agg_requirements)
from collectors.storage import Database

log = logging.getLogger("fedharden.collector.federation")
PAYLOAD_VERSION = "1"
UPSTREAM_PATH = "/api/v1/federation/rollups"


def build_payload(conn: Connection, agency_id: int, host_detail: bool = False) -> dict[str, Any]:
    """The agency's counters summed over its shards (federated rows excluded: no loops)."""
    t = agg_requirements
    q = sa.select(t.c.directive, t.c.requirement, t.c.due, *[sa.func.sum(t.c[f"n_{s}"]) for s in STATUSES]) \
        .where(t.c.agency_id == agency_id, t.c.shard != FEDERATED_SHARD) \
        .group_by(t.c.directive, t.c.requirement, t.c.due).order_by(t.c.directive, t.c.requirement, t.c.due)
    reqs = [{"directive": d, "requirement": r, "due": due or None,
             "counts": {s: int(v or 0) for s, v in zip(STATUSES, vals)}}
            for d, r, due, *vals in conn.execute(q)]
    a = agg_directives
    dq = sa.select(a.c.directive, *[sa.func.sum(a.c[c]) for c in HOST_COUNT_COLUMNS]) \
        .where(a.c.agency_id == agency_id, a.c.shard != FEDERATED_SHARD).group_by(a.c.directive).order_by(a.c.directive)
    dirs = [{"directive": d, **{c: int(v or 0) for c, v in zip(HOST_COUNT_COLUMNS, values)}}
            for d, *values in conn.execute(dq)]
    return {"version": PAYLOAD_VERSION, "requirements": [r for r in reqs if any(r["counts"].values())],
            "directives": dirs, "host_detail": host_detail}


# What a pushed row must be: the national collector's rollups, CSVs and dashboard read these
# rows for every caller, so one agency's malformed push must be refused, never stored.
DIRECTIVE_ID = re.compile(r"[A-Z][A-Z0-9]*(-[A-Z0-9]+)*")  # directives/schemas/directive.schema.json
REQUIREMENT_ID = re.compile(r"[A-Z][A-Z0-9]*(-[A-Z0-9]+)*(\.[A-Z0-9]+)+")
MAX_COUNT = 2 ** 31 - 1  # the counter columns' range


def _int(value: Any, path: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_COUNT:
        raise BadRequest(f"an integer from 0 to {MAX_COUNT} is required", path)
    return value


def _id(value: Any, path: str, pattern: re.Pattern[str], what: str) -> str:
    if not isinstance(value, str) or len(value) > 100 or not pattern.fullmatch(value):
        raise BadRequest(f"a {what} id ({pattern.pattern}) is required", path)
    return value


def _due(value: Any, path: str) -> str:
    if value is None:
        return ""
    try:
        if isinstance(value, str) and len(value) == 10:
            return dt.date.fromisoformat(value).isoformat()
    except ValueError:
        pass
    raise BadRequest("a YYYY-MM-DD date or null is required", path)


def receive(db: Database, principal: Principal, body: Any) -> dict[str, Any]:
    """Replace the calling agency's federated counters with the pushed ones, atomically."""
    principal.require("soc")
    assert principal.agency_id is not None  # a soc token is always an agency's (auth.create_token)
    if not isinstance(body, dict):
        raise BadRequest("the rollup payload is a JSON object", "$")
    if body.get("version") != PAYLOAD_VERSION:
        raise BadRequest(f"version must be {PAYLOAD_VERSION!r}", "$.version")
    reqs, dirs = body.get("requirements"), body.get("directives")
    if not isinstance(reqs, list):
        raise BadRequest("a list is required", "$.requirements")
    if not isinstance(dirs, list):
        raise BadRequest("a list is required", "$.directives")
    host_detail = body.get("host_detail", False)  # absent: an agency that never forwards hosts
    if not isinstance(host_detail, bool):
        raise BadRequest("true or false is required", "$.host_detail")
    req_rows: dict[tuple[str, str, str], dict[str, Any]] = {}
    for i, r in enumerate(reqs):
        p = f"$.requirements[{i}]"
        if not isinstance(r, dict) or not isinstance(r.get("counts"), dict):
            raise BadRequest("an object with directive, requirement, due and counts is required", p)
        due = _due(r.get("due"), f"{p}.due")
        key = (_id(r.get("directive"), f"{p}.directive", DIRECTIVE_ID, "directive"),
               _id(r.get("requirement"), f"{p}.requirement", REQUIREMENT_ID, "requirement"), due)
        if key in req_rows:
            raise BadRequest("duplicate directive, requirement and due", p)
        req_rows[key] = {"agency_id": principal.agency_id, "directive": key[0], "requirement": key[1], "due": due,
                         "shard": FEDERATED_SHARD,
                         **{f"n_{s}": _int(r["counts"].get(s, 0), f"{p}.counts.{s}") for s in STATUSES}}
    dir_rows: dict[str, dict[str, Any]] = {}
    older: list[str] = []
    for i, d in enumerate(dirs):
        p = f"$.directives[{i}]"
        if not isinstance(d, dict):
            raise BadRequest("an object with directive, hosts and hosts per status is required", p)
        name = _id(d.get("directive"), f"{p}.directive", DIRECTIVE_ID, "directive")
        if name in dir_rows:
            raise BadRequest("duplicate directive", p)
        dir_rows[name] = {"agency_id": principal.agency_id, "directive": name, "shard": FEDERATED_SHARD,
                          **_host_counts(d, p)}
        if not _new_form(d):
            older.append(name)
    with db.write() as conn:
        for table in (agg_requirements, agg_directives):
            conn.execute(table.delete().where(table.c.agency_id == principal.agency_id,
                                              table.c.shard == FEDERATED_SHARD))
        if req_rows:
            conn.execute(agg_requirements.insert(), [req_rows[k] for k in sorted(req_rows)])
        if dir_rows:
            conn.execute(agg_directives.insert(), [dir_rows[k] for k in sorted(dir_rows)])
        if not host_detail:  # the agency keeps host detail to itself (again): drop what it sent before
            federated_hosts.forget(conn, principal.agency_id)
    answer: dict[str, Any] = {"status": "accepted", "agency": principal.agency, "requirements": len(req_rows),
                              "directives": len(dir_rows), "host_detail": host_detail,
                              "received_at": now().isoformat(timespec="seconds") + "Z"}
    if older:
        warning = (f"hosts per status missing for {len(older)} directive(s) (an agency collector of an earlier "
                   "version): hosts without a failing result are counted as unknown_hosts, not compliant, "
                   "until the agency collector is upgraded")
        log.warning("federation: agency %s: %s", principal.agency, warning)
        answer["warnings"] = [warning]
    return answer


HOST_FORM = (*HOST_STATUS_COLUMNS, UNKNOWN_HOSTS)  # what a directive's hosts add up to


def _new_form(d: dict[str, Any]) -> bool:
    """Whether the push counts hosts per status: the older form has compliant_hosts alone."""
    return any(c in d for c in HOST_FORM if c != "compliant_hosts")


def _host_counts(d: dict[str, Any], path: str) -> dict[str, int]:
    """A directive's hosts by status as pushed; from the older form (``hosts`` and
    ``compliant_hosts``, which counted hosts without a failing result), what it can tell."""
    hosts = _int(d.get("hosts"), f"{path}.hosts")
    if _new_form(d):
        counts = {c: _int(d.get(c, 0), f"{path}.{c}") for c in HOST_FORM}
        if sum(counts.values()) != hosts:
            raise BadRequest("hosts per status (and unknown_hosts) must add up to hosts", f"{path}.hosts")
        return {"hosts": hosts, **counts}
    without_fail = _int(d.get("compliant_hosts"), f"{path}.compliant_hosts")
    if without_fail > hosts:
        raise BadRequest("compliant_hosts cannot exceed hosts", f"{path}.compliant_hosts")
    return {"hosts": hosts, **dict.fromkeys(HOST_FORM, 0),
            "non_compliant_hosts": hosts - without_fail, UNKNOWN_HOSTS: without_fail}


def digest(payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


class Forwarder:
    """Pushes the agency's rollups upstream: within ``check`` seconds of a change, and at least
    every ``interval`` seconds even without one (so the national side sees the agency alive).

    With ``hosts``, also a pass over the agency's host summaries every ``interval`` seconds, in
    pages of ``page_size`` hosts, a few seconds' worth per step so rollup changes still go out
    between pages; one process of a deployment makes each pass (federated_hosts.claim_pass)."""

    def __init__(self, db: Database, agency_id: int, url: str, token: str, *, interval: float = 300.0,
                 check: float = 5.0, timeout: float = 10.0, session: Any = None, hosts: bool = False,
                 page_size: int = federated_hosts.PAGE_HOSTS) -> None:
        import requests

        self.db, self.agency_id, self.token = db, agency_id, token
        self.url = url.rstrip("/") + UPSTREAM_PATH
        self.hosts_url = url.rstrip("/") + federated_hosts.HOSTS_PATH
        self.interval, self.check, self.timeout = interval, check, timeout
        self.session = session or requests.Session()
        self.hosts, self.page_size = hosts, page_size
        self.last_digest: str | None = None
        self.last_sent = 0.0
        self.sent = 0
        self.host_pages = 0
        self.host_passes = 0
        self._pass_after: int | None = None  # the position the pass in progress continues after
        self._pass_started: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def push_if_due(self, clock: Callable[[], float]) -> bool:
        """One step of the loop: push when the payload changed or the interval passed."""
        with self.db.read() as conn:
            payload = build_payload(conn, self.agency_id, self.hosts)
        d = digest(payload)
        if d == self.last_digest and clock() - self.last_sent < self.interval:
            return False
        self.push(payload)
        self.last_digest, self.last_sent = d, clock()
        return True

    def push_hosts_if_due(self, clock: Callable[[], float], budget: float) -> bool:
        """Send pages of the pass in progress, or of a new one when due, for up to ``budget``
        seconds; True when the pass has pages left. A failed page is sent again next time."""
        if self._pass_after is None:
            if self._pass_started is not None and clock() - self._pass_started < self.interval:
                return False
            self._pass_started = clock()
            if not federated_hosts.claim_pass(self.db, self.agency_id, self.interval):
                return False  # another process of this deployment made this pass
            self._pass_after = 0
        deadline = clock() + budget
        while True:
            with self.db.read() as conn:
                page = federated_hosts.build_page(conn, self.agency_id, self._pass_after, self.page_size)
            self.push(page, self.hosts_url)
            self.host_pages += 1
            if page["upto"] is None:
                self._pass_after = None
                self.host_passes += 1
                return False
            self._pass_after = page["upto"]
            if clock() >= deadline:
                return True

    def push(self, payload: dict[str, Any], url: str | None = None) -> dict[str, Any]:
        import requests

        url = url or self.url
        try:
            resp = self.session.put(url, json=payload, timeout=self.timeout,
                                    headers={"Authorization": f"Bearer {self.token}"})
        except requests.RequestException as exc:
            raise UpstreamError(f"upstream {url} unreachable: {exc.__class__.__name__}") from None
        if resp.status_code != 200:
            raise UpstreamError(f"upstream {url} answered {resp.status_code}: {resp.text[:200]}")
        self.sent += 1
        return resp.json()  # type: ignore[no-any-return]

    def run(self) -> None:
        import time

        failures = 0
        while not self._stop.is_set():
            more = False
            try:
                self.push_if_due(time.monotonic)
                if self.hosts:
                    more = self.push_hosts_if_due(time.monotonic, self.check)
                failures = 0
            except UpstreamError as exc:
                failures += 1
                log.warning("federation: %s (retrying)", exc)
            except Exception:  # the loop must outlive a transient database error
                failures += 1
                log.exception("federation: push failed")
            if more:  # the rest of a host pass goes on at once, rollups checked between steps
                continue
            # Back off after failures, up to ten checks, so a down national side is not hammered.
            self._stop.wait(self.check * min(2 ** failures, 10) if failures else self.check)

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="fedharden-federation", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.timeout + 1)

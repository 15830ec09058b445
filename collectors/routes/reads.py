"""Read routes: hosts, their applies, changes, rollups, history and exports, in the caller's scope,
as JSON or CSV."""
from __future__ import annotations

import datetime as dt
import json
from typing import Any, Iterable, Iterator

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response, StreamingResponse

from collectors import BadRequest, applies, reads, rollups, versions
from collectors.csv_export import csv_response
from collectors.routes.deps import Caller, Db
from collectors.scope import HOST_DETAIL, HOST_LIST, ROLLUPS, agency_codes, agency_ids

MAX_OFFSET = 2 ** 31 - 1  # a page offset past this is an error, never a database overflow
Fmt = Query("json", pattern="^(json|csv)$", description="json or csv")

router = APIRouter(tags=["read"])


@router.get("/api/v1/hosts")
def hosts(db: Db, principal: Caller, agency: str | None = None, directive: str | None = None,
          status: str | None = Query(None, description="non_compliant, incomplete, needs_review, "
                                                  "compliant or not_applicable"),
          overdue: bool | None = None, tag: str | None = None, limit: int = Query(100, ge=1, le=10000),
          offset: int = Query(0, ge=0, le=MAX_OFFSET),
          version: str | None = Query(None, max_length=50, description="with directive: only the hosts whose last "
                                      "report evaluated this version of it"),
          format: str = Fmt) -> Response:
    """Hosts in scope, filtered by agency, directive (and its version), status, overdue and tag;
    with the host summaries agency collectors forward (a national token sees only those)."""
    with db.read() as conn:
        ids = agency_ids(conn, principal, agency, roles=HOST_LIST)
        doc = reads.list_hosts(conn, ids, directive=directive, status=status, overdue=overdue, tag=tag,
                               limit=limit, offset=offset, enrolled=principal.role != "national", federated=True,
                               version=version)
    if format == "csv":
        return csv_response("hosts.csv", ({**{k: v for k, v in h.items() if k not in ("counts", "tags")},
                                           **h["counts"], "tags": " ".join(h["tags"])} for h in doc["hosts"]))
    return JSONResponse(doc)


@router.get("/api/v1/hosts/{host_id}")
def host(host_id: str, db: Db, principal: Caller, directive: str | None = None,
         status: str | None = None) -> dict[str, Any]:
    """One host's current results with evidence and failing_since."""
    with db.read() as conn:
        ids = agency_ids(conn, principal, None, roles=HOST_DETAIL)
        return reads.host_detail(conn, ids, host_id, directive=directive, status=status)


@router.get("/api/v1/hosts/{host_id}/applies")
def host_applies(host_id: str, db: Db, principal: Caller,
                 limit: int = Query(50, ge=1, le=applies.MAX_LIST)) -> dict[str, Any]:
    """What ``fedharden fix --apply`` did to one host, newest first: when, by whom, what it set out
    to fix, what it fixed, what still fails and why, and the outcome (applied, failed, rolled back)."""
    with db.read() as conn:
        ids = agency_ids(conn, principal, None, roles=HOST_DETAIL)
        return applies.host_applies_of(conn, ids, host_id, limit=limit)


@router.get("/api/v1/changes")
def changes(db: Db, principal: Caller, since: dt.datetime | None = None,
            until: dt.datetime | None = None, agency: str | None = None, directive: str | None = None,
            only: str = Query("all", pattern="^(all|regressions|fixes)$"),
            limit: int = Query(1000, ge=1, le=100000), format: str = Fmt) -> Response:
    """Result status changes in a window (default: the last 24 hours)."""
    start = naive(since) if since else rollups_now() - dt.timedelta(days=1)
    with db.read() as conn:
        ids = agency_ids(conn, principal, agency, roles=HOST_DETAIL)
        doc = reads.changes(conn, ids, since=start, until=naive(until) if until else None, only=only,
                            directive=directive, limit=limit)
    return csv_response("changes.csv", doc["changes"]) if format == "csv" else JSONResponse(doc)


@router.get("/api/v1/rollups")
def rollup(db: Db, principal: Caller, agency: str | None = None, directive: str | None = None,
           detail: bool | None = Query(None, description="requirements per agency too (default: when one agency)"),
           version: str | None = Query(None, max_length=50, description="with directive: only the hosts that "
                                       "evaluated this version of it (\"\" for a directive that declares none)"),
           digest: str | None = Query(None, max_length=71, description="with version: and this content digest"),
           format: str = Fmt) -> Response:
    """Per directive and requirement: pass/fail/overdue counts, % compliant, days to deadline;
    per agency and overall. With ``directive`` and ``version``: the hosts that evaluated that
    version, by status, per agency and overall."""
    if version is None:
        if digest is not None:
            raise BadRequest("digest filters a version: give version too", "$.query.digest")
        with db.read() as conn:
            ids = agency_ids(conn, principal, agency, roles=ROLLUPS)
            doc = rollups.rollup(conn, ids, directive, detail=True if format == "csv" else detail)
        return csv_response("rollups.csv", rollups.flat_rows(doc)) if format == "csv" else JSONResponse(doc)
    if directive is None:
        raise BadRequest("version filters a directive: give directive too", "$.query.version")
    with db.read() as conn:
        ids = agency_ids(conn, principal, agency, roles=ROLLUPS)
        doc = versions.version_rollup(conn, ids, directive, version, digest)
    if format == "csv":
        return csv_response("rollups.csv", ({"agency": a["agency"], "directive": directive, "version": version,
                                             **{k: v for k, v in a.items() if k not in ("agency", "counts")},
                                             **a["counts"]} for a in doc["agencies"]))
    return JSONResponse(doc)


@router.get("/api/v1/directives/versions")
def directive_versions(db: Db, principal: Caller, agency: str | None = None,
                       directive: str | None = None) -> dict[str, Any]:
    """Per directive, the versions (and content digests) hosts evaluated in their last report,
    with how many hosts per agency."""
    with db.read() as conn:
        ids = agency_ids(conn, principal, agency, roles=ROLLUPS)
        return versions.versions(conn, ids, directive)


@router.get("/api/v1/rollups/agencies")
def rollup_agencies(db: Db, principal: Caller, directive: str | None = None) -> dict[str, Any]:
    """Agencies side by side per directive."""
    with db.read() as conn:
        ids = agency_ids(conn, principal, None, roles=ROLLUPS)
        return rollups.side_by_side(rollups.rollup(conn, ids, directive))


@router.get("/api/v1/history")
def history(db: Db, principal: Caller, agency: str | None = None, directive: str | None = None,
            requirement: str | None = None, days: int = Query(30, ge=1, le=rollups.HISTORY_MAX_DAYS),
            format: str = Fmt) -> Response:
    """Daily series for burn-down charts; today's point is live."""
    with db.read() as conn:
        ids = agency_ids(conn, principal, agency, roles=ROLLUPS)
        doc = rollups.history(conn, ids, directive, requirement, days)
        codes = agency_codes(conn)
        doc["agencies"] = sorted(codes[i][0] for i in (ids if ids is not None else codes))
    if format == "csv":
        return csv_response("history.csv", ({k: v for k, v in s.items() if k != "counts"} | s["counts"]
                                            for s in doc["series"]))
    return JSONResponse(doc)


@router.get("/api/v1/export/results")
def export(db: Db, principal: Caller, agency: str | None = None, directive: str | None = None,
           status: str | None = None, format: str = Fmt) -> StreamingResponse:
    """Every current result in scope, streamed as CSV or a JSON array."""
    with db.read() as conn:  # check scope and filters before the response starts
        ids = agency_ids(conn, principal, agency, roles=HOST_DETAIL)
        next(iter(reads.export_results(conn, ids, directive=directive, status=status)), None)

    def rows() -> Iterator[dict[str, Any]]:
        with db.read() as conn:
            yield from reads.export_results(conn, ids, directive=directive, status=status)

    if format == "csv":
        return csv_response("results.csv", rows(), reads.EXPORT_COLUMNS)
    return StreamingResponse(json_array(rows()), media_type="application/json")


def naive(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value


def rollups_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def json_array(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    yield "["
    for i, row in enumerate(rows):
        yield ("," if i else "") + json.dumps(row)
    yield "]"

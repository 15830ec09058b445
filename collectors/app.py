"""The collector's HTTP API (FastAPI on uvicorn). The HTTP boundary: CollectorError becomes
its status code and a JSON body; anything else is a logged 500 that reveals nothing."""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import threading
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Awaitable, Callable, Iterable, Iterator

import sqlalchemy as sa
from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from agent import __version__
from collectors import BadRequest, CollectorError, ConfigError, TooLarge
from collectors import enrollment, federated_hosts, federation, inputs, reads, retention, rollups, wire
from collectors.auth import MAX_TOKEN_TTL, Principal, TokenCache, bearer, lookup
from collectors.csv_export import csv_response
from collectors.ingest_queue import IngestQueue
from collectors.scope import HOST_DETAIL, HOST_LIST, ROLLUPS, agency_codes, agency_ids
from collectors.storage import DEFAULT_DB, Database

log = logging.getLogger("fedharden.collector")
DRAIN_LIMIT = 64 * 1024 * 1024  # read (and discard) up to this much of an oversized body, so the client sees 413


@dataclass
class Settings:
    db: str = DEFAULT_DB
    max_body: int = wire.DEFAULT_MAX_BODY
    token_ttl: float = 5.0  # seconds a replica trusts a checked token; auth.MAX_TOKEN_TTL at most
    snapshot_interval: float = 300.0  # seconds between daily-history snapshots; 0 disables
    retain_days: int = retention.DEFAULT_RETAIN_DAYS
    prune_interval: float = 3600.0  # seconds between retention runs; 0 disables
    upstream: str | None = None
    upstream_token: str | None = None
    upstream_agency: str | None = None
    upstream_detail: str = "rollups"  # or "hosts": host summaries go upstream too
    upstream_interval: float = 300.0
    upstream_check: float = 5.0
    pool_size: int = 10
    migrate: bool = True

    ENV = "FEDHARDEN_COLLECTOR_SETTINGS"

    def to_env(self) -> dict[str, str]:
        """For uvicorn worker processes: settings travel in the environment, never on argv."""
        return {self.ENV: json.dumps(self.__dict__)}

    @classmethod
    def from_env(cls) -> Settings:
        return cls(**json.loads(os.environ.get(cls.ENV, "{}")))


@dataclass
class Background:
    """Periodic jobs of one process: daily-history snapshots, retention and the federation forwarder."""

    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)
    forwarder: federation.Forwarder | None = None


INGEST_PATH = "/api/v1/reports"
MAX_OFFSET = 2 ** 31 - 1  # a page offset past this is an error, never a database overflow


def error_response(exc: Exception) -> JSONResponse:
    """The answer to an exception at the HTTP boundary: a CollectorError's own status and body;
    a database race 409, a lost database 503; anything else a logged 500 that reveals nothing."""
    if isinstance(exc, CollectorError):
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
        return JSONResponse(exc.body(), status_code=exc.status_code, headers=headers)
    if isinstance(exc, sa.exc.IntegrityError):
        # Two concurrent writes raced for one unique row; nothing was written by the loser.
        return JSONResponse({"status": "error", "error": "a concurrent request wrote the same object; retry"},
                            status_code=409)
    if isinstance(exc, sa.exc.OperationalError):
        log.error("database error: %s", exc.__class__.__name__)
        return JSONResponse({"status": "error", "error": "database unavailable; retry later"}, status_code=503,
                            headers={"Retry-After": "5"})
    log.error("internal error answering a request", exc_info=exc)
    return JSONResponse({"status": "error", "error": "internal error"}, status_code=500)


class IngestFastPath:
    """``POST /api/v1/reports`` straight to its handler, past the framework's routing,
    dependency and exception layers (about a tenth of the collector's CPU per delta, profiled);
    every other request goes on to the app. The route of the same path stays declared in the
    app (the OpenAPI document shows it) and answers through the same handler."""

    def __init__(self, app: ASGIApp, answer: Callable[[Request], Awaitable[Response]]) -> None:
        self.app, self.answer = app, answer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == INGEST_PATH:
            response = await self.answer(Request(scope, receive))
            await response(scope, receive, send)
        else:
            await self.app(scope, receive, send)


class UrlGuard:
    """Refuses a request whose URL path or query holds a NUL (collectors.inputs) before any
    route sees it: 400 naming the parameter, for the API, the dashboard and the CSV downloads."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            problem = inputs.url_problem(scope["path"], scope.get("query_string", b""))
            if problem is not None:
                where, message = problem
                await error_response(BadRequest(message, where))(scope, receive, send)
                return
        await self.app(scope, receive, send)


def create_app(settings: Settings, db: Database | None = None) -> FastAPI:
    db = db or Database(settings.db, pool_size=settings.pool_size)
    cache = TokenCache(min(settings.token_ttl, MAX_TOKEN_TTL))
    background = Background()
    queue = IngestQueue(db, cache)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        import anyio.to_thread

        # As many threads as database connections: more only contend for the GIL and the pool.
        anyio.to_thread.current_default_thread_limiter().total_tokens = max(4, settings.pool_size)
        if settings.migrate:
            await run_in_threadpool(db.migrate)
        await run_in_threadpool(db.analyze)
        _start_background(db, settings, background)
        yield
        await run_in_threadpool(queue.stop)
        background.stop.set()
        if background.forwarder is not None:
            background.forwarder.stop()
        for t in background.threads:
            t.join(timeout=5)
        db.dispose()

    app = FastAPI(title="fedharden collector", version=__version__, lifespan=lifespan,
                  description="Central collector of fedharden reports. See docs/collector.md.",
                  docs_url=None, redoc_url=None)
    app.state.db, app.state.settings, app.state.background = db, settings, background

    @app.exception_handler(CollectorError)
    @app.exception_handler(sa.exc.IntegrityError)
    @app.exception_handler(sa.exc.OperationalError)
    async def known_error(_: Request, exc: Exception) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def invalid_query(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0]
        path = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first.get("loc", ()))
        return JSONResponse(BadRequest(first.get("msg", "invalid"), path).body(), status_code=400)

    def authenticate(secret: str) -> Principal:
        found = cache.get(secret)
        if found is None:
            with db.read() as conn:
                found = lookup(conn, secret)
            cache.put(secret, found)
        return found

    def caller(request: Request) -> Principal:
        return authenticate(bearer(request.headers.get("authorization")))

    async def body(request: Request) -> bytes:
        limit = settings.max_body
        declared = request.headers.get("content-length")
        size, chunks, too_large = 0, [], False
        if declared is not None and declared.isdigit() and int(declared) > limit:
            too_large = True
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                too_large = True
            if too_large:
                if size > DRAIN_LIMIT:
                    break
                continue
            chunks.append(chunk)
        if too_large:
            raise TooLarge(f"body is larger than the {limit} byte limit")
        return wire.decode_body(b"".join(chunks), request.headers.get("content-encoding"), limit)

    # ------------------------------------------------------------------ service

    @app.get("/healthz", tags=["service"])
    def healthz() -> dict[str, str]:
        """Liveness: the process answers (no database access)."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["service"])
    def readyz() -> dict[str, Any]:
        """Readiness: the database answers and its schema is at the newest revision."""
        revision, head = db.revision(), db.head()
        if revision != head:
            raise CollectorError(f"database schema at {revision}, expected {head}: run `fedharden collector migrate`")
        return {"status": "ok", "schema": revision}

    @app.get("/api/v1/schema/report.json", tags=["service"])
    def report_schema() -> dict[str, Any]:
        """The report JSON Schema this collector validates against (the agent's own)."""
        from agent.report import schema

        return schema()

    # ------------------------------------------------------------------ ingest

    report_body = {"requestBody": {"required": True, "description": "A report (kind full or delta) valid "
                                   "against /api/v1/schema/report.json; optionally Content-Encoding: gzip.",
                                   "content": {"application/json": {"schema": {"type": "object"}}}}}

    @app.post("/api/v1/enroll", tags=["ingest"], openapi_extra={"requestBody": {"required": True, "content": {
        "application/json": {"schema": {"type": "object", "required": ["host_id"], "properties": {
            "host_id": {"type": "string"}, "hostname": {"type": "string"}}}}}}})
    async def enroll(request: Request) -> JSONResponse:
        """Register a host with its agency's enrollment secret; answers the host's agent token, once."""
        raw = await body(request)
        header = request.headers.get("authorization")

        def run() -> dict[str, Any]:
            principal = authenticate(bearer(header))
            answer = enrollment.enroll(db, principal, wire.parse_json(raw))
            cache.forget_host(answer["host_id"])  # the tokens it revoked stop here at once
            return answer

        return JSONResponse(await run_in_threadpool(run), status_code=201)

    @app.post("/api/v1/release", tags=["ingest"])
    def release(principal: Principal = Depends(caller)) -> dict[str, Any]:
        """The install that holds this host gives it up (token: the host's agent token): the next
        enrollment claims the host and revokes this token then."""
        return enrollment.release(db, principal)

    async def submit_answer(request: Request) -> JSONResponse:
        try:
            secret = bearer(request.headers.get("authorization"))
            # A cached token is judged before the body is read. Any other is looked up by the
            # queue's writer together with the other tokens of its batch (one query for all),
            # before any parsing; its body is read first, within --max-body. Then the report is
            # parsed, checked and written with the reports of other hosts that arrived meanwhile.
            principal = cache.get(secret)
            if principal is not None:
                principal.require("agent")
            status, answer = await queue.submit(secret, principal, await body(request))
        except Exception as exc:  # answered here: the fast path below has no exception handlers
            return error_response(exc)
        return JSONResponse(answer, status_code=status)

    @app.post(INGEST_PATH, tags=["ingest"], openapi_extra=report_body)
    async def submit(request: Request) -> JSONResponse:
        """Ingest one full report or delta (see docs/collector.md for every answer)."""
        return await submit_answer(request)

    app.add_middleware(IngestFastPath, answer=submit_answer)
    app.add_middleware(UrlGuard)

    async def federation_put(request: Request, receive: Callable[[Database, Principal, Any], dict[str, Any]]
                             ) -> JSONResponse:
        """A document an agency collector pushes: authenticated, parsed and stored off the event loop."""
        header = request.headers.get("authorization")
        raw = await body(request)

        def run() -> dict[str, Any]:
            return receive(db, authenticate(bearer(header)), wire.parse_json(raw))

        return JSONResponse(await run_in_threadpool(run))

    @app.put("/api/v1/federation/rollups", tags=["federation"], openapi_extra={"requestBody": {"required": True,
             "content": {"application/json": {"schema": {"type": "object"}}}}})
    async def federated(request: Request) -> JSONResponse:
        """An agency collector replaces its agency's rollups here (token: soc of that agency)."""
        return await federation_put(request, federation.receive)

    @app.put(federated_hosts.HOSTS_PATH, tags=["federation"], openapi_extra={"requestBody": {"required": True,
             "content": {"application/json": {"schema": {"type": "object"}}}}})
    async def federated_host_page(request: Request) -> JSONResponse:
        """An agency collector that forwards host detail replaces one page of its hosts here (token: soc)."""
        return await federation_put(request, federated_hosts.receive)

    # ------------------------------------------------------------------ reads

    Fmt = Query("json", pattern="^(json|csv)$", description="json or csv")

    @app.get("/api/v1/hosts", tags=["read"])
    def hosts(principal: Principal = Depends(caller), agency: str | None = None, directive: str | None = None,
              status: str | None = Query(None, description="non_compliant, incomplete, needs_review, "
                                                      "compliant or not_applicable"),
              overdue: bool | None = None, tag: str | None = None, limit: int = Query(100, ge=1, le=10000),
              offset: int = Query(0, ge=0, le=MAX_OFFSET), format: str = Fmt) -> Response:
        """Hosts in scope, filtered by agency, directive, status, overdue and tag; with the host
        summaries agency collectors forward (a national token sees only those)."""
        with db.read() as conn:
            ids = agency_ids(conn, principal, agency, roles=HOST_LIST)
            doc = reads.list_hosts(conn, ids, directive=directive, status=status, overdue=overdue, tag=tag,
                                   limit=limit, offset=offset, enrolled=principal.role != "national", federated=True)
        if format == "csv":
            return csv_response("hosts.csv", ({**{k: v for k, v in h.items() if k not in ("counts", "tags")},
                                               **h["counts"], "tags": " ".join(h["tags"])} for h in doc["hosts"]))
        return JSONResponse(doc)

    @app.get("/api/v1/hosts/{host_id}", tags=["read"])
    def host(host_id: str, principal: Principal = Depends(caller), directive: str | None = None,
             status: str | None = None) -> dict[str, Any]:
        """One host's current results with evidence and failing_since."""
        with db.read() as conn:
            ids = agency_ids(conn, principal, None, roles=HOST_DETAIL)
            return reads.host_detail(conn, ids, host_id, directive=directive, status=status)

    @app.get("/api/v1/changes", tags=["read"])
    def changes(principal: Principal = Depends(caller), since: dt.datetime | None = None,
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

    @app.get("/api/v1/rollups", tags=["read"])
    def rollup(principal: Principal = Depends(caller), agency: str | None = None, directive: str | None = None,
               detail: bool | None = Query(None, description="requirements per agency too (default: when one agency)"),
               format: str = Fmt) -> Response:
        """Per directive and requirement: pass/fail/overdue counts, % compliant, days to deadline;
        per agency and overall."""
        with db.read() as conn:
            ids = agency_ids(conn, principal, agency, roles=ROLLUPS)
            doc = rollups.rollup(conn, ids, directive, detail=True if format == "csv" else detail)
        return csv_response("rollups.csv", rollups.flat_rows(doc)) if format == "csv" else JSONResponse(doc)

    @app.get("/api/v1/rollups/agencies", tags=["read"])
    def rollup_agencies(principal: Principal = Depends(caller), directive: str | None = None) -> dict[str, Any]:
        """Agencies side by side per directive."""
        with db.read() as conn:
            ids = agency_ids(conn, principal, None, roles=ROLLUPS)
            return rollups.side_by_side(rollups.rollup(conn, ids, directive))

    @app.get("/api/v1/history", tags=["read"])
    def history(principal: Principal = Depends(caller), agency: str | None = None, directive: str | None = None,
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

    @app.get("/api/v1/export/results", tags=["read"])
    def export(principal: Principal = Depends(caller), agency: str | None = None, directive: str | None = None,
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

    from collectors.dashboard import install as dashboard

    dashboard(app, db)
    return app


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


def _start_background(db: Database, settings: Settings, background: Background) -> None:
    if settings.snapshot_interval > 0:
        def snapshots() -> None:
            while not background.stop.is_set():
                try:
                    rollups.snapshot(db)
                    db.analyze()
                except Exception:  # keep snapshotting after a transient database error
                    log.exception("history snapshot failed")
                background.stop.wait(settings.snapshot_interval)

        t = threading.Thread(target=snapshots, name="fedharden-snapshots", daemon=True)
        t.start()
        background.threads.append(t)
    if settings.prune_interval > 0:
        t = threading.Thread(target=retention.run_periodically, name="fedharden-retention", daemon=True,
                             args=(db, settings.retain_days, settings.prune_interval, background.stop))
        t.start()
        background.threads.append(t)
    if settings.upstream:
        if not settings.upstream_token:
            raise ConfigError("--upstream needs a token (FEDHARDEN_UPSTREAM_TOKEN or --upstream-token-file)")
        agency = upstream_agency(db, settings.upstream_agency)
        background.forwarder = federation.Forwarder(db, agency, settings.upstream, settings.upstream_token,
                                                    interval=settings.upstream_interval, check=settings.upstream_check,
                                                    hosts=settings.upstream_detail == "hosts")
        background.forwarder.start()


def upstream_agency(db: Database, code: str | None) -> int:
    from collectors.admin import agency_id
    from collectors.models import agencies

    with db.read() as conn:
        if code:
            return agency_id(conn, code)
        rows = conn.execute(sa.select(agencies.c.id)).all()
    if len(rows) != 1:
        raise ConfigError("--upstream-agency is required when the collector holds other than one agency")
    return int(rows[0].id)


def app_from_env() -> FastAPI:
    """Factory for uvicorn worker processes (``--workers N``)."""
    return create_app(Settings.from_env())



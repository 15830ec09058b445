"""The collector's HTTP app (FastAPI on uvicorn): its settings, the state its routes share
(``app.state``: db, settings, cache, queue, background), the routes of collectors.routes and
the dashboard, the HTTP boundary's exception handlers, and the periodic background jobs."""
from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import AsyncIterator

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from collectors import BadRequest, CollectorError, ConfigError, __version__
from collectors import directive_mirror, federation, inputs, retention, rollups, wire
from collectors.directive_files import ServedRepository
from collectors.auth import MAX_TOKEN_TTL, TokenCache
from collectors.ingest_queue import IngestQueue
from collectors.routes import federation as federation_routes, ingest as ingest_routes, reads as read_routes, \
    service as service_routes, tuf as tuf_routes
from collectors.routes.errors import error_response
from collectors.routes.ingest import IngestFastPath
from collectors.storage import DEFAULT_DB, Database

log = logging.getLogger("fedharden.collector")


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
    # The directive repository served at /api/v1/tuf/ (collectors.routes.tuf): a folder as
    # published, or the verified mirror of an upstream's (collectors.directive_mirror).
    directives_repo: str | None = None
    directives_upstream: str | None = None
    directives_root: str | None = None  # the root of trust the mirror verifies the upstream with
    directives_dir: str = "fedharden-directives"  # the mirror's own folder
    directives_local: str | None = None  # this agency's own target files
    directives_interval: float = 300.0

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
    mirror: directive_mirror.Mirror | None = None


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


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    import anyio.to_thread

    state = app.state
    db, settings, background = state.db, state.settings, state.background
    # As many threads as database connections: more only contend for the GIL and the pool.
    anyio.to_thread.current_default_thread_limiter().total_tokens = max(4, settings.pool_size)
    if settings.migrate:
        await run_in_threadpool(db.migrate)
    await run_in_threadpool(db.analyze)
    _start_background(db, settings, background)
    yield
    await run_in_threadpool(state.queue.stop)
    background.stop.set()
    if background.forwarder is not None:
        background.forwarder.stop()
    for t in background.threads:
        t.join(timeout=5)
    db.dispose()


async def known_error(_: Request, exc: Exception) -> JSONResponse:
    return error_response(exc)


async def invalid_query(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0]
    path = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first.get("loc", ()))
    return JSONResponse(BadRequest(first.get("msg", "invalid"), path).body(), status_code=400)


def create_app(settings: Settings, db: Database | None = None) -> FastAPI:
    db = db or Database(settings.db, pool_size=settings.pool_size)
    app = FastAPI(title="fedharden collector", version=__version__, lifespan=lifespan,
                  description="Central collector of fedharden reports. See docs/collector.md.",
                  docs_url=None, redoc_url=None)
    cache = TokenCache(min(settings.token_ttl, MAX_TOKEN_TTL))
    app.state.db, app.state.settings, app.state.background = db, settings, Background()
    app.state.cache, app.state.queue = cache, IngestQueue(db, cache)
    app.state.directives = directive_repository(settings)
    for error in (CollectorError, sa.exc.IntegrityError, sa.exc.OperationalError):
        app.add_exception_handler(error, known_error)
    app.add_exception_handler(RequestValidationError, invalid_query)
    for routes in (service_routes, ingest_routes, federation_routes, read_routes, tuf_routes):
        app.include_router(routes.router)
    app.add_middleware(IngestFastPath)
    app.add_middleware(UrlGuard)

    from collectors.dashboard import install as dashboard

    dashboard(app, db)
    return app


def directive_repository(settings: Settings) -> ServedRepository | None:
    """What /api/v1/tuf/ serves: the published folder, or the mirror's verified copy."""
    if settings.directives_repo:
        return ServedRepository(Path(settings.directives_repo))
    if settings.directives_upstream:
        return ServedRepository(directive_mirror.Mirror.served(Path(settings.directives_dir)), mirrored=True)
    return None


def directive_mirror_of(settings: Settings) -> directive_mirror.Mirror:
    if not settings.directives_root:
        raise ConfigError("--directives-upstream needs --directives-root: the root.json the mirror verifies it with")
    return directive_mirror.Mirror(settings.directives_upstream or "", Path(settings.directives_root),
                                   Path(settings.directives_dir),
                                   Path(settings.directives_local) if settings.directives_local else None)


def _start_background(db: Database, settings: Settings, background: Background) -> None:
    if settings.directives_upstream:
        background.mirror = directive_mirror_of(settings)
        t = threading.Thread(target=directive_mirror.run_periodically, name="fedharden-directive-mirror",
                             daemon=True, args=(background.mirror, settings.directives_interval, background.stop))
        t.start()
        background.threads.append(t)
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



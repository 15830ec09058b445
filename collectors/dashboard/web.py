"""Dashboard routes. The HTML boundary: a CollectorError becomes an error page with its status
code (401 sends the browser to the login page); anything else is a logged 500."""
from __future__ import annotations

import datetime as dt
import logging
import threading
import urllib.parse
from typing import Any, Callable, Iterable, Iterator

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy.engine import Connection
from starlette.concurrency import run_in_threadpool

from collectors import AuthError, BadRequest, CollectorError, Forbidden
from collectors import reads, rollups
from collectors.auth import lookup
from collectors.csv_export import csv_response
from collectors.dashboard import pages
from collectors.dashboard.charts import meter
from collectors.dashboard.session import Session, Signer, allowed, cookie_names, same, session_key, SESSION_AGE
from collectors.scope import HOST_DETAIL, ROLLUPS, agency_ids
from collectors.storage import Database

log = logging.getLogger("fedharden.dashboard")
PREFIX = "/dashboard"
MAX_FORM = 8 * 1024
SECURITY_HEADERS = {
    # No script at all, nothing from elsewhere; styles from our own stylesheet only.
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
Builder = Callable[[Connection, Session], dict[str, Any]]


def templates() -> Environment:
    env = Environment(loader=PackageLoader("collectors.dashboard", "templates"),
                      autoescape=select_autoescape(default=True, default_for_string=True), trim_blocks=True,
                      lstrip_blocks=True)
    env.globals.update(meter=meter, prefix=PREFIX)
    env.filters.update(pct=_pct, num=lambda n: f"{int(n or 0):,}", when=_when, qs=_qs, combine=lambda a, b: {**a, **b},
                       refname=lambda k: REFERENCE_NAMES.get(k, k.replace("_", " ")))
    return env


REFERENCE_NAMES = {"nist_800_53": "NIST SP 800-53", "cis": "CIS", "stig": "STIG", "ssg": "ComplianceAsCode",
                   "other": "other"}


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}%"


def _when(value: str | None) -> str:
    """ISO timestamps as 'YYYY-MM-DD HH:MM UTC'."""
    if not value:
        return "—"
    return value.replace("T", " ")[:16] + " UTC" if "T" in value else value


def _qs(params: dict[str, Any]) -> str:
    return urllib.parse.urlencode({k: v for k, v in params.items() if v not in (None, "")})


class Web:
    """The dashboard's state: the database, the templates, the cookie signer (made on first use)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.env = templates()
        self._signer: Signer | None = None
        self._lock = threading.Lock()

    @property
    def signer(self) -> Signer:
        with self._lock:
            if self._signer is None:
                self._signer = Signer(session_key(self.db))
            return self._signer

    # ---------------------------------------------------------------- rendering

    def render(self, request: Request, template: str, context: dict[str, Any], status: int = 200,
               session: Session | None = None) -> HTMLResponse:
        html = self.env.get_template(template).render(request_path=request.url.path, session=session,
                                                      principal=session.principal if session else None,
                                                      **context)
        return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)

    def error(self, request: Request, exc: CollectorError, session: Session | None) -> Response:
        if isinstance(exc, AuthError) and not isinstance(exc, Forbidden):
            target = f"{PREFIX}/login?" + urllib.parse.urlencode({"next": _local(request)})
            response = RedirectResponse(target, status_code=303, headers=SECURITY_HEADERS)
            if session is None:  # an expired or revoked session: drop the cookie
                response.delete_cookie(cookie_names(secure(request))[0], path="/")
            return response
        return self.render(request, "error.html", {"status": exc.status_code, "message": str(exc)},
                           exc.status_code, session)

    def session(self, request: Request, conn: Connection) -> Session:
        return self.signer.open_session(conn, request.cookies.get(cookie_names(secure(request))[0]))

    async def page(self, request: Request, template: str, build: Builder) -> Response:
        def run() -> Response:
            session: Session | None = None
            try:
                with self.db.read() as conn:
                    session = self.session(request, conn)
                    context = build(conn, session)
                return self.render(request, template, context, session=session)
            except CollectorError as exc:
                return self.error(request, exc, session)

        return await run_in_threadpool(run)

    async def export(self, request: Request, name: str,
                     rows: Callable[[Connection, Session], Iterable[dict[str, Any]]],
                     columns: Iterable[str] | None = None) -> Response:
        """A CSV download; scope and filters are checked before the first byte is sent."""
        def check() -> Response | None:
            try:
                with self.db.read() as conn:
                    next(iter(rows(conn, self.session(request, conn))), None)
                return None
            except CollectorError as exc:
                return self.error(request, exc, None)

        refused = await run_in_threadpool(check)
        if refused is not None:
            return refused

        def stream() -> Iterator[dict[str, Any]]:
            with self.db.read() as conn:
                yield from rows(conn, self.session(request, conn))

        response = csv_response(name, stream(), columns)
        response.headers.update({k: v for k, v in SECURITY_HEADERS.items() if k != "Content-Security-Policy"})
        return response


def secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _local(request: Request) -> str:
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


def safe_next(value: str | None) -> str:
    """Only a path inside the dashboard; anything else (another site, a scheme, a way out with
    ``..``, control characters) goes home."""
    if value and value.startswith(PREFIX + "/") and value.isprintable() and "\\" not in value:
        path = urllib.parse.urlsplit(value).path
        if not value.startswith("//") and "://" not in value and ".." not in path.split("/") \
                and "%2e" not in path.lower() and "%2f" not in path.lower():
            return value
    return PREFIX + "/"


def home(session: Session) -> str:
    p = session.principal
    if p.role == "soc" and p.agency:
        return f"{PREFIX}/agency/{urllib.parse.quote(p.agency, safe='')}"
    return f"{PREFIX}/national"


async def form(request: Request) -> dict[str, str]:
    """An urlencoded form body, small (a token and a nonce), first value of each field."""
    size, chunks = 0, []
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_FORM:
            raise BadRequest("form too large")
        chunks.append(chunk)
    parsed = urllib.parse.parse_qs(b"".join(chunks).decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[0] for k, v in parsed.items()}


def same_origin(request: Request) -> None:
    """A state-changing request must come from our own pages when the browser says where from."""
    origin = request.headers.get("origin")
    if origin and origin != "null" and urllib.parse.urlsplit(origin).netloc != request.headers.get("host", ""):
        raise Forbidden("cross-site form submission refused")


def install(app: FastAPI, db: Database) -> None:
    """Serve the dashboard from this collector app."""
    web = Web(db)
    router = APIRouter(prefix=PREFIX, include_in_schema=False)
    query = lambda request: dict(request.query_params)  # noqa: E731

    # ------------------------------------------------------------- login / logout

    @router.get("/login")
    async def login_form(request: Request) -> Response:
        def run() -> Response:
            with db.read() as conn:
                try:
                    session = web.session(request, conn)
                    return RedirectResponse(safe_next(request.query_params.get("next")) if
                                            request.query_params.get("next") else home(session), status_code=303)
                except CollectorError:
                    pass
            return login_page(request, "", 200)

        return await run_in_threadpool(run)

    def login_page(request: Request, message: str, status: int) -> Response:
        cookie, nonce = web.signer.new_login()
        response = web.render(request, "login.html", {"csrf": nonce, "message": message,
                                                      "next": safe_next(request.query_params.get("next"))}, status)
        response.set_cookie(cookie_names(secure(request))[1], cookie, max_age=3600, path="/", httponly=True,
                            samesite="strict", secure=secure(request))
        return response

    @router.post("/login")
    async def login(request: Request) -> Response:
        fields = await form(request)
        session_name, login_name = cookie_names(secure(request))

        def run() -> Response:
            try:
                same_origin(request)
                web.signer.check_login(request.cookies.get(login_name), fields.get("csrf", ""))
                secret = fields.get("token", "").strip()
                if not secret:
                    raise AuthError("enter your token")
                with db.read() as conn:
                    principal = lookup(conn, secret)
                allowed(principal)
            except Forbidden as exc:
                return login_page(request, str(exc), 403)
            except AuthError as exc:
                log.info("dashboard login refused: %s", exc)  # never the token itself
                return login_page(request, "That token is unknown or revoked.", 401)
            value, _ = web.signer.new_session(principal)
            target = safe_next(fields.get("next"))
            response = RedirectResponse(target if target != PREFIX + "/" else home(Session(principal, "")),
                                        status_code=303, headers=SECURITY_HEADERS)
            response.set_cookie(session_name, value, max_age=SESSION_AGE, path="/", httponly=True,
                                samesite="strict", secure=secure(request))
            response.delete_cookie(login_name, path="/")
            return response

        return await run_in_threadpool(run)

    @router.post("/logout")
    async def logout(request: Request) -> Response:
        fields = await form(request)

        def run() -> Response:
            session: Session | None = None
            try:
                same_origin(request)
                with db.read() as conn:
                    session = web.session(request, conn)
                if not same(session.csrf, fields.get("csrf", "")):
                    raise Forbidden("the form expired; reload the page and try again")
            except CollectorError as exc:
                if isinstance(exc, AuthError) and not isinstance(exc, Forbidden):
                    session = None  # already logged out
                else:
                    return web.error(request, exc, session)
            response = RedirectResponse(f"{PREFIX}/login", status_code=303, headers=SECURITY_HEADERS)
            response.delete_cookie(cookie_names(secure(request))[0], path="/")
            return response

        return await run_in_threadpool(run)

    # ------------------------------------------------------------- pages

    @router.get("/")
    async def index(request: Request) -> Response:
        def run() -> Response:
            try:
                with db.read() as conn:
                    return RedirectResponse(home(web.session(request, conn)), status_code=303)
            except CollectorError as exc:
                return web.error(request, exc, None)

        return await run_in_threadpool(run)

    @router.get("/national")
    async def national(request: Request) -> Response:
        return await web.page(request, "national.html", lambda conn, s: pages.national(conn, s.principal))

    @router.get("/forwarded")
    async def forwarded(request: Request) -> Response:
        code = request.query_params.get("agency") or None
        return await web.page(request, "forwarded.html", lambda conn, s: pages.forwarded(
            conn, s.principal, code, pages.HostFilters.parse(query(request))))

    @router.get("/agencies")
    async def agency_list(request: Request) -> Response:
        return await web.page(request, "agencies.html", lambda conn, s: pages.agencies(conn, s.principal))

    @router.get("/agency/{code}")
    async def agency(request: Request, code: str) -> Response:
        return await web.page(request, "agency.html", lambda conn, s: pages.agency(
            conn, s.principal, code, pages.HostFilters.parse(query(request))))

    @router.get("/host/{host_id:path}")
    async def host(request: Request, host_id: str) -> Response:
        status = request.query_params.get("status") or None
        return await web.page(request, "host.html", lambda conn, s: pages.host(conn, s.principal, host_id, status))

    @router.get("/directives")
    async def directive_list(request: Request) -> Response:
        return await web.page(request, "directives.html", lambda conn, s: pages.directives(conn, s.principal))

    @router.get("/directive/{directive_id}")
    async def directive(request: Request, directive_id: str) -> Response:
        code = request.query_params.get("agency") or None
        return await web.page(request, "directive.html",
                              lambda conn, s: pages.directive(conn, s.principal, directive_id, code))

    # ------------------------------------------------------------- exports (CSV)

    @router.get("/agency/{code}/hosts.csv")
    async def export_hosts(request: Request, code: str) -> Response:
        filters = pages.HostFilters.parse(query(request))

        def rows(conn: Connection, s: Session) -> Iterator[dict[str, Any]]:
            ids = agency_ids(conn, s.principal, code, roles=HOST_DETAIL)
            offset = 0
            while True:
                doc = reads.list_hosts(conn, ids, directive=filters.directive, status=filters.status,
                                       overdue=pages.OVERDUE.get(filters.overdue or ""), tag=filters.tag,
                                       limit=5000, offset=offset)
                for h in doc["hosts"]:
                    yield {**{k: v for k, v in h.items() if k not in ("counts", "tags")}, **h["counts"],
                           "tags": " ".join(h["tags"])}
                offset += 5000
                if offset >= doc["total"]:
                    return

        return await web.export(request, f"{code}-hosts.csv", rows)

    @router.get("/agency/{code}/results.csv")
    async def export_results(request: Request, code: str) -> Response:
        directive_id = request.query_params.get("directive") or None
        status = request.query_params.get("status") or None

        def rows(conn: Connection, s: Session) -> Iterator[dict[str, Any]]:
            ids = agency_ids(conn, s.principal, code, roles=HOST_DETAIL)
            return reads.export_results(conn, ids, directive=directive_id, status=status)

        return await web.export(request, f"{code}-results.csv", rows, reads.EXPORT_COLUMNS)

    @router.get("/agency/{code}/overdue.csv")
    async def export_overdue(request: Request, code: str) -> Response:
        def rows(conn: Connection, s: Session) -> Iterator[dict[str, Any]]:
            ids = agency_ids(conn, s.principal, code, roles=HOST_DETAIL)
            offset = 0
            while True:
                doc = reads.overdue_findings(conn, ids, limit=5000, offset=offset)
                yield from doc["findings"]
                offset += 5000
                if offset >= doc["total"]:
                    return

        return await web.export(request, f"{code}-overdue-kev.csv", rows, OVERDUE_COLUMNS)

    @router.get("/agency/{code}/changes.csv")
    async def export_changes(request: Request, code: str) -> Response:
        only = request.query_params.get("only") or "all"

        def rows(conn: Connection, s: Session) -> list[dict[str, Any]]:
            ids = agency_ids(conn, s.principal, code, roles=HOST_DETAIL)
            return reads.changes(conn, ids, since=pages.yesterday(), until=None, only=only, directive=None,
                                 limit=100_000)["changes"]

        return await web.export(request, f"{code}-changes.csv", rows, CHANGE_COLUMNS)

    @router.get("/rollups.csv")
    async def export_rollups(request: Request) -> Response:
        def rows(conn: Connection, s: Session) -> list[dict[str, Any]]:
            ids = agency_ids(conn, s.principal, None, roles=ROLLUPS)
            return rollups.flat_rows(rollups.rollup(conn, ids, detail=True))

        return await web.export(request, f"rollups-{dt.date.today().isoformat()}.csv", rows)

    app.include_router(router)
    app.mount(f"{PREFIX}/static", StaticFiles(packages=[("collectors.dashboard", "static")]), name="dashboard-static")

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse(f"{PREFIX}/", status_code=303)


OVERDUE_COLUMNS = ("agency", "host_id", "hostname", "cve", "requirement", "key", "title", "severity", "due",
                   "days_overdue", "failing_since")
CHANGE_COLUMNS = ("at", "agency", "host_id", "hostname", "key", "directive", "requirement", "from", "to",
                  "report_id")

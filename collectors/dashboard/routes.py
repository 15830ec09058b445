"""Dashboard routes, under /dashboard (not in the OpenAPI document). The ``Web`` state is
``request.app.state.web`` (``install`` sets it). Routes are plain ``def``: each reads the
database, so FastAPI runs it in its thread pool; a form is read before, on the event loop."""
from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Iterator

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.engine import Connection

from collectors import AuthError, CollectorError, Forbidden
from collectors import reads, rollups
from collectors.auth import lookup
from collectors.dashboard import pages
from collectors.dashboard.session import Session, SESSION_AGE, allowed, cookie_names, same
from collectors.dashboard.web import (PREFIX, SECURITY_HEADERS, Web, form, home, log, safe_next, same_origin,
                                      secure)
from collectors.scope import HOST_DETAIL, ROLLUPS, agency_ids
from collectors.storage import Database

OVERDUE_COLUMNS = ("agency", "host_id", "hostname", "cve", "requirement", "key", "title", "severity", "due",
                   "days_overdue", "failing_since")
CHANGE_COLUMNS = ("at", "agency", "host_id", "hostname", "key", "directive", "requirement", "from", "to",
                  "report_id")


async def web_state(request: Request) -> Web:
    return request.app.state.web  # type: ignore[no-any-return]


WebState = Annotated[Web, Depends(web_state)]
Form = Annotated[dict[str, str], Depends(form)]
router = APIRouter(prefix=PREFIX, include_in_schema=False)
root = APIRouter(include_in_schema=False)


def query(request: Request) -> dict[str, str]:
    return dict(request.query_params)


def install(app: FastAPI, db: Database) -> None:
    """Serve the dashboard from this collector app."""
    app.state.web = Web(db)
    app.include_router(router)
    app.mount(f"{PREFIX}/static", StaticFiles(packages=[("collectors.dashboard", "static")]), name="dashboard-static")
    app.include_router(root)


@root.get("/")
def root_page() -> RedirectResponse:
    return RedirectResponse(f"{PREFIX}/", status_code=303)


# ------------------------------------------------------------- login / logout


@router.get("/login")
def login_form(request: Request, web: WebState) -> Response:
    with web.db.read() as conn:
        try:
            session = web.session(request, conn)
            return RedirectResponse(safe_next(request.query_params.get("next")) if
                                    request.query_params.get("next") else home(session), status_code=303)
        except CollectorError:
            pass
    return login_page(web, request, "", 200)


def login_page(web: Web, request: Request, message: str, status: int) -> Response:
    cookie, nonce = web.signer.new_login()
    response = web.render(request, "login.html", {"csrf": nonce, "message": message,
                                                  "next": safe_next(request.query_params.get("next"))}, status)
    response.set_cookie(cookie_names(secure(request))[1], cookie, max_age=3600, path="/", httponly=True,
                        samesite="strict", secure=secure(request))
    return response


@router.post("/login")
def login(request: Request, web: WebState, fields: Form) -> Response:
    session_name, login_name = cookie_names(secure(request))
    try:
        same_origin(request)
        web.signer.check_login(request.cookies.get(login_name), fields.get("csrf", ""))
        secret = fields.get("token", "").strip()
        if not secret:
            raise AuthError("enter your token")
        with web.db.read() as conn:
            principal = lookup(conn, secret)
        allowed(principal)
    except Forbidden as exc:
        return login_page(web, request, str(exc), 403)
    except AuthError as exc:
        log.info("dashboard login refused: %s", exc)  # never the token itself
        return login_page(web, request, "That token is unknown or revoked.", 401)
    value, _ = web.signer.new_session(principal)
    target = safe_next(fields.get("next"))
    response = RedirectResponse(target if target != PREFIX + "/" else home(Session(principal, "")),
                                status_code=303, headers=SECURITY_HEADERS)
    response.set_cookie(session_name, value, max_age=SESSION_AGE, path="/", httponly=True,
                        samesite="strict", secure=secure(request))
    response.delete_cookie(login_name, path="/")
    return response


@router.post("/logout")
def logout(request: Request, web: WebState, fields: Form) -> Response:
    session: Session | None = None
    try:
        same_origin(request)
        with web.db.read() as conn:
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


# ------------------------------------------------------------- pages


@router.get("/")
def index(request: Request, web: WebState) -> Response:
    try:
        with web.db.read() as conn:
            return RedirectResponse(home(web.session(request, conn)), status_code=303)
    except CollectorError as exc:
        return web.error(request, exc, None)


@router.get("/national")
def national(request: Request, web: WebState) -> Response:
    return web.page(request, "national.html", lambda conn, s: pages.national(conn, s.principal))


@router.get("/forwarded")
def forwarded(request: Request, web: WebState) -> Response:
    code = request.query_params.get("agency") or None
    return web.page(request, "forwarded.html", lambda conn, s: pages.forwarded(
        conn, s.principal, code, pages.HostFilters.parse(query(request))))


@router.get("/agencies")
def agency_list(request: Request, web: WebState) -> Response:
    return web.page(request, "agencies.html", lambda conn, s: pages.agencies(conn, s.principal))


@router.get("/agency/{code}")
def agency(request: Request, web: WebState, code: str) -> Response:
    return web.page(request, "agency.html", lambda conn, s: pages.agency(
        conn, s.principal, code, pages.HostFilters.parse(query(request))))


@router.get("/host/{host_id:path}")
def host(request: Request, web: WebState, host_id: str) -> Response:
    status = request.query_params.get("status") or None
    return web.page(request, "host.html", lambda conn, s: pages.host(conn, s.principal, host_id, status))


@router.get("/directives")
def directive_list(request: Request, web: WebState) -> Response:
    return web.page(request, "directives.html", lambda conn, s: pages.directives(conn, s.principal))


@router.get("/directive/{directive_id}")
def directive(request: Request, web: WebState, directive_id: str) -> Response:
    code = request.query_params.get("agency") or None
    return web.page(request, "directive.html", lambda conn, s: pages.directive(conn, s.principal, directive_id, code))


# ------------------------------------------------------------- exports (CSV)


@router.get("/agency/{code}/hosts.csv")
def export_hosts(request: Request, web: WebState, code: str) -> Response:
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

    return web.export(request, f"{code}-hosts.csv", rows)


@router.get("/agency/{code}/results.csv")
def export_results(request: Request, web: WebState, code: str) -> Response:
    directive_id = request.query_params.get("directive") or None
    status = request.query_params.get("status") or None

    def rows(conn: Connection, s: Session) -> Iterator[dict[str, Any]]:
        ids = agency_ids(conn, s.principal, code, roles=HOST_DETAIL)
        return reads.export_results(conn, ids, directive=directive_id, status=status)

    return web.export(request, f"{code}-results.csv", rows, reads.EXPORT_COLUMNS)


@router.get("/agency/{code}/overdue.csv")
def export_overdue(request: Request, web: WebState, code: str) -> Response:
    def rows(conn: Connection, s: Session) -> Iterator[dict[str, Any]]:
        ids = agency_ids(conn, s.principal, code, roles=HOST_DETAIL)
        offset = 0
        while True:
            doc = reads.overdue_findings(conn, ids, limit=5000, offset=offset)
            yield from doc["findings"]
            offset += 5000
            if offset >= doc["total"]:
                return

    return web.export(request, f"{code}-overdue-kev.csv", rows, OVERDUE_COLUMNS)


@router.get("/agency/{code}/changes.csv")
def export_changes(request: Request, web: WebState, code: str) -> Response:
    only = request.query_params.get("only") or "all"

    def rows(conn: Connection, s: Session) -> list[dict[str, Any]]:
        ids = agency_ids(conn, s.principal, code, roles=HOST_DETAIL)
        return reads.changes(conn, ids, since=pages.yesterday(), until=None, only=only, directive=None,
                             limit=100_000)["changes"]

    return web.export(request, f"{code}-changes.csv", rows, CHANGE_COLUMNS)


@router.get("/rollups.csv")
def export_rollups(request: Request, web: WebState) -> Response:
    def rows(conn: Connection, s: Session) -> list[dict[str, Any]]:
        ids = agency_ids(conn, s.principal, None, roles=ROLLUPS)
        return rollups.flat_rows(rollups.rollup(conn, ids, detail=True))

    return web.export(request, f"rollups-{dt.date.today().isoformat()}.csv", rows)

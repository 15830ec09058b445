"""The dashboard's web layer: its state (``Web``: the database, the templates, the cookie
signer), rendering, and the HTML boundary: a CollectorError becomes an error page with its
status code (401 sends the browser to the login page); anything else is a logged 500. The
routes are in collectors.dashboard.routes."""
from __future__ import annotations

import logging
import threading
import urllib.parse
from typing import Any, Callable, Iterable, Iterator

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy.engine import Connection

from collectors import AuthError, BadRequest, CollectorError, Forbidden
from collectors.csv_export import csv_response
from collectors.dashboard.charts import meter
from collectors.dashboard.session import Session, Signer, cookie_names, session_key
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

    def page(self, request: Request, template: str, build: Builder) -> Response:
        """A page built from the database in the caller's session (blocking: from a ``def`` route)."""
        session: Session | None = None
        try:
            with self.db.read() as conn:
                session = self.session(request, conn)
                context = build(conn, session)
            return self.render(request, template, context, session=session)
        except CollectorError as exc:
            return self.error(request, exc, session)

    def export(self, request: Request, name: str, rows: Callable[[Connection, Session], Iterable[dict[str, Any]]],
               columns: Iterable[str] | None = None) -> Response:
        """A CSV download; scope and filters are checked before the first byte is sent."""
        try:
            with self.db.read() as conn:
                next(iter(rows(conn, self.session(request, conn))), None)
        except CollectorError as exc:
            return self.error(request, exc, None)

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

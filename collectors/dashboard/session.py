"""Browser sessions: a role token is exchanged once for a signed session cookie.

The cookie holds the token's id (never its secret), the login time and a CSRF nonce, signed
with a key kept in the collector's ``settings`` table (one key for every replica on one
database). Every request reloads the token by id, so revoking a token ends its sessions at
once. Forms that change state carry the nonce and are refused without it (synchronizer
token); the login form, which has no session yet, uses a signed pre-login cookie instead.
"""
from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.engine import Connection

from collectors import AuthError, Forbidden
from collectors.auth import Principal, by_id
from collectors.models import settings as settings_table
from collectors.storage import Database

KEY_SETTING = "dashboard_session_key"
SESSION_AGE = 8 * 3600  # seconds: one working shift, then log in again
LOGIN_AGE = 3600
DASHBOARD_ROLES = ("soc", "national", "admin")


@dataclass(frozen=True)
class Session:
    principal: Principal
    csrf: str


def cookie_names(secure: bool) -> tuple[str, str]:
    """Session and pre-login cookie names; over TLS the ``__Host-`` prefix pins them to this origin."""
    prefix = "__Host-" if secure else ""
    return f"{prefix}fh_session", f"{prefix}fh_login"


def session_key(db: Database) -> str:
    """The signing key, created on first use; replicas racing to create it agree on the first one."""
    with db.read() as conn:
        found = _read_key(conn)
    if found:
        return found
    try:
        with db.write() as conn:
            if not _read_key(conn):
                conn.execute(settings_table.insert().values(name=KEY_SETTING, value=secrets.token_urlsafe(48)))
    except sa.exc.IntegrityError:
        pass  # another replica stored its key first; use that one
    with db.read() as conn:
        key = _read_key(conn)
    assert key is not None
    return key


def _read_key(conn: Connection) -> str | None:
    row = conn.execute(sa.select(settings_table.c.value).where(settings_table.c.name == KEY_SETTING)).first()
    return str(row.value) if row else None


class Signer:
    """Signs and checks the two cookies."""

    def __init__(self, key: str) -> None:
        self._session = URLSafeTimedSerializer(key, salt="fedharden-dashboard-session")
        self._login = URLSafeTimedSerializer(key, salt="fedharden-dashboard-login")

    def new_session(self, principal: Principal) -> tuple[str, str]:
        """(cookie value, csrf nonce) for a fresh login."""
        nonce = secrets.token_urlsafe(24)
        return self._session.dumps({"t": principal.token_id, "c": nonce}), nonce

    def open_session(self, conn: Connection, value: str | None) -> Session:
        """The session a cookie stands for; AuthError when absent, expired, forged or revoked."""
        if not value:
            raise AuthError("not logged in")
        try:
            data: Any = self._session.loads(value, max_age=SESSION_AGE)
            token_id, nonce = int(data["t"]), str(data["c"])
        except (BadSignature, KeyError, TypeError, ValueError):
            raise AuthError("your session has expired; log in again") from None
        principal = by_id(conn, token_id)  # raises AuthError once the token is revoked
        allowed(principal)
        return Session(principal, nonce)

    def new_login(self) -> tuple[str, str]:
        nonce = secrets.token_urlsafe(24)
        return self._login.dumps(nonce), nonce

    def check_login(self, cookie: str | None, submitted: str) -> None:
        try:
            nonce = self._login.loads(cookie or "", max_age=LOGIN_AGE)
        except BadSignature:
            raise Forbidden("the login form expired; reload the page and try again") from None
        if not same(str(nonce), submitted):
            raise Forbidden("the login form expired; reload the page and try again")


def allowed(principal: Principal) -> None:
    if principal.role not in DASHBOARD_ROLES:
        raise Forbidden(f"a {principal.role} token cannot open the dashboard (use a soc, national or admin token)")


def same(a: str, b: str) -> bool:
    return bool(a) and hmac.compare_digest(a.encode(), b.encode())

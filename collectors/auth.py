"""Credentials: bearer tokens by role, stored as sha256 of the secret, shown once at creation.

Roles: ``agent`` (submits for the one host it is bound to), ``soc`` (reads its agency; on a
national collector also pushes that agency's rollups), ``national`` (reads every agency's
rollups), ``admin`` (everything). ``enroll`` is an agency's enrollment secret: it only lets a
host register and receive its own agent token.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from collectors import AuthError, ConfigError, Forbidden, NotFound
from collectors.models import agencies, hosts, tokens
from collectors.storage import in_list, inserted_id

ROLES = ("agent", "soc", "national", "admin")
ENROLL = "enroll"


@dataclass(frozen=True)
class Principal:
    token_id: int
    role: str
    agency_id: int | None = None
    agency: str | None = None
    host_pk: int | None = None
    host_id: str | None = None

    def require(self, *roles: str) -> None:
        if self.role not in roles:
            raise Forbidden(f"a {self.role} token cannot do this (needs {' or '.join(roles)})")


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret(role: str) -> str:
    # The role in the prefix lets operators and secret scanners recognise a leaked token.
    return f"fh{role[:3]}_{secrets.token_urlsafe(32)}"


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def create_token(conn: Connection, role: str, *, agency_id: int | None = None, host_pk: int | None = None,
                 name: str = "") -> tuple[int, str]:
    """A new credential; returns (id, secret). Only the hash is stored."""
    if role not in (*ROLES, ENROLL):
        raise ConfigError(f"unknown role {role!r} (choose from {', '.join(ROLES)})")
    if role in ("soc", "agent", ENROLL) and agency_id is None:
        raise ConfigError(f"a {role} token needs an agency")
    secret = new_secret(role)
    token_id = inserted_id(conn.execute(tokens.insert().values(
        role=role, agency_id=agency_id, host_pk=host_pk, name=name, hash=hash_secret(secret),
        created_at=now())))
    return int(token_id), secret


def revoke_token(conn: Connection, token_id: int) -> None:
    done = conn.execute(tokens.update().where(tokens.c.id == token_id, tokens.c.revoked_at.is_(None))
                        .values(revoked_at=now()))
    if not done.rowcount:
        raise NotFound(f"no active token with id {token_id}")


def bearer(header: str | None) -> str:
    if not header:
        raise AuthError("missing Authorization: Bearer <token>")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise AuthError("the Authorization header must be 'Bearer <token>'")
    return value.strip()


@lru_cache(maxsize=1)
def _principal_query() -> Any:
    """Active tokens with their agency code and host id (built once: building costs more than running)."""
    return (sa.select(tokens.c.id, tokens.c.role, tokens.c.agency_id, agencies.c.code, tokens.c.host_pk,
                      hosts.c.host_id, tokens.c.hash)
            .select_from(tokens.outerjoin(agencies, agencies.c.id == tokens.c.agency_id)
                         .outerjoin(hosts, hosts.c.id == tokens.c.host_pk))
            .where(tokens.c.revoked_at.is_(None)))


def _principal(row: Any) -> Principal:
    return Principal(row.id, row.role, row.agency_id, row.code, row.host_pk, row.host_id)


def lookup(conn: Connection, secret: str) -> Principal:
    found = lookup_many(conn, [secret]).get(secret)
    if found is None:
        raise AuthError("unknown or revoked token")
    return found


def lookup_many(conn: Connection, secrets_: Iterable[str]) -> dict[str, Principal]:
    """The principals of those secrets that are active tokens, in one query."""
    by_hash = {hash_secret(s): s for s in secrets_}
    if not by_hash:
        return {}
    rows = conn.execute(_principal_query().where(in_list(conn.dialect, tokens.c.hash, "hashes")),
                        {"hashes": sorted(by_hash)})
    return {by_hash[row.hash]: _principal(row) for row in rows}


def by_id(conn: Connection, token_id: int) -> Principal:
    """The principal of an active token by its id (the dashboard's session holds the id, not the secret)."""
    row = conn.execute(_principal_query().where(tokens.c.id == token_id)).first()
    if row is None:
        raise AuthError("unknown or revoked token")
    return _principal(row)


MAX_TOKEN_TTL = 5.0  # the documented bound: a token revoked elsewhere works at most this long here


class TokenCache:
    """Recently seen tokens, so an agent's submissions skip one query each. A token revoked by
    another process stops working here within ``ttl`` seconds (0 disables the cache); one this
    process revokes (an enrollment replacing a host's token) is forgotten at once."""

    def __init__(self, ttl: float, size: int = 100_000) -> None:
        self.ttl, self.size = ttl, size
        self._items: dict[str, tuple[float, Principal]] = {}
        self._lock = threading.Lock()

    def get(self, secret: str) -> Principal | None:
        if self.ttl <= 0:
            return None
        key = hash_secret(secret)
        with self._lock:
            item = self._items.get(key)
        if item and item[0] > time.monotonic():
            return item[1]
        return None

    def put(self, secret: str, principal: Principal) -> None:
        if self.ttl <= 0:
            return
        with self._lock:
            if len(self._items) >= self.size:
                self._items.clear()
            self._items[hash_secret(secret)] = (time.monotonic() + self.ttl, principal)

    def forget_host(self, host_id: str) -> None:
        """Drop every cached agent token of this host (its tokens were just revoked here)."""
        with self._lock:
            for key in [k for k, (_, p) in self._items.items() if p.host_id == host_id]:
                del self._items[key]

"""What the routes depend on, from the app's state (collectors.app.create_app sets it): the
database, the caller's principal (through the token cache) and the request body within the
size limit. The cheap ones are ``async``: FastAPI runs a plain ``def`` dependency in its
thread pool, a hop these do not need."""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from collectors import TooLarge, wire
from collectors.auth import Principal, bearer, lookup
from collectors.storage import Database

DRAIN_LIMIT = 64 * 1024 * 1024  # read (and discard) up to this much of an oversized body, so the client sees 413


async def database(request: Request) -> Database:
    return request.app.state.db  # type: ignore[no-any-return]


def authenticate(state: Any, secret: str) -> Principal:
    """The principal of a bearer secret: from the app's token cache, else looked up and cached."""
    cache = state.cache
    found = cache.get(secret)
    if found is None:
        with state.db.read() as conn:
            found = lookup(conn, secret)
        cache.put(secret, found)
    return found  # type: ignore[no-any-return]


def caller(request: Request) -> Principal:
    """The principal of the request's bearer token (a database lookup when not cached: the thread pool)."""
    return authenticate(request.app.state, bearer(request.headers.get("authorization")))


async def body(request: Request) -> bytes:
    """The request body within the settings' max_body, gunzipped when so sent; TooLarge (413)
    beyond it, once up to DRAIN_LIMIT of it is read, so the client sees the answer."""
    limit = request.app.state.settings.max_body
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


Db = Annotated[Database, Depends(database)]
Caller = Annotated[Principal, Depends(caller)]
Body = Annotated[bytes, Depends(body)]

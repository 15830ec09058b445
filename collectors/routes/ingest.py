"""Ingest routes: enrollment, release, reports and apply records; and the reports' fast path past
the framework.

``POST /api/v1/reports`` is served by ``IngestFastPath``, a middleware that hands the request
straight to ``submit_answer``: the framework's routing, dependency and exception layers cost
about a tenth of the collector's CPU per delta (profiled). The route of the same path stays
declared (the OpenAPI document shows it) and answers through the same function."""
from __future__ import annotations

from typing import Any, Awaitable, Callable

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from collectors import applies, enrollment, wire
from collectors.auth import bearer
from collectors.routes.deps import Body, Caller, Db, authenticate, body
from collectors.routes.errors import error_response

INGEST_PATH = "/api/v1/reports"
ENROLL_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "required": ["host_id"], "properties": {"host_id": {"type": "string"},
                                                               "hostname": {"type": "string"}}}}}}}
REPORT_BODY = {"requestBody": {"required": True, "description": "A report (kind full or delta; a delta of "
                               "schema 1.1 carries its header as a merge patch of what changed) valid against "
                               "/api/v1/schema/report.json; optionally Content-Encoding: gzip.",
                               "content": {"application/json": {"schema": {"type": "object"}}}}}

APPLY_BODY = {"requestBody": {"required": True, "description": "An apply record valid against "
                              "/api/v1/schema/apply.json; optionally Content-Encoding: gzip.",
                              "content": {"application/json": {"schema": {"type": "object"}}}}}

router = APIRouter(tags=["ingest"])


@router.post("/api/v1/enroll", openapi_extra=ENROLL_BODY)
def enroll(request: Request, raw: Body) -> JSONResponse:
    """Register a host with its agency's enrollment secret; answers the host's agent token, once."""
    state = request.app.state
    principal = authenticate(state, bearer(request.headers.get("authorization")))
    answer = enrollment.enroll(state.db, principal, wire.parse_json(raw))
    state.cache.forget_host(answer["host_id"])  # the tokens it revoked stop here at once
    return JSONResponse(answer, status_code=201)


@router.post("/api/v1/release")
def release(db: Db, principal: Caller) -> dict[str, Any]:
    """The install that holds this host gives it up (token: the host's agent token): the next
    enrollment claims the host and revokes this token then."""
    return enrollment.release(db, principal)


@router.post("/api/v1/applies", openapi_extra=APPLY_BODY)
def submit_apply(raw: Body, db: Db, principal: Caller) -> dict[str, Any]:
    """Record what one ``fix --apply`` did to this host (token: the host's agent token); a resend,
    or an older revision of the same apply, is ``duplicate`` and changes nothing."""
    return applies.store(db, principal, wire.parse_apply(raw))


async def submit_answer(request: Request) -> JSONResponse:
    """The answer to a report: every exception is answered here, as the fast path has no
    exception handlers."""
    try:
        state = request.app.state
        secret = bearer(request.headers.get("authorization"))
        # A cached token is judged before the body is read. Any other is looked up by the
        # queue's writer together with the other tokens of its batch (one query for all),
        # before any parsing; its body is read first, within --max-body. Then the report is
        # parsed, checked and written with the reports of other hosts that arrived meanwhile.
        principal = state.cache.get(secret)
        if principal is not None:
            principal.require("agent")
        status, answer = await state.queue.submit(secret, principal, await body(request))
    except Exception as exc:
        return error_response(exc)
    return JSONResponse(answer, status_code=status)


@router.post(INGEST_PATH, openapi_extra=REPORT_BODY)
async def submit(request: Request) -> JSONResponse:
    """Ingest one full report or delta (see docs/collector.md for every answer)."""
    return await submit_answer(request)


class IngestFastPath:
    """``POST /api/v1/reports`` straight to its handler, past the framework's routing,
    dependency and exception layers; every other request goes on to the app."""

    def __init__(self, app: ASGIApp, answer: Callable[[Request], Awaitable[Response]] = submit_answer) -> None:
        self.app, self.answer = app, answer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == INGEST_PATH:
            response = await self.answer(Request(scope, receive))
            await response(scope, receive, send)
        else:
            await self.app(scope, receive, send)

"""Federation routes: what agency collectors push to a national collector."""
from __future__ import annotations

from typing import Any, Callable

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from collectors import federated_hosts, federation, wire
from collectors.auth import Principal, bearer
from collectors.routes.deps import Body, authenticate
from collectors.storage import Database

OBJECT_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}}}

router = APIRouter(tags=["federation"])


def _put(request: Request, raw: bytes, receive: Callable[[Database, Principal, Any], dict[str, Any]]
         ) -> JSONResponse:
    """A document an agency collector pushes: its body read first, then authenticated, parsed and stored."""
    state = request.app.state
    principal = authenticate(state, bearer(request.headers.get("authorization")))
    return JSONResponse(receive(state.db, principal, wire.parse_json(raw)))


@router.put("/api/v1/federation/rollups", openapi_extra=OBJECT_BODY)
def federated(request: Request, raw: Body) -> JSONResponse:
    """An agency collector replaces its agency's rollups here (token: soc of that agency)."""
    return _put(request, raw, federation.receive)


@router.put(federated_hosts.HOSTS_PATH, openapi_extra=OBJECT_BODY)
def federated_host_page(request: Request, raw: Body) -> JSONResponse:
    """An agency collector that forwards host detail replaces one page of its hosts here (token: soc)."""
    return _put(request, raw, federated_hosts.receive)

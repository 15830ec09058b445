"""The directive repository (The Update Framework), read-only at ``/api/v1/tuf/``.

Metadata and targets are signed, public data: no token is asked for. The files come from the
folder collectors.app puts in ``app.state.directives`` (``serve --directives-repo``, or the
verified mirror of ``--directives-upstream``); collectors.directive_files decides what a path
may name and how it is cached."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from collectors import NotFound, Unavailable
from collectors.directive_files import read_served

PREFIX = "/api/v1/tuf/"
FILE_DOC: dict[str, Any] = {
    "responses": {
        200: {"description": "The file's bytes, as signed by the repository's keys. `metadata/timestamp.json` "
                             "and `metadata/root.json`: Cache-Control no-cache; versioned metadata "
                             "(`metadata/N.ROLE.json`) and hash-prefixed targets: immutable. ETag always.",
              "content": {"application/json": {"schema": {"type": "object"}},
                          "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
        304: {"description": "If-None-Match named the current ETag."},
        404: {"description": "No such file, or a path that may not name one (outside metadata/ and targets/)."},
        503: {"description": "This collector mirrors an upstream repository and has no verified copy yet."},
    }}

router = APIRouter(tags=["directives"])


@router.get(PREFIX + "{path:path}", response_class=Response, openapi_extra=FILE_DOC)
def tuf_file(path: str, request: Request) -> Response:
    """A file of the directive repository: `metadata/...` or `targets/...` (no token needed).
    Agents refresh their directives from here with a TUF client, which verifies every file
    against the root of trust it holds; a collector holds no signing key."""
    served = getattr(request.app.state, "directives", None)
    if served is None:
        raise NotFound("this collector serves no directive repository "
                       "(collector serve --directives-repo DIR or --directives-upstream URL)")
    root = served.root()
    if root is None:
        raise Unavailable("the directive mirror has no verified copy of its upstream yet; retry later")
    found = read_served(root, path)
    headers = {"ETag": found.etag, "Cache-Control": found.cache_control, "X-Content-Type-Options": "nosniff"}
    if found.matches(request.headers.get("if-none-match")):
        return Response(status_code=304, headers=headers)
    return Response(found.data, media_type=found.media_type, headers=headers)

"""The HTTP boundary: a CollectorError becomes its status code and a JSON body; anything else
is a logged 500 that reveals nothing."""
from __future__ import annotations

import logging

import sqlalchemy as sa
from fastapi.responses import JSONResponse

from collectors import CollectorError

log = logging.getLogger("fedharden.collector")


def error_response(exc: Exception) -> JSONResponse:
    """The answer to an exception at the HTTP boundary: a CollectorError's own status and body;
    a database race 409, a lost database 503; anything else a logged 500 that reveals nothing."""
    if isinstance(exc, CollectorError):
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
        return JSONResponse(exc.body(), status_code=exc.status_code, headers=headers)
    if isinstance(exc, sa.exc.IntegrityError):
        # Two concurrent writes raced for one unique row; nothing was written by the loser.
        return JSONResponse({"status": "error", "error": "a concurrent request wrote the same object; retry"},
                            status_code=409)
    if isinstance(exc, sa.exc.OperationalError):
        log.error("database error: %s", exc.__class__.__name__)
        return JSONResponse({"status": "error", "error": "database unavailable; retry later"}, status_code=503,
                            headers={"Retry-After": "5"})
    log.error("internal error answering a request", exc_info=exc)
    return JSONResponse({"status": "error", "error": "internal error"}, status_code=500)

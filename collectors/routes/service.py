"""Service routes: liveness, readiness and the report and apply record schemas."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from collectors import CollectorError
from collectors.routes.deps import Db

router = APIRouter(tags=["service"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """Liveness: the process answers (no database access)."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(db: Db) -> dict[str, Any]:
    """Readiness: the database answers and its schema is at the newest revision."""
    revision, head = db.revision(), db.head()
    if revision != head:
        raise CollectorError(f"database schema at {revision}, expected {head}: run `fedharden collector migrate`")
    return {"status": "ok", "schema": revision}


@router.get("/api/v1/schema/report.json")
def report_schema() -> dict[str, Any]:
    """The report JSON Schema this collector validates against (the agent's own)."""
    from agent.contract import schema

    return schema()


@router.get("/api/v1/schema/apply.json")
def apply_schema() -> dict[str, Any]:
    """The apply record JSON Schema this collector validates against (the agent's own)."""
    from agent.contract import apply_schema

    return apply_schema()

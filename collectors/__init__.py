"""The central collector: ingest of agent reports, storage on SQLite or PostgreSQL, agency
scoping, progress rollups, federation to a national collector.

Exception tree (caught broadly only at the HTTP boundary, collectors.routes.errors with the
handlers collectors.app installs, and in collectors.cli, the command line)::

    CollectorError                 base
    ├── ConfigError                bad settings or arguments (CLI exit 2)
    ├── AuthError                  no or unknown credential (HTTP 401)
    │   └── Forbidden              a known credential asked for what its role or scope forbids (403)
    ├── BadRequest                 invalid input; carries the JSON path of the problem (400)
    │   └── TooLarge               a body over the size limit (413)
    ├── NotFound                   the asked-for object does not exist in the caller's scope (404)
    ├── Conflict                   the request contradicts stored state (409)
    │   └── Resync                 a delta that cannot be applied: the agent must send a full report
    ├── Unavailable                the collector is stopping; retry later (503)
    └── UpstreamError              the national collector refused or could not be reached
"""
from __future__ import annotations

from importlib.metadata import version
from typing import Any

# One distribution: the collector is the version of the fedharden package it was installed with.
__version__ = version("fedharden")


class CollectorError(Exception):
    """Base of the collector's exceptions."""

    status_code = 500

    def body(self) -> dict[str, Any]:
        return {"status": "error", "error": str(self)}


class ConfigError(CollectorError):
    """Bad settings or command-line arguments."""


class AuthError(CollectorError):
    status_code = 401


class Forbidden(AuthError):
    status_code = 403


class BadRequest(CollectorError):
    status_code = 400

    def __init__(self, message: str, path: str = "$", problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.problems = problems or [f"{path}: {message}"]

    def body(self) -> dict[str, Any]:
        return {"status": "error", "error": str(self), "path": self.path, "problems": self.problems}


class TooLarge(BadRequest):
    status_code = 413


class NotFound(CollectorError):
    status_code = 404


class Conflict(CollectorError):
    """``reason``: a short code for agents to act on (the enrollment conflicts name it)."""

    status_code = 409

    def __init__(self, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason

    def body(self) -> dict[str, Any]:
        return {**super().body(), **({"reason": self.reason} if self.reason else {})}


class Resync(Conflict):
    """The agent must send a full report; ``reason`` is one of the documented reason codes."""

    def __init__(self, reason: str, message: str, **state: Any) -> None:
        super().__init__(message)
        self.reason = reason
        self.state = state

    def body(self) -> dict[str, Any]:
        return {"status": "resync", "reason": self.reason, "error": str(self), **self.state}


class Unavailable(CollectorError):
    """The collector is shutting down and takes no more reports; the agent retries later."""

    status_code = 503


class UpstreamError(CollectorError):
    """The national collector refused our rollups or could not be reached."""

"""Who may read what: every read endpoint asks here for the agencies in its caller's scope."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from collectors import Forbidden, NotFound
from collectors.auth import Principal
from collectors.models import agencies

HOST_DETAIL = ("soc", "admin")          # hosts, results, changes, exports
ROLLUPS = ("soc", "national", "admin")  # progress rollups and history
HOST_LIST = ROLLUPS                     # the hosts listing: national sees forwarded host summaries only


def agency_ids(conn: Connection, principal: Principal, requested: str | None, *, roles: tuple[str, ...]) -> list[int] | None:
    """The agency ids the caller may see for this request; None means every agency.

    A ``soc`` token asking for another agency gets 403, the same answer whether or not that
    agency exists, so agency codes cannot be probed.
    """
    principal.require(*roles)
    if principal.role == "soc":
        if requested is not None and requested != principal.agency:
            raise Forbidden("a soc token reads its own agency only")
        assert principal.agency_id is not None
        return [principal.agency_id]
    if requested is None:
        return None
    row = conn.execute(sa.select(agencies.c.id).where(agencies.c.code == requested)).first()
    if row is None:
        raise NotFound(f"unknown agency {requested!r}")
    return [int(row.id)]


def agency_codes(conn: Connection) -> dict[int, tuple[str, str]]:
    return {r.id: (r.code, r.name) for r in conn.execute(sa.select(agencies.c.id, agencies.c.code, agencies.c.name))}

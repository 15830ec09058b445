"""Enrollment: a host registered in its agency with a new agent token, and released by the
install that holds it."""
from __future__ import annotations

import secrets
from typing import Any

import sqlalchemy as sa

from collectors import BadRequest, Conflict
from collectors.admin import release_host
from collectors.auth import ENROLL, Principal, create_token, now
from collectors.models import SHARDS, hosts, tokens
from collectors.storage import Database, inserted_id


def enroll(db: Database, principal: Principal, body: Any) -> dict[str, Any]:
    """Register a host in the enrolling agency; returns its new agent token (shown once).

    A host already enrolled is claimed only by the install that holds it (the same
    ``instance``: a reinstall of its credential, which revokes its previous agent tokens), or
    once it is free: released by that install (``POST /api/v1/release``) or by an admin
    (``fedharden collector host release|reset``). Anything else, another install or an
    enrollment that names none, is refused with 409: the enrollment secret alone never takes
    a host from the agent that reports for it. A host enrolled without an instance gets one
    the agent never learns, so no later enrollment claims it until it is released. The
    answer names the host's current head (``last_report_id``, ``last_sequence``; null for a
    new host): the new install's chain continues after it instead of taking it for another
    machine's.
    """
    principal.require(ENROLL)
    if not isinstance(body, dict):
        raise BadRequest("the enrollment body is a JSON object", "$")
    host_id = body.get("host_id")
    if not isinstance(host_id, str) or not 1 <= len(host_id) <= 200:
        raise BadRequest("host_id: a string of 1 to 200 characters is required", "$.host_id")
    hostname = body.get("hostname", "")
    if not isinstance(hostname, str) or len(hostname) > 255:
        raise BadRequest("hostname: a string of at most 255 characters", "$.hostname")
    instance = body.get("instance")
    if instance is not None and (not isinstance(instance, str) or not 1 <= len(instance) <= 64):
        raise BadRequest("instance: a string of 1 to 64 characters", "$.instance")
    claim = instance or "unnamed:" + secrets.token_hex(16)
    at = now()
    with db.write() as conn:
        row = conn.execute(sa.select(hosts.c.id, hosts.c.agency_id, hosts.c.instance, hosts.c.last_report_id,
                                     hosts.c.last_sequence)
                           .where(hosts.c.host_id == host_id).with_for_update()).first()
        if row is not None and row.agency_id != principal.agency_id:
            raise Conflict(f"host {host_id} is enrolled in another agency", reason="other_agency")
        if row is not None and row.instance is not None and row.instance != instance:
            if instance is None:
                raise Conflict(f"host {host_id} is already enrolled: only its own install enrolls it again "
                               "(with its instance); to hand the host to a new install, the old one releases "
                               f"it, or an admin runs `fedharden collector host reset {host_id}`",
                               reason="enrolled")
            raise Conflict(f"host {host_id} is already enrolled by another install with the same machine-id "
                           "(a cloned image?): give this machine its own machine-id, or have an admin run "
                           f"`fedharden collector host release {host_id}` if the old install is gone",
                           reason="other_install")
        if row is None:
            host_pk = inserted_id(conn.execute(hosts.insert().values(
                host_id=host_id, agency_id=principal.agency_id, hostname=hostname, enrolled_at=at, shard=0,
                instance=claim,
            )))
            conn.execute(hosts.update().where(hosts.c.id == host_pk).values(shard=host_pk % SHARDS))
        else:
            host_pk = int(row.id)
            conn.execute(hosts.update().where(hosts.c.id == host_pk).values(instance=claim))
            conn.execute(tokens.update().where(tokens.c.host_pk == host_pk, tokens.c.role == "agent",
                                               tokens.c.revoked_at.is_(None)).values(revoked_at=at))
        _, token = create_token(conn, "agent", agency_id=principal.agency_id, host_pk=host_pk,
                                name=f"enrolled {hostname or host_id}")
    return {"status": "enrolled", "host_id": host_id, "agency": principal.agency, "token": token,
            "last_report_id": row.last_report_id if row is not None else None,
            "last_sequence": row.last_sequence if row is not None else None}


def release(db: Database, principal: Principal) -> dict[str, Any]:
    """The install that holds a host gives it up: the next enrollment of its agency claims it
    (and revokes this install's token then; until then the token keeps working)."""
    principal.require("agent")
    assert principal.host_id is not None
    with db.write() as conn:
        release_host(conn, principal.host_id, f"agent token {principal.token_id}")
    return {"status": "released", "host_id": principal.host_id}

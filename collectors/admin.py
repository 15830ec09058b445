"""Administration: agencies, enrollment secrets and tokens (used by the CLI, on the database)."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from collectors import Conflict, ConfigError, NotFound
from collectors.auth import ENROLL, create_token, now
from collectors.models import agencies, audit, hosts, tokens
from collectors.storage import inserted_id


def agency_id(conn: Connection, code: str) -> int:
    row = conn.execute(sa.select(agencies.c.id).where(agencies.c.code == code)).first()
    if row is None:
        raise NotFound(f"unknown agency {code!r}")
    return int(row.id)


def add_agency(conn: Connection, code: str, name: str) -> int:
    if not code or len(code) > 50 or not all(c.isalnum() or c in "-_." for c in code):
        raise ConfigError(f"agency code {code!r}: use 1-50 letters, digits, '-', '_' or '.'")
    if conn.execute(sa.select(agencies.c.id).where(agencies.c.code == code)).first():
        raise Conflict(f"agency {code!r} already exists")
    return inserted_id(conn.execute(agencies.insert().values(code=code, name=name or code, created_at=now())))


def list_agencies(conn: Connection) -> list[dict[str, Any]]:
    counts: dict[int, int] = dict(conn.execute(sa.select(hosts.c.agency_id, sa.func.count()).group_by(hosts.c.agency_id)).all())
    return [{"code": r.code, "name": r.name, "hosts": counts.get(r.id, 0)}
            for r in conn.execute(sa.select(agencies).order_by(agencies.c.code))]


def issue(conn: Connection, role: str, agency: str | None, name: str) -> tuple[int, str]:
    if role in ("national", "admin") and agency:
        raise ConfigError(f"a {role} token is not bound to an agency; drop --agency")
    return create_token(conn, role, agency_id=agency_id(conn, agency) if agency else None, name=name)


def enrollment_secret(conn: Connection, agency: str, name: str) -> tuple[int, str]:
    return create_token(conn, ENROLL, agency_id=agency_id(conn, agency), name=name)


def list_tokens(conn: Connection) -> list[dict[str, Any]]:
    rows = conn.execute(
        sa.select(tokens.c.id, tokens.c.role, agencies.c.code, hosts.c.host_id, tokens.c.name,
                  tokens.c.created_at, tokens.c.revoked_at)
        .select_from(tokens.outerjoin(agencies, agencies.c.id == tokens.c.agency_id)
                     .outerjoin(hosts, hosts.c.id == tokens.c.host_pk))
        .order_by(tokens.c.id))
    return [{"id": r.id, "role": r.role, "agency": r.code, "host": r.host_id, "name": r.name,
             "created_at": r.created_at.isoformat() + "Z",
             "revoked_at": r.revoked_at.isoformat() + "Z" if r.revoked_at else None} for r in rows]


def record(conn: Connection, actor: str, action: str, subject: str, detail: str = "") -> None:
    """One line of the audit table, in the transaction of the action it records."""
    conn.execute(audit.insert().values(at=now(), actor=actor[:200], action=action, subject=subject[:200],
                                       detail=detail))


def release_host(conn: Connection, host_id: str, actor: str) -> None:
    """Forget which install enrolled a host, so the next enrollment (a reinstall whose state
    directory was lost) may claim it; that enrollment revokes the old install's tokens."""
    done = conn.execute(hosts.update().where(hosts.c.host_id == host_id).values(instance=None))
    if done.rowcount == 0:
        raise NotFound(f"no host {host_id}")
    record(conn, actor, "host release", host_id)


def reset_host(conn: Connection, host_id: str, actor: str) -> int:
    """Take a host back from whoever holds it: revoke its agent tokens now, forget its install
    and its chain of reports (the next enrollment claims the host; its first report is a full
    one, numbered from anything). The stored results stay until that report replaces them.
    Returns how many tokens were revoked."""
    row = conn.execute(sa.select(hosts.c.id).where(hosts.c.host_id == host_id).with_for_update()).first()
    if row is None:
        raise NotFound(f"no host {host_id}")
    conn.execute(hosts.update().where(hosts.c.id == row.id)
                 .values(instance=None, last_report_id=None, last_sequence=None))
    revoked = conn.execute(tokens.update().where(tokens.c.host_pk == row.id, tokens.c.role == "agent",
                                                 tokens.c.revoked_at.is_(None)).values(revoked_at=now())).rowcount
    record(conn, actor, "host reset", host_id, f"{revoked} agent token(s) revoked")
    return int(revoked)


def revoke(conn: Connection, token_id: int, actor: str) -> None:
    from collectors.auth import revoke_token

    revoke_token(conn, token_id)
    record(conn, actor, "token revoke", str(token_id))


def list_audit(conn: Connection, limit: int = 100) -> list[dict[str, Any]]:
    rows = conn.execute(sa.select(audit).order_by(audit.c.id.desc()).limit(limit))
    return [{"at": r.at.isoformat() + "Z", "actor": r.actor, "action": r.action, "subject": r.subject,
             "detail": r.detail} for r in rows]

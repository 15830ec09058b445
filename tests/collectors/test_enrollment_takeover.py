"""Enrollment never takes a host from the agent that reports for it; revoked tokens stop
within the documented bound (collectors.auth.MAX_TOKEN_TTL), at once where they were revoked.
The real collector on SQLite and PostgreSQL; administration through the real command line."""
from __future__ import annotations

import json
import time
from typing import Any, Iterator

import pytest
from click.testing import CliRunner
from tests.collectors.collector_support import Agent, Server, Tokens, result

from agent.cli import main
from collectors.auth import MAX_TOKEN_TTL
from collectors.storage import Database

pytestmark = pytest.mark.slow  # real collector servers and replicas

RESULTS = [result("HARDEN-30D.1", "pass"), result("HARDEN-30D.2", "fail")]


@pytest.fixture
def cached(db: Database, tokens: Tokens) -> Iterator[Server]:
    """A collector with its token cache on, as deployed (the default ``server`` has it off)."""
    with Server(db, max_body=256 * 1024, token_ttl=60) as s:  # more than the bound: the bound must win
        yield s


def admin(db: Database, *args: str) -> tuple[int, str]:
    got = CliRunner().invoke(main, ["collector", *args, "--db", db.url])
    return got.exit_code, got.stdout + got.stderr


def enroll(server: Server, tokens: Tokens, host_id: str, instance: str | None) -> Any:
    body = {"host_id": host_id, **({"instance": instance} if instance is not None else {})}
    return server.request("POST", "/api/v1/enroll", tokens.enroll["DOJ"], json=body)


def reports(server: Server, agent: Agent) -> bool:
    """The agent can report: its full report is accepted (or it is refused as unknown, 401)."""
    resp = server.submit(agent, agent.full(RESULTS))
    assert resp.status_code in (200, 401), resp.text
    return resp.status_code == 200 and resp.json()["status"] == "accepted"


def test_the_enrollment_secret_alone_never_takes_an_enrolled_host(cached: Server, tokens: Tokens,
                                                                   db: Database) -> None:
    real = cached.enroll(tokens.enroll["DOJ"], Agent("host-a"))
    assert reports(cached, real)
    taker = enroll(cached, tokens, "host-a", None)  # the reproduction: leave out `instance`
    assert taker.status_code == 409 and taker.json()["reason"] == "enrolled"
    assert "host reset host-a" in taker.json()["error"]
    other = enroll(cached, tokens, "host-a", "f" * 32)
    assert other.status_code == 409 and other.json()["reason"] == "other_install"
    assert reports(cached, real)  # never locked out
    # A host enrolled without an instance is not up for grabs either.
    first = enroll(cached, tokens, "host-b", None)
    assert first.status_code == 201
    assert enroll(cached, tokens, "host-b", None).status_code == 409
    assert enroll(cached, tokens, "host-b", "a" * 32).status_code == 409
    with db.read() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM audit").scalar() == 0


def test_the_same_install_enrolling_again_replaces_its_token_at_once(cached: Server, tokens: Tokens) -> None:
    agent = cached.enroll(tokens.enroll["DOJ"], Agent("host-a"))
    assert reports(cached, agent)  # its token is now in this replica's cache
    old = agent.token
    cached.enroll(tokens.enroll["DOJ"], agent)
    stale = Agent("host-a", token=old)
    assert not reports(cached, stale)  # revoked here: no cache delay
    assert reports(cached, agent)


def test_the_install_releases_its_host_then_an_enrollment_claims_it(cached: Server, tokens: Tokens,
                                                                    db: Database) -> None:
    agent = cached.enroll(tokens.enroll["DOJ"], Agent("host-a"))
    assert reports(cached, agent)
    assert cached.request("POST", "/api/v1/release", tokens.soc["DOJ"]).status_code == 403
    resp = cached.request("POST", "/api/v1/release", agent.token)
    assert resp.status_code == 200 and resp.json() == {"status": "released", "host_id": "host-a"}
    assert reports(cached, agent)  # released, still its own until claimed
    claimed = enroll(cached, tokens, "host-a", "b" * 32)
    assert claimed.status_code == 201
    assert not reports(cached, agent)
    code, out = admin(db, "audit")
    assert code == 0 and "host release" in out and "agent token" in out and "host-a" in out


def test_an_admin_reset_takes_the_host_back_and_is_audited(cached: Server, tokens: Tokens, db: Database) -> None:
    held = cached.enroll(tokens.enroll["DOJ"], Agent("host-a"))
    report = held.full(RESULTS)
    report["sequence"] = 2 ** 53 - 1  # the highest sequence the schema allows: nothing can follow it ...
    assert cached.submit(held, report).json()["status"] == "accepted"
    assert cached.submit(held, held.full(RESULTS)).json()["reason"] == "out_of_order"
    code, out = admin(db, "host", "reset", "host-a")
    assert (code, out.strip()) == (0, "host host-a reset: 1 agent token(s) revoked; the next enrollment claims it")
    assert admin(db, "host", "reset", "nope")[0] == 2
    deadline = time.monotonic() + MAX_TOKEN_TTL + 1
    # Revoked by another process: within the bound. (Probed with an empty body, 400 while the
    # token is taken, so the probe itself stores nothing.)
    while cached.request("POST", "/api/v1/reports", held.token, json={}).status_code == 400:
        assert time.monotonic() < deadline, "a revoked token outlived the documented bound"
        time.sleep(0.25)
    fresh = cached.enroll(tokens.enroll["DOJ"], Agent("host-a"))
    answer = fresh.full(RESULTS)
    assert cached.submit(fresh, answer).json()["status"] == "accepted"  # ... until a reset starts a new chain
    code, out = admin(db, "audit", "--json")
    rows = json.loads(out)
    assert [(r["action"], r["subject"], r["detail"]) for r in rows] == [("host reset", "host-a",
                                                                        "1 agent token(s) revoked")]
    assert rows[0]["actor"].startswith("cli:")


def test_a_revoked_token_stops_within_the_bound_on_another_replica(cached: Server, tokens: Tokens,
                                                                    db: Database) -> None:
    with Server(db, max_body=256 * 1024, token_ttl=60) as other:
        soc = tokens.soc["DOJ"]
        for replica in (cached, other):
            assert replica.request("GET", "/api/v1/hosts", soc).status_code == 200  # cached on both
        code, out = admin(db, "token", "list", "--json")
        token_id = next(t["id"] for t in json.loads(out) if t["role"] == "soc" and t["agency"] == "DOJ")
        revoked_at = time.monotonic()
        assert admin(db, "token", "revoke", str(token_id))[0] == 0
        for replica in (cached, other):
            while replica.request("GET", "/api/v1/hosts", soc).status_code == 200:
                assert time.monotonic() - revoked_at < MAX_TOKEN_TTL + 1
                time.sleep(0.25)
        assert MAX_TOKEN_TTL <= 5


def test_hosts_enrolled_without_an_instance_are_held_after_the_migration(tmp_path: Any) -> None:
    """Before 0007 such a host was open to any enrollment; the migration gives it a handle."""
    import datetime as dt

    from alembic import command

    from collectors import Conflict
    from collectors.admin import add_agency, release_host
    from collectors.auth import ENROLL, Principal
    from collectors.enrollment import enroll

    old = Database(f"sqlite:///{tmp_path}/old.sqlite3", pool_size=1)
    with old.write() as conn:
        command.upgrade(old._alembic_config(conn), "0005")
        agency = add_agency(conn, "DOJ", "Justice")
        conn.exec_driver_sql("INSERT INTO hosts (host_id, agency_id, hostname, enrolled_at, shard) "
                             "VALUES ('legacy', ?, 'web', ?, 0)", (agency, dt.datetime(2026, 1, 1)))
    old.migrate()
    secret = Principal(1, ENROLL, agency, "DOJ")
    with pytest.raises(Conflict) as refused:
        enroll(old, secret, {"host_id": "legacy"})
    assert refused.value.reason == "enrolled"
    with old.write() as conn:
        release_host(conn, "legacy", "test")
    assert enroll(old, secret, {"host_id": "legacy"})["status"] == "enrolled"
    old.dispose()

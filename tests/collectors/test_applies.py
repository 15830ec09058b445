"""Apply records over real HTTP (POST /api/v1/applies, GET /api/v1/hosts/{id}/applies), on SQLite
and PostgreSQL: stored per host at the highest revision, idempotent on a resend, in the caller's
scope only, refused with the field named when malformed, and never a change of the host's
status (only a report is)."""
from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa

from collectors.models import host_applies, hosts
from collectors.storage import Database
from tests.collectors.collector_support import Agent, Server, Tokens, free_port, result


def record(host_id: str, apply_id: str = "20261210T101500Z-a1b2c3", revision: int = 2, **extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "schema_version": "1.0", "apply_id": apply_id, "revision": revision, "host_id": host_id,
        "agent": {"name": "fedharden", "version": "0.1.0"}, "root": "/",
        "by": {"user": "alice", "uid": 1234, "sudo": True}, "started_at": "2026-12-10T10:15:00+00:00",
        "finished_at": "2026-12-10T10:15:09+00:00", "outcome": "applied", "include_disruptive": False,
        "requirements": ["H.1", "H.2"], "disruptive": [], "fixed": ["H.2"],
        "failing": [{"requirement": "H.1", "why": "/etc/example: insecure"}]}
    doc.update(extra)
    return doc


@pytest.fixture
def agent(server: Server, tokens: Tokens) -> Agent:
    agent = server.enroll(tokens.enroll["DOJ"], Agent("host-a"))
    resp = server.submit(agent, agent.full([result("H.1", "fail"), result("H.2", "fail"), result("H.3", "pass")]))
    assert resp.json()["status"] == "accepted", resp.text
    return agent


def applies(server: Server, token: str, host_id: str = "host-a") -> list[dict[str, Any]]:
    resp = server.request("GET", f"/api/v1/hosts/{host_id}/applies", token)
    assert resp.status_code == 200, resp.text
    return list(resp.json()["applies"])


def host_row(db: Database) -> tuple[Any, ...]:
    with db.read() as conn:
        return tuple(conn.execute(sa.select(hosts)).one())


def test_an_apply_is_stored_shown_and_changes_no_status(server: Server, tokens: Tokens, agent: Agent,
                                                        db: Database) -> None:
    before = host_row(db)
    detail = server.request("GET", "/api/v1/hosts/host-a", tokens.soc["DOJ"]).json()
    resp = server.request("POST", "/api/v1/applies", agent.token, json=record("host-a"))
    assert resp.status_code == 200 and resp.json() == {"status": "accepted", "apply_id": "20261210T101500Z-a1b2c3",
                                                       "host_id": "host-a", "revision": 2}, resp.text
    [shown] = applies(server, tokens.soc["DOJ"])
    assert shown["outcome"] == "applied" and shown["by"] == {"user": "alice", "uid": 1234, "sudo": True}
    assert shown["counts"] == {"requirements": 2, "fixed": 1, "failing": 1}
    assert shown["failing"] == [{"requirement": "H.1", "why": "/etc/example: insecure"}]
    assert shown["started_at"] == "2026-12-10T10:15:00Z" and shown["finished_at"] == "2026-12-10T10:15:09Z"
    # Unknown is never compliant, and neither is an apply's word: H.2 stays failing until a report says otherwise.
    assert host_row(db) == before
    assert server.request("GET", "/api/v1/hosts/host-a", tokens.soc["DOJ"]).json() == detail
    assert detail["host"]["status"] == "non_compliant"


def test_a_resend_is_a_duplicate_and_a_rollback_supersedes(server: Server, tokens: Tokens, agent: Agent,
                                                           db: Database) -> None:
    first = record("host-a")
    assert server.request("POST", "/api/v1/applies", agent.token, json=first).json()["status"] == "accepted"
    with db.read() as conn:
        stored = conn.execute(sa.select(host_applies)).all()
    again = server.request("POST", "/api/v1/applies", agent.token, json=first)
    assert again.status_code == 200 and again.json()["status"] == "duplicate", again.text
    with db.read() as conn:
        assert conn.execute(sa.select(host_applies)).all() == stored  # nothing rewritten, not even a time
    rollback = {"at": "2026-12-10T11:00:00Z", "by": {"user": "bob", "uid": 1001}}
    rolled = record("host-a", revision=3, outcome="rolled_back", rollback=rollback)
    assert server.request("POST", "/api/v1/applies", agent.token, json=rolled).json()["revision"] == 3
    late = server.request("POST", "/api/v1/applies", agent.token, json=first)  # a stale copy arrives after
    assert late.json() == {"status": "duplicate", "apply_id": first["apply_id"], "host_id": "host-a", "revision": 3}
    [shown] = applies(server, tokens.soc["DOJ"])
    assert shown["outcome"] == "rolled_back" and shown["rollback"]["by"]["user"] == "bob"
    assert shown["rollback"]["at"] == "2026-12-10T11:00:00Z"
    second = record("host-a", apply_id="20261211T090000Z-d4e5f6", started_at="2026-12-11T09:00:00Z")
    server.request("POST", "/api/v1/applies", agent.token, json=second)
    assert [a["apply_id"] for a in applies(server, tokens.admin)] == [second["apply_id"], first["apply_id"]]


def test_scope_is_host_details(server: Server, tokens: Tokens, agent: Agent) -> None:
    server.request("POST", "/api/v1/applies", agent.token, json=record("host-a"))
    assert server.request("GET", "/api/v1/hosts/host-a/applies", tokens.soc["DOE"]).status_code == 404
    assert server.request("GET", "/api/v1/hosts/nowhere/applies", tokens.soc["DOJ"]).status_code == 404
    assert server.request("GET", "/api/v1/hosts/host-a/applies", tokens.national).status_code == 403
    assert server.request("GET", "/api/v1/hosts/host-a/applies", agent.token).status_code == 403
    assert server.request("GET", "/api/v1/hosts/host-a/applies").status_code == 401
    assert len(applies(server, tokens.admin)) == 1


def test_only_the_hosts_own_agent_token_records(server: Server, tokens: Tokens, agent: Agent, db: Database) -> None:
    other = server.enroll(tokens.enroll["DOJ"], Agent("host-b"))
    wrong = server.request("POST", "/api/v1/applies", other.token, json=record("host-a"))
    assert wrong.status_code == 403 and "bound to host host-b" in wrong.json()["error"]
    assert server.request("POST", "/api/v1/applies", tokens.soc["DOJ"], json=record("host-a")).status_code == 403
    assert server.request("POST", "/api/v1/applies", None, json=record("host-a")).status_code == 401
    with db.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(host_applies)).scalar_one() == 0


@pytest.mark.parametrize(("change", "path", "words"), [
    ({"fixed": "H.2"}, "$.fixed", "is not of type 'array'"),
    ({"outcome": "remediated"}, "$.outcome", "is not one of"),
    ({"failing": [{"requirement": "H.1"}]}, "$.failing[0]", "'why' is a required property"),
    ({"by": {"user": "", "uid": 0}}, "$.by.user", "should be non-empty"),
    ({"revision": 0}, "$.revision", "less than the minimum"),
    ({"started_at": "yesterday"}, "$.started_at", "is not a 'date-time'"),
    ({"remediated": True}, "$", "Additional properties are not allowed ('remediated' was unexpected)"),
])
def test_a_malformed_record_is_refused_naming_the_field(server: Server, agent: Agent, db: Database,
                                                        change: dict[str, Any], path: str, words: str) -> None:
    doc = copy.deepcopy(record("host-a"))
    doc.update(change)
    resp = server.request("POST", "/api/v1/applies", agent.token, json=doc)
    assert resp.status_code == 400, resp.text
    body = resp.json()
    assert body["path"] == path and words in body["error"] and "\n" not in body["error"], body
    missing = copy.deepcopy(record("host-a"))
    del missing["outcome"]
    resp = server.request("POST", "/api/v1/applies", agent.token, json=missing)
    assert resp.status_code == 400 and resp.json()["error"] == "'outcome' is a required property"
    with db.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(host_applies)).scalar_one() == 0


def test_the_schema_and_the_routes_are_documented(server: Server) -> None:
    schema = server.request("GET", "/api/v1/schema/apply.json").json()
    assert schema["properties"]["outcome"]["enum"] == ["applied", "failed", "rolled_back", "rollback_incomplete"]
    paths = server.request("GET", "/openapi.json").json()["paths"]
    assert "post" in paths["/api/v1/applies"] and "get" in paths["/api/v1/hosts/{host_id}/applies"]


def test_the_agents_queue_delivers_sets_aside_and_keeps(server: Server, tokens: Tokens, agent: Agent,
                                                         tmp_path: Path) -> None:
    """agent.apply_spool against the real collector: a record is removed once acknowledged, a
    refused one is set aside with the collector's reason, and none is lost to a collector that
    cannot be reached."""
    from agent import apply_spool, submit
    from agent.reporting import Backoff
    from agent.state import StateDir

    sd = StateDir(tmp_path / "state")
    sd.ensure()
    quick = Backoff(attempts=2, sleep=lambda _: None)
    down = submit.HttpCollector(f"http://127.0.0.1:{free_port()}", agent.token, requests.Session())
    apply_spool.queue(sd, record("host-a"))  # type: ignore[arg-type]
    kept = apply_spool.deliver(sd, down, quick)
    assert kept.sent == 0 and kept.remaining == 1 and kept.error is not None and kept.error.kind == "unavailable"
    up = submit.HttpCollector(server.url, agent.token, requests.Session())
    bad = record("host-a", apply_id="20261211T090000Z-ffffff", fixed="H.2")
    (apply_spool.directory(sd) / f"{bad['apply_id']}.json").write_text(json.dumps(bad))
    done = apply_spool.deliver(sd, up, quick)
    assert (done.sent, done.rejected, done.remaining, done.error) == (1, 1, 0, None)
    reason = (apply_spool.directory(sd) / "rejected" / f"{bad['apply_id']}.reason.txt").read_text()
    assert reason.startswith("HTTP 400: 'H.2' is not of type 'array'"), reason
    assert [a["apply_id"] for a in applies(server, tokens.admin)] == [record("host-a")["apply_id"]]

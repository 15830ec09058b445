"""Hostile input to the real collector, on SQLite and PostgreSQL: deep nesting, NUL bytes, lone
surrogates, integers at and past 2**63, malformed federation pushes. Every one is a 400 (or a
413) naming where the problem is, never a 500; and nothing one agency stored breaks a read."""
from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa
from tests.collectors.collector_support import Agent, Server, Tokens
from tests.collectors.dashboard_support import login

from collectors.models import FEDERATED_SHARD, agencies, agg_directives, agg_requirements
from collectors.storage import Database

pytestmark = pytest.mark.slow  # a real collector server per test

BASELINE = [{"key": "HARDEN-30D.1", "status": "pass"}, {"key": "HARDEN-30D.2", "status": "fail"}]
DEEP = 100_000


def results() -> list[dict[str, Any]]:
    from tests.collectors.collector_support import result

    return [result(r["key"], r["status"]) for r in BASELINE]


def enrolled(server: Server, tokens: Tokens, host_id: str = "host-a") -> Agent:
    return server.enroll(tokens.enroll["DOJ"], Agent(host_id))


def post_raw(server: Server, path: str, token: str, body: bytes, method: str = "POST") -> Any:
    return server.request(method, path, token, data=body, headers={"Content-Type": "application/json"})


def refused(resp: Any, path: str | None = None, status: int = 400) -> None:
    assert resp.status_code == status, (resp.status_code, resp.text[:300])
    if path is not None:
        assert resp.json()["path"] == path, resp.text[:300]


def test_deep_nesting_is_refused_on_every_json_route(server: Server, tokens: Tokens) -> None:
    agent = enrolled(server, tokens)
    deep = b"[" * DEEP + b"]" * DEEP
    for path, token, method in (("/api/v1/enroll", tokens.enroll["DOJ"], "POST"),
                                ("/api/v1/reports", agent.token, "POST"),
                                ("/api/v1/federation/rollups", tokens.soc["DOJ"], "PUT"),
                                ("/api/v1/federation/hosts", tokens.soc["DOJ"], "PUT")):
        resp = post_raw(server, path, token, deep, method)
        assert resp.status_code in (400, 413), (path, resp.status_code, resp.text[:200])
        assert "nested deeper than" in resp.json()["error"]
    # Within the parser's reach but past the bound, in a free-form field of a valid report.
    report = agent.full(results())
    nested: Any = "x"
    for _ in range(200):
        nested = {"a": nested}
    report["results"][0]["fields"] = nested
    resp = server.submit(agent, report)
    refused(resp)
    assert resp.json()["path"].startswith("$.results[0].fields.a.a")
    del report["results"][0]["fields"]
    assert server.submit(agent, report).json()["status"] == "accepted"


def test_nul_bytes_are_refused_with_their_path(server: Server, tokens: Tokens) -> None:
    agent = enrolled(server, tokens)
    soc = tokens.soc["DOJ"]
    refused(server.request("GET", "/api/v1/hosts?tag=%00", soc), "$.query.tag")
    refused(server.request("GET", "/api/v1/hosts?directive=a%00b&format=csv", soc), "$.query.directive")
    refused(server.request("GET", "/api/v1/hosts/%00", soc), "$.path")
    refused(server.request("GET", "/api/v1/export/results?status=%00&format=csv", soc), "$.query.status")
    refused(server.request("POST", "/api/v1/enroll", tokens.enroll["DOJ"], json={"host_id": "a\x00b"}), "$.host_id")
    refused(server.request("POST", "/api/v1/enroll", tokens.enroll["DOJ"],
                           json={"host_id": "ok-host", "hostname": "\x00"}), "$.hostname")
    refused(server.request("GET", "/dashboard/agency/DOJ?tag=%00"), "$.query.tag")
    refused(server.request("GET", "/dashboard/agency/DOJ/hosts.csv?directive=%00"), "$.query.directive")
    for where, change in ((("host", "hostname"), "$.host.hostname"), (("host", "tags"), "$.host.tags[0]"),
                          (("results", "key"), "$.results[0].key"),
                          (("results", "requirement"), "$.results[0].requirement")):
        report = agent.full(results())
        if where == ("host", "tags"):
            report["host"]["tags"] = ["a\x00"]
        elif where[0] == "host":
            report["host"][where[1]] = "web\x00"
        else:
            report["results"][0][where[1]] += "\x00"
        refused(server.submit(agent, report), change)
    # Inside a result's document a NUL is data (a host's file can hold one): stored, escaped.
    binary = results()
    binary[0]["evidence"][0]["actual"], binary[0]["message"] = "bin\x00ary", "\x00"
    report = agent.full(binary)
    assert server.submit(agent, report).json()["status"] == "accepted"
    detail = server.request("GET", f"/api/v1/hosts/{agent.host_id}", soc).json()
    assert {r["evidence"][0]["actual"] for r in detail["results"]} == {"bin\x00ary", "fail"}


def test_lone_surrogates_are_refused(server: Server, tokens: Tokens) -> None:
    agent = enrolled(server, tokens)
    resp = post_raw(server, "/api/v1/enroll", tokens.enroll["DOJ"], b'{"host_id":"sur\\ud800x"}')
    refused(resp, "$.host_id")
    assert "surrogate" in resp.json()["error"]
    for field, path in (("hostname", "$.host.hostname"), ("message", "$.results[0].message")):
        report = agent.full(results())
        if field == "hostname":
            report["host"]["hostname"] = "PLACEHOLDER"
        else:
            report["results"][0]["message"] = "PLACEHOLDER"
        body = json.dumps(report).replace("PLACEHOLDER", "a\\udfffb").encode()
        refused(post_raw(server, "/api/v1/reports", agent.token, body), path)
    # A surrogate pair is one character (an emoji), accepted.
    report = agent.full(results())
    report["host"]["hostname"] = "PLACEHOLDER"
    body = json.dumps(report).replace("PLACEHOLDER", "web\\ud83d\\ude00").encode()
    assert post_raw(server, "/api/v1/reports", agent.token, body).json()["status"] == "accepted"


def test_integers_at_and_past_2_63_are_bounded(server: Server, tokens: Tokens) -> None:
    agent = enrolled(server, tokens)
    soc = tokens.soc["DOJ"]
    for offset in (2 ** 63, 2 ** 63 - 1, 2 ** 31):
        refused(server.request("GET", f"/api/v1/hosts?offset={offset}", soc), "$.query.offset")
    assert server.request("GET", f"/api/v1/hosts?offset={2 ** 31 - 1}", soc).status_code == 200
    for sequence in (2 ** 64, 2 ** 63, 2 ** 63 - 1, 2 ** 53):
        report = agent.full(results())
        report["sequence"] = sequence
        refused(server.submit(agent, report), "$.sequence")
    # None of them locked the host out: its next report is taken.
    assert server.submit(agent, agent.full(results())).json()["status"] == "accepted"
    report = agent.full(results())
    report["summary"]["counts"]["pass"] = 2 ** 63
    refused(server.submit(agent, report), "$.summary.counts.pass")
    push = {"version": "1", "requirements": [{"directive": "HARDEN-30D", "requirement": "HARDEN-30D.1",
                                              "due": None, "counts": {"pass": 2 ** 63}}], "directives": []}
    refused(server.request("PUT", "/api/v1/federation/rollups", tokens.soc["DOE"], json=push),
            "$.requirements[0].counts.pass")


@pytest.mark.parametrize("field,value,path", [
    ("due", "XXXXXXXXXX", "$.requirements[0].due"),
    ("due", "2026-02-30", "$.requirements[0].due"),
    ("due", 20260101, "$.requirements[0].due"),
    ("directive", "harden 30d", "$.requirements[0].directive"),
    ("requirement", "HARDEN-30D", "$.requirements[0].requirement"),
    ("requirement", "HARDEN-30D.1\x00", "$.requirements[0].requirement"),
])
def test_federation_push_validates_every_field(server: Server, tokens: Tokens, field: str, value: Any,
                                                path: str) -> None:
    row = {"directive": "HARDEN-30D", "requirement": "HARDEN-30D.1", "due": "2026-07-02", "counts": {"pass": 1}}
    push = {"version": "1", "requirements": [{**row, field: value}], "directives": []}
    refused(server.request("PUT", "/api/v1/federation/rollups", tokens.soc["DOE"], json=push), path)
    push = {"version": "1", "requirements": [row],
            "directives": [{"directive": "HARDEN-30D", "hosts": 1, "compliant_hosts": 2}]}
    refused(server.request("PUT", "/api/v1/federation/rollups", tokens.soc["DOE"], json=push),
            "$.directives[0].compliant_hosts")


def test_one_agencys_stored_rows_never_fail_a_read(server: Server, tokens: Tokens, db: Database) -> None:
    """Rows stored before pushes were validated (a due date that is no date) are read around."""
    agent = enrolled(server, tokens)
    assert server.submit(agent, agent.full(results())).json()["status"] == "accepted"
    with db.write() as conn:
        doe = conn.execute(sa.select(agencies.c.id).where(agencies.c.code == "DOE")).scalar_one()
        for due in ("XXXXXXXXXX", "2026-02-30"):
            conn.execute(agg_requirements.insert().values(agency_id=doe, directive="HARDEN-30D",
                                                          requirement="HARDEN-30D.1", due=due,
                                                          shard=FEDERATED_SHARD, n_fail=1))
        conn.execute(agg_directives.insert().values(agency_id=doe, directive="HARDEN-30D", shard=FEDERATED_SHARD,
                                                    hosts=1, compliant_hosts=0))
    for path in ("/api/v1/rollups", "/api/v1/rollups?agency=DOE", "/api/v1/rollups/agencies",
                 "/api/v1/rollups?format=csv", "/api/v1/history"):
        resp = server.request("GET", path, tokens.national)
        assert resp.status_code == 200, (path, resp.text[:300])
    import requests

    with requests.Session() as browser:
        assert login(server, tokens.national, browser).status_code in (302, 303)
        for path in ("/dashboard/national", "/dashboard/directives", "/dashboard/directive/HARDEN-30D",
                     "/dashboard/rollups.csv"):
            resp = browser.get(server.url + path, timeout=30)
            assert resp.status_code == 200, (path, resp.status_code, resp.text[:300])

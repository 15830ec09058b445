"""Ingest over real HTTP: full reports, deltas, every refusal, and never half a report."""
from __future__ import annotations

import gzip
import json
from typing import Any

import sqlalchemy as sa

from collectors.models import metadata
from collectors.storage import Database
from tests.collectors.collector_support import Agent, Server, Tokens, result

BASELINE = [result("H.1", "pass"), result("H.2", "fail"), result("H.3", "pass"),
            result("B.1", "fail", directive="BOD-23-02", due="2023-07-13")]


def dump(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table except the credentials', for before/after comparisons."""
    with db.read() as conn:
        return {t.name: sorted(map(tuple, conn.execute(sa.select(t)).all()), key=repr)
                for t in metadata.sorted_tables if t.name != "tokens"}


def statuses(server: Server, tokens: Tokens, agent: Agent) -> set[tuple[str, str]]:
    resp = server.request("GET", f"/api/v1/hosts/{agent.host_id}", tokens.soc["DOJ"])
    assert resp.status_code == 200, resp.text
    return {(r["key"], r["status"]) for r in resp.json()["results"]}


def enrolled(server: Server, tokens: Tokens, host_id: str = "host-a", agency: str = "DOJ") -> Agent:
    return server.enroll(tokens.enroll[agency], Agent(host_id))


def test_full_then_delta_applies_changes(server: Server, tokens: Tokens) -> None:
    agent = enrolled(server, tokens)
    resp = server.submit(agent, agent.full(BASELINE))
    assert resp.status_code == 200 and resp.json()["status"] == "accepted", resp.text
    assert statuses(server, tokens, agent) == {("H.1", "pass"), ("H.2", "fail"), ("H.3", "pass"), ("B.1", "fail")}

    resp = server.submit(agent, agent.delta([result("H.2", "pass"), result("H.4", "fail")], removed=["H.3"]))
    assert resp.status_code == 200, resp.text
    assert resp.json()["status"] == "accepted" and resp.json()["changed"] == 2 and resp.json()["removed"] == 1
    assert statuses(server, tokens, agent) == {("H.1", "pass"), ("H.2", "pass"), ("H.4", "fail"), ("B.1", "fail")}


def test_failing_since_is_kept_while_failing_and_cleared_when_fixed(server: Server, tokens: Tokens) -> None:
    agent = enrolled(server, tokens)
    server.submit(agent, agent.full(BASELINE))
    first = {r["key"]: r for r in server.request("GET", f"/api/v1/hosts/{agent.host_id}",
                                                 tokens.soc["DOJ"]).json()["results"]}
    assert first["H.2"]["failing_since"] and first["H.1"]["failing_since"] is None
    server.submit(agent, agent.delta([result("H.2", "fail", actual="still weak"), result("H.1", "fail")]))
    second = {r["key"]: r for r in server.request("GET", f"/api/v1/hosts/{agent.host_id}",
                                                  tokens.soc["DOJ"]).json()["results"]}
    assert second["H.2"]["failing_since"] == first["H.2"]["failing_since"]
    assert second["H.2"]["evidence"][0]["actual"] == "still weak"
    assert second["H.1"]["failing_since"] is not None
    server.submit(agent, agent.delta([result("H.2", "pass")]))
    third = {r["key"]: r for r in server.request("GET", f"/api/v1/hosts/{agent.host_id}",
                                                 tokens.soc["DOJ"]).json()["results"]}
    assert third["H.2"]["failing_since"] is None
    assert third["B.1"]["overdue"] is True and third["H.1"]["overdue"] is True  # due dates in the past


def test_replay_answers_duplicate_and_changes_nothing(server: Server, tokens: Tokens, db: Database) -> None:
    agent = enrolled(server, tokens)
    full = agent.full(BASELINE)
    server.submit(agent, full)
    delta = agent.delta([result("H.1", "fail")])
    assert server.submit(agent, delta).json()["status"] == "accepted"
    before = dump(db)
    for report in (delta, full):
        resp = server.submit(agent, report)
        assert resp.status_code == 200 and resp.json()["status"] == "duplicate", resp.text
    assert dump(db) == before


def test_a_state_stored_with_an_older_digest_form_is_resynced_once(server: Server, tokens: Tokens,
                                                                   db: Database) -> None:
    """A database holding a host's state under the earlier digest (SHA-256 over the sorted
    list) cannot move it by a delta: the collector asks for one full report, then deltas apply."""
    from collectors.models import hosts

    agent = enrolled(server, tokens)
    assert server.submit(agent, agent.full(BASELINE)).json()["status"] == "accepted"
    with db.write() as conn:
        conn.execute(hosts.update().where(hosts.c.host_id == agent.host_id)
                     .values(state_digest="sha256:" + "e" * 64))
    resp = server.submit(agent, agent.delta([result("H.1", "fail")]))
    assert resp.status_code == 409 and resp.json()["reason"] == "digest_mismatch", resp.text
    # The agent's answer to a resync: its whole current state, the refused change included.
    assert server.submit(agent, agent.full(list(agent.state.values()))).json()["status"] == "accepted"
    resp = server.submit(agent, agent.delta([result("H.3", "fail")]))
    assert resp.json()["status"] == "accepted", resp.text
    assert {("H.1", "fail"), ("H.3", "fail")} <= statuses(server, tokens, agent)


def test_resync_answers_and_nothing_written(server: Server, tokens: Tokens, db: Database) -> None:
    agent = enrolled(server, tokens)
    server.submit(agent, agent.full(BASELINE))
    base, seq = agent.last_report_id, agent.sequence
    before = dump(db)

    def expect(report: dict[str, Any], reason: str) -> None:
        resp = server.submit(agent, report)
        assert resp.status_code == 409, resp.text
        body = resp.json()
        assert body["status"] == "resync" and body["reason"] == reason, body
        assert body["last_report_id"] == base and body["last_sequence"] == seq
        assert dump(db) == before

    unknown_base = agent.delta([result("H.1", "fail")])
    unknown_base["base"] = "r-not-a-known-report"
    expect(unknown_base, "unknown_base")

    bad_digest = agent.delta([result("H.1", "fail")])
    bad_digest["state_digest"] = "sum256:" + "0" * 64
    expect(bad_digest, "digest_mismatch")

    stale = agent.delta([result("H.1", "fail")])
    stale["sequence"] = seq  # not after the last applied one
    expect(stale, "out_of_order")

    unknown_key = agent.delta([])
    unknown_key["removed"] = ["NOT.THERE"]
    expect(unknown_key, "unknown_key")

    new_directive = agent.delta([result("H.1", "fail")])
    new_directive["directives"] = DIRECTIVES_CHANGED
    expect(new_directive, "directives_changed")


DIRECTIVES_CHANGED = [{"id": "HARDEN-30D", "title": "Hardening", "issued": "2026-06-02",
                       "digest": "sha256:" + "c" * 64}]


def test_delta_before_any_full_report_asks_for_resync(server: Server, tokens: Tokens) -> None:
    agent = enrolled(server, tokens)
    agent.state = {r["key"]: r for r in BASELINE}
    agent.last_report_id = "r-never-sent-0"
    resp = server.submit(agent, agent.delta([result("H.1", "fail")]))
    assert resp.status_code == 409 and resp.json()["reason"] == "no_state"


def test_out_of_order_deltas(server: Server, tokens: Tokens) -> None:
    agent = enrolled(server, tokens)
    server.submit(agent, agent.full(BASELINE))
    first = agent.delta([result("H.1", "fail")])
    agent.accepted(first)  # the agent moved on; the collector has not seen `first` yet
    second = agent.delta([result("H.3", "fail")])
    resp = server.submit(agent, second)
    assert resp.status_code == 409 and resp.json()["reason"] == "unknown_base"
    assert server.submit(agent, first).json()["status"] == "accepted"
    assert server.submit(agent, second).json()["status"] == "accepted"
    assert statuses(server, tokens, agent) == {("H.1", "fail"), ("H.2", "fail"), ("H.3", "fail"), ("B.1", "fail")}


def test_full_report_resets_state_after_resync(server: Server, tokens: Tokens) -> None:
    agent = enrolled(server, tokens)
    server.submit(agent, agent.full(BASELINE))
    resp = server.submit(agent, agent.full([result("H.9", "pass")]))
    assert resp.json()["status"] == "accepted" and resp.json()["removed"] == 4
    assert statuses(server, tokens, agent) == {("H.9", "pass")}


def test_bad_input_answers(server: Server, tokens: Tokens, db: Database) -> None:
    agent = enrolled(server, tokens)
    server.submit(agent, agent.full(BASELINE))
    before = dump(db)
    post = lambda data, **kw: server.request("POST", "/api/v1/reports", agent.token, data=data,  # noqa: E731
                                             headers={"Content-Type": "application/json", **kw.pop("headers", {})}, **kw)

    resp = post(b'{"kind": "full",')
    assert resp.status_code == 400 and resp.json()["error"].startswith("malformed JSON"), resp.text

    bad = agent.delta([result("H.1", "fail")])
    bad["changes"][0]["status"] = "green"
    resp = post(json.dumps(bad))
    assert resp.status_code == 400 and resp.json()["path"] == "$.changes[0].status", resp.text

    missing = agent.delta([result("H.1", "fail")])
    del missing["state_digest"]
    resp = post(json.dumps(missing))
    assert resp.status_code == 400 and resp.json()["path"] == "$", resp.text
    assert "state_digest" in resp.json()["error"]

    for field, value in (("generated_at", "yesterday"), ("generated_at", "2026-12-05"),
                         ("generated_at", "2026-13-05T10:00:00Z")):
        undated = agent.delta([result("H.1", "fail")])
        undated[field] = value  # a date-time the schema's format refuses: 400 naming it, not a 500
        resp = post(json.dumps(undated))
        assert resp.status_code == 400 and resp.json()["path"] == f"$.{field}", resp.text

    dup_keys = agent.full([result("H.1"), result("H.1")])
    resp = post(json.dumps(dup_keys))
    assert resp.status_code == 400 and resp.json()["path"] == "$.results[1].key"

    lying = agent.full([result("H.1")])
    lying["state_digest"] = "sum256:" + "1" * 64
    resp = post(json.dumps(lying))
    assert resp.status_code == 400 and resp.json()["path"] == "$.state_digest"

    huge = agent.full([result(f"H.{i}", actual="x" * 1000) for i in range(400)])  # ~500 KB, limit 256 KiB
    resp = post(json.dumps(huge))
    assert resp.status_code == 413, resp.text
    resp = post(gzip.compress(json.dumps(huge).encode()), headers={"Content-Encoding": "gzip"})
    assert resp.status_code == 413, resp.text  # the limit holds after decompression too
    resp = post(b"not gzip", headers={"Content-Encoding": "gzip"})
    assert resp.status_code == 400

    assert dump(db) == before


def test_gzip_body_is_accepted(server: Server, tokens: Tokens) -> None:
    agent = enrolled(server, tokens)
    resp = server.request("POST", "/api/v1/reports", agent.token, data=gzip.compress(json.dumps(agent.full(BASELINE)).encode()),
                          headers={"Content-Type": "application/json", "Content-Encoding": "gzip"})
    assert resp.status_code == 200 and resp.json()["status"] == "accepted", resp.text


def test_tokens(server: Server, tokens: Tokens, db: Database) -> None:
    agent = enrolled(server, tokens)
    other = enrolled(server, tokens, "host-b")
    report = agent.full(BASELINE)
    assert server.request("POST", "/api/v1/reports", None, json=report).status_code == 401
    assert server.request("POST", "/api/v1/reports", "fhage_wrong", json=report).status_code == 401
    resp = server.request("POST", "/api/v1/reports", None, json=report, headers={"Authorization": "Basic eDp5"})
    assert resp.status_code == 401 and resp.headers["WWW-Authenticate"] == "Bearer"
    for token in (tokens.soc["DOJ"], tokens.national, tokens.admin, tokens.enroll["DOJ"]):
        assert server.request("POST", "/api/v1/reports", token, json=report).status_code == 403
    resp = server.request("POST", "/api/v1/reports", other.token, json=report)  # someone else's host
    assert resp.status_code == 403 and "bound to host host-b" in resp.json()["error"]
    # Enrolling again (a reinstalled agent) revokes the old token.
    old = agent.token
    server.enroll(tokens.enroll["DOJ"], agent)
    assert server.request("POST", "/api/v1/reports", old, json=report).status_code == 401
    assert server.submit(agent, report).status_code == 200
    # A host enrolled by one agency cannot be taken over with another agency's secret.
    resp = server.request("POST", "/api/v1/enroll", tokens.enroll["DOE"], json={"host_id": agent.host_id})
    assert resp.status_code == 409
    assert server.request("POST", "/api/v1/enroll", tokens.soc["DOJ"], json={"host_id": "x"}).status_code == 403
    resp = server.request("POST", "/api/v1/enroll", tokens.enroll["DOJ"], json={"hostname": "x"})
    assert resp.status_code == 400 and resp.json()["path"] == "$.host_id"


def test_report_id_of_another_host_is_a_conflict(server: Server, tokens: Tokens) -> None:
    a, b = enrolled(server, tokens, "host-a"), enrolled(server, tokens, "host-b")
    report = a.full(BASELINE)
    assert server.submit(a, report).status_code == 200
    stolen = b.full(BASELINE)
    stolen["report_id"] = report["report_id"]
    assert server.submit(b, stolen).status_code == 409


def test_digest_moved_by_stored_texts_equals_the_agents_state_digest(server: Server, tokens: Tokens) -> None:
    """Keys and texts that sort or encode differently under a locale's rules or a lossy
    encoding: the digest the collector moves by the texts it stored and reads back must still
    be the agent's digest of the whole state."""
    from agent.contract import canonical, digest_text, digest_value, result_hash, state_digest

    # (Requirement ids follow the directive schema's pattern; the keys' findings carry the texts.)
    items = [result("Z.1", "fail", actual="naïve ✓ \"quoted\" \\ \n"), result("A.1#CVE-2024-1", "pass"),
             result("A.1#a", "error", due=None), {**result("M.1"), "fields": {"b": [1, 2.5, None], "a": {"z": True}}},
             result("E.1#É", "pass"), result("E.1#e", "fail"), result("U.1#_", "pass"), result("O.1#Ω", "waived")]
    # A sum over the set: the order of the results does not matter, their contents do.
    assert state_digest(items) == state_digest(list(reversed(items)))
    assert state_digest(items) != state_digest(items[1:]) != state_digest([])
    assert state_digest([]) == "sum256:" + "0" * 64
    fixed = result("Z.1", "pass")  # a delta replacing one result moves the digest by it alone
    moved = digest_value(state_digest(items)) - result_hash(canonical(items[0])) + result_hash(canonical(fixed))
    assert digest_text(moved) == state_digest([fixed, *items[1:]]) != state_digest(items)
    assert digest_value("sha256:" + "0" * 64) is None and digest_value("sum256:xyz") is None
    agent = enrolled(server, tokens)  # through the database: texts stored, read back, digested
    assert server.submit(agent, agent.full(items)).json()["status"] == "accepted"
    resp = server.submit(agent, agent.delta([result("O.1#Ω", "fail", actual="ü")], removed=["A.1#a"]))
    assert resp.json()["status"] == "accepted", resp.text


def test_fast_schema_check_agrees_with_the_agents_validator() -> None:
    """The compiled schema only gates; it must never accept what agent.contract.validation_errors rejects."""
    import copy

    import fastjsonschema

    from agent.contract import validation_errors
    from collectors.wire import _fast_validator

    agent = Agent("h")
    full = agent.full(BASELINE)
    agent.accepted(full)
    delta = agent.delta([result("H.1", "fail")], removed=["H.3"])
    mutations = [
        lambda r: r.update(kind="partial"), lambda r: r.pop("sequence"), lambda r: r.update(sequence=-1),
        lambda r: r.update(sequence=1.5), lambda r: r.update(sequence=True), lambda r: r.update(report_id="short"),
        lambda r: r.update(extra=1), lambda r: r["host"].update(id=""), lambda r: r.update(generated_at="yesterday"),
        lambda r: r["directives"][0].update(issued="2026-13-45"), lambda r: r.update(state_digest="sha256:XYZ"),
        lambda r: r["summary"].pop("counts"), lambda r: r["agent"].update(name="other"),
        lambda r: (r.get("results") or r.get("changes"))[0].update(status="ok"),
        lambda r: (r.get("results") or r.get("changes"))[0].update(due="2026-02-30"),
        lambda r: (r.get("results") or r.get("changes"))[0].update(cve="CVE-1"),
        lambda r: (r.get("results") or r.get("changes"))[0]["evidence"].append({"expected": "x"}),
        lambda r: r.pop("results", None) if r["kind"] == "full" else r.pop("base"),
        lambda r: r.update(base=None) if r["kind"] == "delta" else r.update(results={}),
        lambda r: None,
    ]
    for report in (full, delta):
        for mutate in mutations:
            candidate = copy.deepcopy(report)
            mutate(candidate)
            try:
                _fast_validator()(candidate)
                fast_ok = True
            except fastjsonschema.JsonSchemaException:
                fast_ok = False
            assert fast_ok == (validation_errors(candidate) == []), (candidate.get("kind"), validation_errors(candidate))


def test_another_install_with_the_same_host_id_is_refused(server: Server, tokens: Tokens, db: Database) -> None:
    """A cloned image keeps machine-id, hence host id; its install key differs, so it is refused."""
    def enroll(instance: str) -> Any:
        return server.request("POST", "/api/v1/enroll", tokens.enroll["DOJ"],
                              json={"host_id": "cloned", "hostname": "web1", "instance": instance})

    first = enroll("a" * 32)
    assert first.status_code == 201
    clone = enroll("b" * 32)
    assert clone.status_code == 409 and "another install with the same machine-id" in clone.json()["error"]
    # The original's token still authenticates (an empty body is refused as a bad report, not as a stranger).
    assert server.request("POST", "/api/v1/reports", first.json()["token"], json={}).status_code == 400
    again = enroll("a" * 32)  # the same install enrolling again is a reinstall of its credential
    assert again.status_code == 201
    assert server.request("POST", "/api/v1/enroll", tokens.enroll["DOJ"],
                          json={"host_id": "cloned", "instance": 7}).json()["path"] == "$.instance"
    from collectors.admin import release_host

    with db.write() as conn:
        release_host(conn, "cloned", "test")
    assert enroll("b" * 32).status_code == 201  # released: the new install claims the host
    assert enroll("a" * 32).status_code == 409  # and the old one is now the stranger


def test_enrollment_names_the_head_and_a_conflict_its_reason(server: Server, tokens: Tokens) -> None:
    """A new install continues after the host's head (an agent would otherwise take it for a
    clone's); a refused enrollment says why in a code an agent can act on."""
    def enroll(instance: str, agency: str = "DOJ") -> Any:
        return server.request("POST", "/api/v1/enroll", tokens.enroll[agency],
                              json={"host_id": "host-h", "instance": instance})

    first = enroll("a" * 32)
    assert (first.json()["last_report_id"], first.json()["last_sequence"]) == (None, None)
    agent = Agent("host-h")
    agent.token = first.json()["token"]
    report = agent.full(BASELINE)
    assert server.submit(agent, report).json()["status"] == "accepted"
    again = enroll("a" * 32)
    assert (again.json()["last_report_id"], again.json()["last_sequence"]) == (report["report_id"], report["sequence"])
    assert enroll("b" * 32).json()["reason"] == "other_install"
    assert enroll("a" * 32, "DOE").json()["reason"] == "other_agency"

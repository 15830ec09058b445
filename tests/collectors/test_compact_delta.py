"""Compact deltas (report schema 1.1) over real HTTP: the header travels as a patch of what
changed, a directive added, changed or removed is a delta (never a resync), the header digest
is checked like the state digest, and the collector records which directive versions each
host evaluated, for the version rollups."""
from __future__ import annotations

from typing import Any

from tests.collectors.collector_support import DIRECTIVES, Agent, Server, Tokens, result

BASELINE = [result("H.1", "pass"), result("H.2", "fail"), result("B.1", "fail", directive="BOD-23-02")]
V2 = {"id": "BOD-26-04", "title": "A new directive", "issued": "2026-11-01", "digest": "sha256:" + "c" * 64,
      "version": "2"}
NEW_RESULTS = [result("BOD-26-04.1", "fail", directive="BOD-26-04"), result("BOD-26-04.2", "pass", directive="BOD-26-04")]


def started(server: Server, tokens: Tokens, host_id: str = "host-a", agency: str = "DOJ") -> Agent:
    agent = server.enroll(tokens.enroll[agency], Agent(host_id))
    resp = server.submit(agent, agent.full(BASELINE))
    assert resp.status_code == 200 and resp.json()["status"] == "accepted", resp.text
    return agent


def accepted(server: Server, agent: Agent, report: dict[str, Any]) -> dict[str, Any]:
    resp = server.submit(agent, report)
    assert resp.status_code == 200 and resp.json()["status"] == "accepted", resp.text
    return dict(resp.json())


def host_row(server: Server, tokens: Tokens, agent: Agent) -> dict[str, Any]:
    resp = server.request("GET", f"/api/v1/hosts/{agent.host_id}", tokens.soc["DOJ"])
    assert resp.status_code == 200, resp.text
    return dict(resp.json())


def versions(server: Server, token: str, directive: str) -> list[tuple[str | None, str, int]]:
    resp = server.request("GET", f"/api/v1/directives/versions?directive={directive}", token)
    assert resp.status_code == 200, resp.text
    return [(v["version"], v["digest"], v["hosts"]) for d in resp.json()["directives"] for v in d["versions"]]


def test_an_unchanged_scan_carries_no_header_and_a_changed_hostname_only_itself(server: Server,
                                                                                tokens: Tokens) -> None:
    agent = started(server, tokens)
    unchanged = agent.compact()
    assert "header" not in unchanged and "host" not in unchanged and "directives" not in unchanged
    assert accepted(server, agent, unchanged)["changed"] == 0
    agent.hostname = "web-02"
    renamed = agent.compact([result("H.2", "pass")])
    assert renamed["header"] == {"host": {"hostname": "web-02"}}
    accepted(server, agent, renamed)
    assert host_row(server, tokens, agent)["host"]["hostname"] == "web-02"
    assert {(r["key"], r["status"]) for r in host_row(server, tokens, agent)["results"]} == {
        ("H.1", "pass"), ("H.2", "pass"), ("B.1", "fail")}
    # The stored header follows: the next unchanged delta's digest matches it.
    accepted(server, agent, agent.compact())


def test_a_new_directive_travels_as_a_delta_of_its_results_and_its_version_is_recorded(server: Server,
                                                                                        tokens: Tokens) -> None:
    agent = started(server, tokens)
    other = started(server, tokens, "host-b")
    agent.directives = [*DIRECTIVES, V2]
    delta = agent.compact(NEW_RESULTS)
    assert delta["header"] == {"directives": {"BOD-26-04": {k: v for k, v in V2.items() if k != "id"}}}
    assert [r["key"] for r in delta["changes"]] == ["BOD-26-04.1", "BOD-26-04.2"]
    assert accepted(server, agent, delta)["changed"] == 2
    assert versions(server, tokens.soc["DOJ"], "BOD-26-04") == [("2", V2["digest"], 1)]
    assert versions(server, tokens.national, "HARDEN-30D") == [(None, DIRECTIVES[0]["digest"], 2)]

    resp = server.request("GET", "/api/v1/rollups?directive=BOD-26-04&version=2", tokens.soc["DOJ"])
    assert resp.status_code == 200, resp.text
    overall = resp.json()["overall"]
    assert (overall["hosts"], overall["non_compliant_hosts"], overall["counts"]["fail"], overall["counts"]["pass"]) == (
        1, 1, 1, 1)
    assert [a["agency"] for a in resp.json()["agencies"]] == ["DOJ"]
    listed = server.request("GET", "/api/v1/hosts?directive=BOD-26-04&version=2", tokens.soc["DOJ"]).json()
    assert [h["host_id"] for h in listed["hosts"]] == [agent.host_id]
    listed = server.request("GET", "/api/v1/hosts?directive=HARDEN-30D&version=", tokens.soc["DOJ"]).json()
    assert sorted(h["host_id"] for h in listed["hosts"]) == sorted([agent.host_id, other.host_id])
    resp = server.request("GET", "/api/v1/rollups?directive=BOD-26-04&version=1", tokens.soc["DOJ"])
    assert resp.json()["overall"]["hosts"] == 0 and resp.json()["agencies"] == []
    # The other host evaluated no version of it.
    assert other.last_report_id is not None
    resp = server.request("GET", "/api/v1/rollups?directive=HARDEN-30D&version=", tokens.soc["DOJ"])
    assert resp.json()["overall"]["hosts"] == 2


def test_a_changed_directive_is_a_delta_and_moves_the_host_to_the_new_version(server: Server,
                                                                              tokens: Tokens) -> None:
    agent = started(server, tokens)
    agent.directives = [*DIRECTIVES, V2]
    accepted(server, agent, agent.compact(NEW_RESULTS))
    v3 = {**V2, "digest": "sha256:" + "d" * 64, "version": "3"}
    agent.directives = [*DIRECTIVES, v3]
    delta = agent.compact([result("BOD-26-04.2", "fail", directive="BOD-26-04")])
    assert delta["header"] == {"directives": {"BOD-26-04": {"digest": v3["digest"], "version": "3"}}}
    accepted(server, agent, delta)
    assert versions(server, tokens.soc["DOJ"], "BOD-26-04") == [("3", v3["digest"], 1)]
    evaluated = {d["directive"]: (d["version"], d["digest"]) for d in host_row(server, tokens, agent)["directives"]}
    assert evaluated == {"HARDEN-30D": (None, DIRECTIVES[0]["digest"]), "BOD-23-02": (None, DIRECTIVES[1]["digest"]),
                         "BOD-26-04": ("3", v3["digest"])}
    rollup = server.request("GET", "/api/v1/rollups?directive=BOD-26-04&version=3&digest=" + v3["digest"],
                            tokens.soc["DOJ"]).json()
    assert rollup["overall"]["counts"]["fail"] == 2


def test_a_removed_directive_travels_as_removals(server: Server, tokens: Tokens) -> None:
    agent = started(server, tokens)
    agent.directives = [DIRECTIVES[0]]
    delta = agent.compact(removed=["B.1"])
    assert delta["header"] == {"directives": {"BOD-23-02": None}} and delta["removed"] == ["B.1"]
    accepted(server, agent, delta)
    assert versions(server, tokens.soc["DOJ"], "BOD-23-02") == []
    assert [d["directive"] for d in host_row(server, tokens, agent)["directives"]] == ["HARDEN-30D"]


def test_a_header_that_does_not_match_is_a_resync(server: Server, tokens: Tokens) -> None:
    agent = started(server, tokens)
    wrong = agent.compact()
    wrong["header_digest"] = "sha256:" + "0" * 64
    resp = server.submit(agent, wrong)
    assert resp.status_code == 409 and resp.json()["reason"] == "header_mismatch", resp.text
    # A patch made against another header than the stored one: the member it does not name
    # (the hostname, the same in the agent's base and in its new header) differs.
    assert agent.base_header is not None
    agent.hostname = "elsewhere"
    agent.base_header = {**agent.base_header, "host": {**agent.base_header["host"], "hostname": "elsewhere"}}
    agent.directives = [*DIRECTIVES, V2]
    patched = agent.compact(NEW_RESULTS)
    assert set(patched["header"]) == {"directives"}
    resp = server.submit(agent, patched)
    assert resp.status_code == 409 and resp.json()["reason"] == "header_mismatch", resp.text
    assert resp.json()["expected"] == patched["header_digest"] != resp.json()["computed"]
    # The full report the agent answers with realigns both.
    accepted(server, agent, agent.full(BASELINE))
    accepted(server, agent, agent.compact())


def test_a_patch_that_breaks_the_header_is_refused_naming_its_path(server: Server, tokens: Tokens) -> None:
    agent = started(server, tokens)
    report = agent.compact()
    report["header"] = {"host": {"hostname": 5}}
    # The digest is right for what the patch makes: only the schema can refuse it.
    from agent.contract import apply_patch, header_digest, header_form
    assert agent.base_header is not None
    report["header_digest"] = header_digest(apply_patch(header_form(agent.base_header), report["header"]))
    resp = server.submit(agent, report)
    assert resp.status_code == 400 and resp.json()["path"] == "$.header.host.hostname", resp.text


def test_a_compact_delta_for_a_host_whose_header_predates_it_is_one_resync(server: Server, tokens: Tokens,
                                                                           db: Any) -> None:
    import sqlalchemy as sa

    from collectors.models import host_headers
    agent = started(server, tokens)
    with db.write() as conn:  # as a host last seen before the collector stored headers
        conn.execute(host_headers.delete())
        assert conn.execute(sa.select(sa.func.count()).select_from(host_headers)).scalar() == 0
    resp = server.submit(agent, agent.compact())
    assert resp.status_code == 409 and resp.json()["reason"] == "header_mismatch", resp.text
    accepted(server, agent, agent.full(BASELINE))
    accepted(server, agent, agent.compact([result("H.1", "fail")]))


def test_a_schema_1_0_delta_still_applies_and_its_changed_directives_still_resync(server: Server,
                                                                                  tokens: Tokens) -> None:
    agent = started(server, tokens)
    accepted(server, agent, agent.delta([result("H.1", "fail")]))
    accepted(server, agent, agent.compact())  # the header a 1.0 delta carried is the one stored
    agent.directives = [*DIRECTIVES, V2]
    resp = server.submit(agent, agent.delta(NEW_RESULTS))
    assert resp.status_code == 409 and resp.json()["reason"] == "directives_changed", resp.text

"""Reads the dashboard needs, kept in the collector: host tags from reports (and the API's tag
filter), one host's history of changes, and failing findings past their due date."""
from __future__ import annotations

from typing import Any

from tests.collectors.collector_support import Agent, Server, Tokens, result

from collectors import NotFound, reads
from collectors.storage import Database


def tagged(report: dict[str, Any], tags: list[str]) -> dict[str, Any]:
    report["host"]["tags"] = tags
    return report


def test_tags_follow_the_last_report_and_filter_hosts(server: Server, tokens: Tokens) -> None:
    web = server.enroll(tokens.enroll["DOJ"], Agent("doj-web", hostname="doj-web"))
    db_host = server.enroll(tokens.enroll["DOJ"], Agent("doj-db", hostname="doj-db"))
    other = server.enroll(tokens.enroll["DOE"], Agent("doe-web", hostname="doe-web"))
    assert server.submit(web, tagged(web.full([result("H.1")]), ["web", "prod"])).status_code == 200
    assert server.submit(db_host, tagged(db_host.full([result("H.1")]), ["db", "prod"])).status_code == 200
    assert server.submit(other, tagged(other.full([result("H.1")]), ["web"])).status_code == 200

    def hosts(tag: str, token: str) -> set[tuple[str, tuple[str, ...]]]:
        resp = server.request("GET", f"/api/v1/hosts?tag={tag}", token)
        assert resp.status_code == 200, resp.text
        return {(h["host_id"], tuple(h["tags"])) for h in resp.json()["hosts"]}

    assert hosts("prod", tokens.soc["DOJ"]) == {("doj-web", ("prod", "web")), ("doj-db", ("db", "prod"))}
    assert hosts("web", tokens.soc["DOJ"]) == {("doj-web", ("prod", "web"))}  # never DOE's web host
    assert hosts("web", tokens.admin) == {("doj-web", ("prod", "web")), ("doe-web", ("web",))}
    # a later report (a delta) replaces the tags
    assert server.submit(web, tagged(web.delta([result("H.1", "fail")]), ["web"])).status_code == 200
    assert hosts("prod", tokens.soc["DOJ"]) == {("doj-db", ("db", "prod"))}
    csv = server.request("GET", "/api/v1/hosts?tag=web&format=csv", tokens.soc["DOJ"]).text.splitlines()
    assert csv[0].endswith(",tags") and csv[1].startswith("doj-web,") and csv[1].endswith(",web")


def test_host_events_and_overdue_findings_stay_in_scope(server: Server, tokens: Tokens, db: Database) -> None:
    doj = server.enroll(tokens.enroll["DOJ"], Agent("doj-1", hostname="doj-1"))
    doe = server.enroll(tokens.enroll["DOE"], Agent("doe-1", hostname="doe-1"))
    for agent in (doj, doe):
        first = [result("H.1"), result("K.1#CVE-2024-0001", "fail", due="2020-01-01"),
                 result("K.1#CVE-2024-0002", "fail", due="2999-01-01"), result("H.2", "fail", due="2020-01-01")]
        assert server.submit(agent, agent.full(first)).status_code == 200
        assert server.submit(agent, agent.delta([result("H.1", "fail")])).status_code == 200
        assert server.submit(agent, agent.delta([result("H.1", "pass")])).status_code == 200
    with db.read() as conn:
        doj_ids = [doj_agency(conn)]
        history = reads.host_events(conn, doj_ids, "doj-1")
        assert [(e["key"], e["from"], e["to"]) for e in history] == [("H.1", "fail", "pass"), ("H.1", "pass", "fail")]
        try:
            reads.host_events(conn, doj_ids, "doe-1")
            raise AssertionError("another agency's host must not be found")
        except NotFound:
            pass
        found = reads.overdue_findings(conn, doj_ids)
        assert found["total"] == 1
        assert [(f["host_id"], f["key"], f["due"]) for f in found["findings"]] == [
            ("doj-1", "K.1#CVE-2024-0001", "2020-01-01")]
        every = reads.overdue_findings(conn, None)  # H.2 is overdue too, but not a per-finding result
        assert {(f["host_id"], f["key"]) for f in every["findings"]} == {
            ("doj-1", "K.1#CVE-2024-0001"), ("doe-1", "K.1#CVE-2024-0001")}
        assert reads.agency_tags(conn, doj_ids) == []


def doj_agency(conn: Any) -> int:
    from collectors.admin import agency_id

    return agency_id(conn, "DOJ")

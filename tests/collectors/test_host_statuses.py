"""Unknown is never compliant, in the collector: hosts per directive are counted by
agent.contract.host_status at ingest, and the rollups, the side-by-side view, history, host
lists, filters and CSV all say the same."""
from __future__ import annotations

import csv
import datetime as dt
import io
import itertools
from typing import Any

from tests.collectors.collector_support import Agent, Server, Tokens, result

from agent.contract import HostStatus, host_status
from collectors import rollups
from collectors.auth import lookup
from collectors.apply import ingest
from collectors.enrollment import enroll
from collectors.models import STATUSES
from collectors.reads import list_hosts
from collectors.storage import Database

ONLY_ERRORS = "BOD-23-01"
ONLY_MANUAL = "BOD-26-02"
DIRECTIVES = [{"id": d, "title": d, "issued": "2023-01-01", "digest": "sha256:" + c * 64}
              for d, c in (("HARDEN-30D", "a"), (ONLY_ERRORS, "e"), (ONLY_MANUAL, "f"))]
HOST_KEYS = ("hosts", "compliant_hosts", "non_compliant_hosts", "incomplete_hosts", "needs_review_hosts",
             "not_applicable_hosts", "unknown_hosts")


def report_fleet(server: Server, tokens: Tokens) -> dict[str, Agent]:
    """DOJ: ``judged`` passes HARDEN-30D, all its BOD-23-01 results are errors and its
    BOD-26-02 ones manual; ``failing`` fails HARDEN-30D; ``unjudged`` has HARDEN-30D errors."""
    plans = {
        "judged": [result("H.1", "pass"), result("H.2", "waived"),
                   result("E.1", "error", directive=ONLY_ERRORS), result("E.2", "error", directive=ONLY_ERRORS),
                   result("M.1", "manual", directive=ONLY_MANUAL)],
        "failing": [result("H.1", "fail"), result("H.2", "error")],
        "unjudged": [result("H.1", "error"), result("H.2", "pass"), result("M.1", "not_applicable",
                                                                        directive=ONLY_MANUAL)],
    }
    agents = {}
    for name, items in plans.items():
        agent = server.enroll(tokens.enroll["DOJ"], Agent(name, hostname=name, directives=DIRECTIVES))
        assert server.submit(agent, agent.full(items)).status_code == 200
        agents[name] = agent
    return agents


def hosts_of(doc: dict[str, Any], directive: str) -> tuple[int, ...]:
    d = next(d for d in doc["directives"] if d["directive"] == directive)
    return tuple(d[k] for k in HOST_KEYS)


def test_only_errors_is_incomplete_and_only_manual_needs_review(server: Server, tokens: Tokens) -> None:
    report_fleet(server, tokens)
    doc = server.request("GET", "/api/v1/rollups?agency=DOJ", tokens.national).json()
    doj = doc["agencies"][0]
    #                                     hosts  ok  fail  inc  rev  n/a  unknown
    assert hosts_of(doj, ONLY_ERRORS) == (1, 0, 0, 1, 0, 0, 0)
    assert hosts_of(doj, ONLY_MANUAL) == (2, 0, 0, 0, 1, 1, 0)
    assert hosts_of(doj, "HARDEN-30D") == (3, 1, 1, 1, 0, 0, 0)
    assert hosts_of(doc["overall"], ONLY_ERRORS) == (1, 0, 0, 1, 0, 0, 0)
    errors = next(d for d in doj["directives"] if d["directive"] == ONLY_ERRORS)
    assert (errors["not_yet_compliant_hosts"], errors["older_collector"]) == (1, False)

    side = server.request("GET", "/api/v1/rollups/agencies", tokens.national).json()
    rows = {d["directive"]: d["agencies"][0] for d in side["directives"]}
    assert {name: (r["compliant_hosts"], r["incomplete_hosts"], r["needs_review_hosts"]) for name, r in rows.items()} \
        == {"HARDEN-30D": (1, 1, 0), ONLY_ERRORS: (0, 1, 0), ONLY_MANUAL: (0, 0, 1)}


def test_history_keeps_the_statuses_of_each_day(server: Server, tokens: Tokens, db: Database) -> None:
    agents = report_fleet(server, tokens)
    yesterday = rollups.today() - dt.timedelta(days=1)
    rollups.snapshot(db, yesterday)
    judged = agents["judged"]
    server.submit(judged, judged.delta([result("E.1", "pass", directive=ONLY_ERRORS),
                                        result("E.2", "pass", directive=ONLY_ERRORS)]))
    doc = server.request("GET", f"/api/v1/history?directive={ONLY_ERRORS}&days=7", tokens.soc["DOJ"]).json()
    assert [(s["day"], s["hosts"], s["compliant_hosts"], s["incomplete_hosts"], s["not_yet_compliant_hosts"])
            for s in doc["series"]] == [(yesterday.isoformat(), 1, 0, 1, 1), (rollups.today().isoformat(), 1, 1, 0, 0)]
    text = server.request("GET", f"/api/v1/history?format=csv&days=7&directive={ONLY_ERRORS}", tokens.national).text
    table = list(csv.DictReader(io.StringIO(text)))
    assert [(r["day"], r["compliant_hosts"], r["incomplete_hosts"]) for r in table] == [
        (yesterday.isoformat(), "0", "1"), (rollups.today().isoformat(), "1", "0")]


def test_host_lists_filter_and_export_by_status(server: Server, tokens: Tokens) -> None:
    report_fleet(server, tokens)
    soc = tokens.soc["DOJ"]

    def names(query: str) -> set[str]:
        resp = server.request("GET", f"/api/v1/hosts{query}", soc)
        assert resp.status_code == 200, resp.text
        return {h["hostname"] for h in resp.json()["hosts"]}

    assert {h["hostname"]: (h["status"], h["compliant"])
            for h in server.request("GET", "/api/v1/hosts", soc).json()["hosts"]} == {
        "judged": ("incomplete", False), "failing": ("non_compliant", False), "unjudged": ("incomplete", False)}
    assert names("?status=compliant") == set()
    assert names("?status=incomplete") == {"judged", "unjudged"}
    assert names("?status=non_compliant") == names("?status=noncompliant") == {"failing"}
    assert names(f"?directive={ONLY_ERRORS}&status=incomplete") == {"judged"}
    assert names(f"?directive={ONLY_ERRORS}&status=compliant") == set()
    assert names(f"?directive={ONLY_MANUAL}&status=needs_review") == {"judged"}
    assert names(f"?directive={ONLY_MANUAL}&status=not_applicable") == {"unjudged"}
    assert names("?directive=HARDEN-30D&status=compliant") == {"judged"}
    resp = server.request("GET", "/api/v1/hosts?status=bogus", soc)
    assert resp.status_code == 400 and resp.json()["path"] == "$.query.status"
    assert "needs_review" in resp.json()["error"]

    exported = list(csv.DictReader(io.StringIO(server.request("GET", "/api/v1/hosts?format=csv", soc).text)))
    assert {(r["hostname"], r["status"], r["compliant"]) for r in exported} == {
        ("judged", "incomplete", "False"), ("failing", "non_compliant", "False"), ("unjudged", "incomplete", "False")}

    detail = server.request("GET", "/api/v1/hosts/judged", soc).json()
    assert {(d["directive"], d["status"]) for d in detail["directives"]} == {
        ("HARDEN-30D", "compliant"), (ONLY_ERRORS, "incomplete"), (ONLY_MANUAL, "needs_review")}


def test_the_status_filter_agrees_with_the_contract_for_every_mix(db: Database, tokens: Tokens) -> None:
    """One host per set of statuses present (all 63, and one host that never reported): each
    filter lists exactly the hosts agent.contract.host_status gives that status, and the
    counters count them so."""
    with db.read() as conn:
        enroller = lookup(conn, tokens.enroll["DOJ"])
    expected: dict[str, HostStatus] = {}
    for n in range(1, len(STATUSES) + 1):
        for present in itertools.combinations(STATUSES, n):
            name = "h-" + "-".join(present)
            token = enroll(db, enroller, {"host_id": name, "hostname": name})["token"]
            with db.read() as conn:
                principal = lookup(conn, token)
            agent = Agent(name, hostname=name, directives=DIRECTIVES)
            assert ingest(db, principal, agent.full([result(f"H.{s}", s) for s in present]))[1]["status"] == "accepted"
            expected[name] = host_status({s: 1 for s in present})
    enroll(db, enroller, {"host_id": "never", "hostname": "never"})
    with db.read() as conn:
        for status in HostStatus:
            listed = list_hosts(conn, None, status=status.value, limit=1000)
            assert {h["hostname"] for h in listed["hosts"]} == {n for n, s in expected.items() if s is status}, status
            assert all(h["status"] == status.value for h in listed["hosts"])
        doc = rollups.rollup(conn, None, "HARDEN-30D")
    harden = doc["overall"]["directives"][0]
    assert {s.value: harden[f"{s.value}_hosts"] for s in HostStatus} == \
        {s.value: sum(1 for v in expected.values() if v is s) for s in HostStatus}
    assert harden["hosts"] == len(expected) == 63

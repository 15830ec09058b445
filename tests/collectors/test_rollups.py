"""Rollups and history come from counters kept at ingest; they must equal a recount of the raw results."""
from __future__ import annotations

import datetime as dt
import random
from typing import Any

from tests.collectors.collector_support import Agent, Server, Tokens, from_counters, recount, result

from agent.contract import HostStatus
from collectors import rollups
from collectors.storage import Database

PAST, FUTURE = "2020-01-01", "2999-01-01"


def fleet(server: Server, tokens: Tokens) -> list[Agent]:
    """Three DOJ hosts and one DOE host with known results."""
    plans = {
        ("DOJ", "doj-1"): [result("H.1", "pass", due=PAST), result("H.2", "fail", due=PAST),
                           result("B.1", "pass", directive="BOD-23-02", due=FUTURE)],
        ("DOJ", "doj-2"): [result("H.1", "fail", due=PAST), result("H.2", "fail", due=PAST),
                           result("B.1", "manual", directive="BOD-23-02", due=FUTURE)],
        ("DOJ", "doj-3"): [result("H.1", "pass", due=PAST), result("H.2", "waived", due=PAST),
                           result("B.1", "fail", directive="BOD-23-02", due=FUTURE)],
        ("DOE", "doe-1"): [result("H.1", "fail", due=PAST), result("H.2", "pass", due=PAST)],
    }
    out = []
    for (agency, host), items in plans.items():
        agent = server.enroll(tokens.enroll[agency], Agent(host, hostname=host))
        assert server.submit(agent, agent.full(items)).status_code == 200
        out.append(agent)
    return out


def requirement(doc: dict[str, Any], directive: str, req: str) -> dict[str, Any]:
    d = next(d for d in doc["directives"] if d["directive"] == directive)
    return next(r for r in d["requirements"] if r["requirement"] == req)


def test_rollup_counts_overdue_and_percentages(server: Server, tokens: Tokens) -> None:
    fleet(server, tokens)
    doc = server.request("GET", "/api/v1/rollups?detail=true", tokens.national).json()
    assert [a["agency"] for a in doc["agencies"]] == ["DOE", "DOJ"]
    doj = next(a for a in doc["agencies"] if a["agency"] == "DOJ")
    h1 = requirement(doj, "HARDEN-30D", "H.1")
    assert h1["counts"] == {"pass": 2, "fail": 1, "error": 0, "not_applicable": 0, "waived": 0, "manual": 0}
    assert (h1["overdue"], h1["compliant_pct"], h1["due"]) == (1, 66.67, PAST)
    h2 = requirement(doj, "HARDEN-30D", "H.2")
    assert (h2["counts"]["fail"], h2["counts"]["waived"], h2["overdue"], h2["compliant_pct"]) == (2, 1, 2, 0.0)
    b1 = requirement(doj, "BOD-23-02", "B.1")
    assert (b1["overdue"], b1["compliant_pct"], b1["days_left"]) == (0, 50.0, (dt.date(2999, 1, 1) - rollups.today()).days)
    harden = next(d for d in doj["directives"] if d["directive"] == "HARDEN-30D")
    assert (harden["hosts"], harden["compliant_hosts"], harden["overdue"]) == (3, 1, 3)
    overall = next(d for d in doc["overall"]["directives"] if d["directive"] == "HARDEN-30D")
    assert (overall["hosts"], overall["compliant_hosts"], overall["counts"]["fail"], overall["overdue"]) == (4, 1, 4, 4)

    side = server.request("GET", "/api/v1/rollups/agencies?directive=HARDEN-30D", tokens.national).json()
    assert [(a["agency"], a["hosts"], a["compliant_hosts"]) for a in side["directives"][0]["agencies"]] == \
        [("DOE", 1, 0), ("DOJ", 3, 1)]

    csv_text = server.request("GET", "/api/v1/rollups?format=csv&agency=DOJ", tokens.admin).text
    lines = csv_text.strip().splitlines()
    assert lines[0].startswith("agency,directive,requirement,pass,fail") and len(lines) == 4


def test_counters_equal_a_recount_after_random_deltas(server: Server, tokens: Tokens, db: Database) -> None:
    rng = random.Random(7)
    keys = [f"H.{i}" for i in range(12)] + [f"B.{i}" for i in range(4)]
    statuses = ["pass", "fail", "error", "not_applicable", "waived", "manual"]
    agents = [server.enroll(tokens.enroll[rng.choice(["DOJ", "DOE"])], Agent(f"h{i}")) for i in range(6)]

    def make(key: str) -> dict[str, Any]:
        directive = "BOD-23-02" if key.startswith("B") else "HARDEN-30D"
        return result(key, rng.choice(statuses), directive=directive, due=rng.choice([PAST, FUTURE, None]))

    for agent in agents:
        assert server.submit(agent, agent.full([make(k) for k in rng.sample(keys, 10)])).status_code == 200
    for _ in range(60):  # bounded: a fixed number of random deltas and full reports
        agent = rng.choice(agents)
        if rng.random() < 0.15:
            report = agent.full([make(k) for k in rng.sample(keys, rng.randint(1, len(keys)))])
        else:
            present = list(agent.state)
            removed = rng.sample(present, rng.randint(0, min(2, len(present) - 1)))
            changes = [make(k) for k in rng.sample(keys, 3) if k not in removed]
            report = agent.delta(changes, removed)
        resp = server.submit(agent, report)
        assert resp.status_code == 200 and resp.json()["status"] == "accepted", resp.text
    assert from_counters(db) == recount(db)
    # Host counts per directive agree with the hosts' own summaries.
    doc = server.request("GET", "/api/v1/rollups", tokens.admin).json()
    for agency in doc["agencies"]:
        for d in agency["directives"]:
            listed = server.request("GET", f"/api/v1/hosts?agency={agency['agency']}&directive={d['directive']}",
                                    tokens.admin).json()
            assert d["hosts"] == listed["total"]
            assert d["compliant_hosts"] == sum(1 for h in listed["hosts"] if h["compliant"])
            assert {s.value: d[f"{s.value}_hosts"] for s in HostStatus} == {
                s.value: sum(1 for h in listed["hosts"] if h["status"] == s.value) for s in HostStatus}


def test_history_snapshots_and_live_today(server: Server, tokens: Tokens, db: Database) -> None:
    agents = fleet(server, tokens)
    yesterday = rollups.today() - dt.timedelta(days=1)
    rollups.snapshot(db, yesterday)  # as the serve loop would have recorded it yesterday
    doj = agents[1]
    server.submit(doj, doj.delta([result("H.1", "pass", due=PAST), result("H.2", "pass", due=PAST)]))
    doc = server.request("GET", "/api/v1/history?directive=HARDEN-30D&agency=DOJ&days=7", tokens.soc["DOJ"]).json()
    assert [(s["day"], s["counts"]["fail"], s["hosts"], s["compliant_hosts"]) for s in doc["series"]] == [
        (yesterday.isoformat(), 3, 3, 1), (rollups.today().isoformat(), 1, 3, 2)]
    one = server.request("GET", "/api/v1/history?directive=HARDEN-30D&requirement=H.2&days=7", tokens.national).json()
    assert [(s["counts"]["fail"], s["overdue"]) for s in one["series"]] == [(2, 2), (1, 1)]
    csv_text = server.request("GET", "/api/v1/history?format=csv&days=2", tokens.national).text
    assert csv_text.splitlines()[0].startswith("day,directive,overdue,compliant_pct")


def test_hosts_filters_changes_and_exports(server: Server, tokens: Tokens) -> None:
    agents = fleet(server, tokens)
    soc = tokens.soc["DOJ"]
    names = lambda q: sorted(h["hostname"] for h in server.request("GET", f"/api/v1/hosts{q}", soc).json()["hosts"])  # noqa: E731
    assert names("") == ["doj-1", "doj-2", "doj-3"]
    assert names("?status=compliant") == []
    assert names("?status=noncompliant&directive=HARDEN-30D") == ["doj-1", "doj-2"]
    assert names("?directive=HARDEN-30D&status=compliant") == ["doj-3"]
    assert names("?overdue=true") == ["doj-1", "doj-2"]
    assert names("?directive=BOD-23-02&overdue=false") == ["doj-1", "doj-2", "doj-3"]
    assert server.request("GET", "/api/v1/hosts?status=bogus", soc).status_code == 400
    resp = server.request("GET", "/api/v1/hosts?limit=0", soc)
    assert resp.status_code == 400 and resp.json()["path"] == "$.query.limit"

    doj1 = agents[0]
    server.submit(doj1, doj1.delta([result("H.1", "fail", due=PAST), result("H.2", "pass", due=PAST)]))
    changes = server.request("GET", "/api/v1/changes", soc).json()["changes"]
    assert {(c["hostname"], c["key"], c["from"], c["to"]) for c in changes} == {
        ("doj-1", "H.1", "pass", "fail"), ("doj-1", "H.2", "fail", "pass")}
    regress = server.request("GET", "/api/v1/changes?only=regressions", soc).json()["changes"]
    assert [(c["key"], c["to"]) for c in regress] == [("H.1", "fail")]
    later = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)).isoformat()
    assert server.request("GET", "/api/v1/changes", soc, params={"since": later}).json()["changes"] == []

    rows = server.request("GET", "/api/v1/export/results?status=fail", soc).json()
    assert {(r["hostname"], r["key"]) for r in rows} == {("doj-1", "H.1"), ("doj-2", "H.1"), ("doj-2", "H.2"),
                                                         ("doj-3", "B.1")}
    csv_lines = server.request("GET", "/api/v1/export/results?format=csv", soc).text.strip().splitlines()
    assert csv_lines[0].split(",")[:4] == ["agency", "host_id", "hostname", "key"] and len(csv_lines) == 10
    hosts_csv = server.request("GET", "/api/v1/hosts?format=csv", soc).text.strip().splitlines()
    assert len(hosts_csv) == 4 and "host_id" in hosts_csv[0]


def test_national_view_lists_requirements_overall_and_per_agency_on_request(server: Server, tokens: Tokens) -> None:
    fleet(server, tokens)
    doc = server.request("GET", "/api/v1/rollups", tokens.national).json()
    assert doc["detail"] is False
    assert all("requirements" not in d for a in doc["agencies"] for d in a["directives"])
    overall = next(d for d in doc["overall"]["directives"] if d["directive"] == "HARDEN-30D")
    assert {r["requirement"]: r["counts"]["fail"] for r in overall["requirements"]} == {"H.1": 2, "H.2": 2}
    one = server.request("GET", "/api/v1/rollups?agency=DOE", tokens.national).json()
    assert one["detail"] is True and [a["agency"] for a in one["agencies"]] == ["DOE"]
    assert one["agencies"][0]["directives"][0]["requirements"][0]["requirement"] == "H.1"

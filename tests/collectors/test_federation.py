"""Federation between two real collectors: an agency collector forwards its rollups to a
national one, which shows agencies side by side; host detail stays in the agency."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

import pytest

from collectors import UpstreamError
from collectors.admin import add_agency, issue
from collectors.federation import Forwarder
from collectors.storage import Database
from tests.collectors.collector_support import Agent, Server, Tokens, provision, result


@pytest.fixture
def national(tmp_path: Path, db_url: str) -> Database:
    """The national collector's own database: SQLite while the agency side runs on each backend."""
    db = Database(f"sqlite:///{tmp_path}/national.sqlite3")
    db.migrate()
    return db


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
                               json={"version": "1", "requirements": [{"directive": "D", "requirement": "R",
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

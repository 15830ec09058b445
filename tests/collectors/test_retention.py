"""Retention on SQLite and PostgreSQL: old reports, events and history go in batches; a host's
current report stays (its replay is still "duplicate"); recent events stay; a dry run deletes
nothing; the command line and serve report counts and refuse a bad --retain-days in one line."""
from __future__ import annotations

import datetime as dt
import logging
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from agent.cli import main
from collectors import rollups
from collectors.models import events, history_directives, history_requirements, hosts, reports
from collectors.retention import DEFAULT_RETAIN_DAYS, PRUNE_LOCK, prune
from collectors.storage import Database
from tests.collectors.collector_support import Agent, Server, Tokens, free_port, result
from tests.collectors.test_ingest import dump

pytestmark = pytest.mark.slow  # the collector command line as a process

NOW = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
OLD = NOW - dt.timedelta(days=DEFAULT_RETAIN_DAYS + 30)


def run(*args: str) -> tuple[int, str, str]:
    out = CliRunner().invoke(main, ["collector", *args])
    return out.exit_code, out.stdout, out.stderr


def history_rows(db: Database, days_ago: int) -> None:
    day = (rollups.today() - dt.timedelta(days=days_ago)).isoformat()
    with db.write() as conn:
        conn.execute(history_requirements.insert().values(day=day, agency_id=1, directive="D", requirement="D.1",
                                                          n_pass=1))
        conn.execute(history_directives.insert().values(day=day, agency_id=1, directive="D", hosts=1))


def age(db: Database, report_id: str, at: dt.datetime = OLD) -> None:
    """Make this report, and the events it caused, look received long ago."""
    with db.write() as conn:
        conn.execute(reports.update().where(reports.c.report_id == report_id).values(received_at=at))
        conn.execute(events.update().where(events.c.report_id == report_id).values(at=at))


def fleet(server: Server, tokens: Tokens, db: Database, *, same_time: bool = True) -> dict[str, Any]:
    """Host A: three reports, the first two old (with their events), the last one recent.
    Host B: one report, old, and still its current one (a host that went quiet).
    History: one day older than the history endpoint can show, one recent day.
    ``same_time``: the old reports share one timestamp (else A's come first, oldest first)."""
    a = server.enroll(tokens.enroll["DOJ"], Agent("host-a"))
    b = server.enroll(tokens.enroll["DOE"], Agent("host-b", hostname="host-b"))
    sent: dict[str, Any] = {}
    for name, agent, report in (("a1", a, lambda: a.full([result("H.1", "pass"), result("H.2", "pass")])),
                                ("a2", a, lambda: a.delta([result("H.1", "fail")])),
                                ("a3", a, lambda: a.delta([result("H.2", "fail")])),
                                ("b1", b, lambda: b.full([result("H.1", "fail")]))):
        sent[name] = report()
        assert server.submit(agent, sent[name]).json()["status"] == "accepted"
    for i, name in enumerate(("a1", "a2", "b1")):
        age(db, sent[name]["report_id"], OLD if same_time else OLD - dt.timedelta(days=3 - i))
    history_rows(db, rollups.HISTORY_MAX_DAYS + 5)
    history_rows(db, 3)
    return {"a": a, "b": b, **sent}


def report_ids(db: Database) -> set[str]:
    with db.read() as conn:
        return set(conn.execute(sa.select(reports.c.report_id)).scalars())


def event_reports(db: Database) -> list[str]:
    with db.read() as conn:
        return sorted(conn.execute(sa.select(events.c.report_id)).scalars())


def test_prune_keeps_current_reports_and_the_window(server: Server, tokens: Tokens, db: Database) -> None:
    sent = fleet(server, tokens, db)
    a1, a2, a3, b1 = (sent[k]["report_id"] for k in ("a1", "a2", "a3", "b1"))
    assert event_reports(db) == sorted([a2, a3])

    before = dump(db)
    dry = prune(db, DEFAULT_RETAIN_DAYS, dry_run=True)
    assert (dry.reports, dry.events, dry.history_requirements, dry.history_directives, dry.kept_current) == \
        (2, 1, 1, 1, 1)
    assert dump(db) == before  # the dry run deleted nothing

    # One row per batch: every loop goes round several times on both databases, and the old
    # reports, all received at the same instant, are told apart by their ids.
    done = prune(db, DEFAULT_RETAIN_DAYS, batch=1, pause=0)
    assert (done.reports, done.events, done.history_requirements, done.history_directives, done.kept_current) == \
        (2, 1, 1, 1, 1)
    assert done.complete
    assert report_ids(db) == {a3, b1}  # b1 is old but host B's current report
    assert event_reports(db) == [a3]
    with db.read() as conn:
        assert conn.execute(sa.select(history_requirements.c.day)).scalars().all() == \
            [(rollups.today() - dt.timedelta(days=3)).isoformat()]
        assert len(conn.execute(sa.select(history_directives)).all()) == 1
        assert set(conn.execute(sa.select(hosts.c.last_report_id)).scalars()) == {a3, b1}
    assert prune(db, DEFAULT_RETAIN_DAYS).deleted == 0

    # Replays of the current reports are still answered "duplicate", and nothing changes.
    before = dump(db)
    for agent, report in ((sent["a"], sent["a3"]), (sent["b"], sent["b1"])):
        resp = server.submit(agent, report)
        assert resp.status_code == 200 and resp.json()["status"] == "duplicate", resp.text
    assert dump(db) == before
    # A replay of a pruned, superseded report is refused as out of order (the agent resyncs).
    resp = server.submit(sent["a"], sent["a2"])
    assert resp.status_code == 409 and resp.json()["reason"] == "out_of_order"
    # The delta protocol goes on from the kept base.
    a = sent["a"]
    assert server.submit(a, a.delta([result("H.1", "pass")])).json()["status"] == "accepted"
    # Host detail, rollups and changes within the window are untouched.
    doc = server.request("GET", "/api/v1/changes?since=2000-01-01T00:00:00Z", tokens.admin).json()
    assert [c["report_id"] for c in doc["changes"]][1:] == [a3]


def test_prune_stops_at_the_batch_cap_and_the_next_run_continues(server: Server, tokens: Tokens,
                                                                  db: Database) -> None:
    fleet(server, tokens, db, same_time=False)
    first = prune(db, DEFAULT_RETAIN_DAYS, batch=1, pause=0, max_batches=1)
    assert (first.complete, first.reports, first.events) == (False, 1, 0)
    rest = prune(db, DEFAULT_RETAIN_DAYS, batch=1, pause=0)
    assert (rest.complete, rest.reports, rest.events, rest.history_requirements) == (True, 1, 1, 1)


def test_only_one_process_prunes_at_a_time(server: Server, tokens: Tokens, db: Database) -> None:
    if db.is_sqlite:
        pytest.skip("SQLite has one writer: a second pruner simply waits its turn")
    fleet(server, tokens, db)
    with db.write() as conn:  # another collector process in the middle of a batch
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({PRUNE_LOCK})")
        other = Database(db.url, pool_size=1)
        try:
            skipped = prune(other, DEFAULT_RETAIN_DAYS, pause=0, wait_for_lock=False)
        finally:
            other.dispose()
    assert (skipped.complete, skipped.deleted) == (False, 0)
    assert prune(db, DEFAULT_RETAIN_DAYS, pause=0, wait_for_lock=False).reports == 2


def test_prune_command_counts_and_dry_run(server: Server, tokens: Tokens, db: Database) -> None:
    fleet(server, tokens, db)
    before = dump(db)
    code, out, err = run("prune", "--db", db.url, "--dry-run")
    assert (code, err) == (0, ""), err
    assert out.splitlines()[0].startswith("reports: would delete 2 received before ")
    assert "kept 1 older that are hosts' current reports" in out
    assert "events: would delete 1 " in out and "history: would delete 1 requirement and 1 directive rows" in out
    assert dump(db) == before
    code, out, _ = run("prune", "--db", db.url, "--retain-days", "10000")
    assert code == 0 and out.startswith("reports: deleted 0 ") and dump(db) == before
    code, out, _ = run("prune", "--db", db.url)
    assert code == 0 and out.startswith("reports: deleted 2 ") and "events: deleted 1 " in out
    assert "history: deleted 1 requirement and 1 directive rows" in out
    code, out, _ = run("prune", "--db", db.url, "--retain-days", "1")
    assert code == 0 and out.startswith("reports: deleted 0 ")


@pytest.mark.parametrize("value", ["0", "-3", "abc", "1.5", "", "36501", "\u00b2"])
def test_bad_retain_days_is_one_line_and_exit_2(value: str, tmp_path: Path) -> None:
    for command in ("prune", "serve"):
        code, out, err = run(command, "--db", f"sqlite:///{tmp_path}/c.sqlite3", "--retain-days", value)
        assert code == 2, (command, out, err)
        assert err.count("\n") == 1 and err.startswith("fedharden: --retain-days: a whole number of days"), err


def test_the_default_is_documented_in_the_help() -> None:
    for command in ("prune", "serve"):
        code, out, _ = run(command, "--help")
        assert code == 0 and f"default: {DEFAULT_RETAIN_DAYS}" in out.replace("\n", " ").replace("  ", " ")


def test_serve_prunes_in_the_background_and_logs_the_counts(server: Server, tokens: Tokens, db: Database,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    sent = fleet(server, tokens, db)
    caplog.set_level(logging.INFO, logger="fedharden.collector.retention")
    with Server(db, prune_interval=3600, retain_days=DEFAULT_RETAIN_DAYS):
        deadline = time.monotonic() + 20
        while report_ids(db) != {sent["a3"]["report_id"], sent["b1"]["report_id"]}:
            assert time.monotonic() < deadline, "the retention job did not run"
            time.sleep(0.1)
        while not any("retention: reports: deleted 2" in r.getMessage() for r in caplog.records):
            assert time.monotonic() < deadline, caplog.text
            time.sleep(0.1)
    assert any(r.levelno == logging.INFO and "events: deleted 1" in r.getMessage() for r in caplog.records)


def test_the_real_serve_command_logs_retention_at_info(server: Server, tokens: Tokens, db: Database,
                                                       tmp_path: Path) -> None:
    fleet(server, tokens, db)
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "agent.cli", "collector", "serve", "--db", db.url, "--port",
                                 str(port), "--retain-days", "30"], stdout=fh, stderr=fh, stdin=subprocess.DEVNULL,
                                cwd=Path(__file__).parents[2])
        try:
            deadline = time.monotonic() + 30
            while "retention: reports: deleted 2" not in log.read_text():
                assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    line = next(x for x in log.read_text().splitlines() if "retention:" in x)
    assert line.startswith("INFO:") and "(30 days)" in line, line

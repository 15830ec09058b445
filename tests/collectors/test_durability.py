"""An acknowledged report survives a crash of PostgreSQL: agents send deltas to the real
collector while the database is restarted with ``-m immediate`` (no shutdown checkpoint, as
after a crash); every report answered "accepted" is then found stored, with its transitions.

The cluster is this test's own (initdb in a temporary directory, on a free port, run as the
postgres user, stopped at the end), so the restart touches no server other tests share."""
from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest
import requests
from tests.collectors.collector_support import Agent, Server, free_port, provision, result

from collectors.storage import Database

pytestmark = pytest.mark.slow  # restarts a real PostgreSQL cluster

PG_BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)), None)
AGENTS = 8
RESULTS = [result(f"HARDEN-30D.{i}", "pass") for i in range(1, 21)]


def as_postgres(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["runuser", "-u", "postgres", "--", *argv], capture_output=True, text=True, timeout=120,
                          check=True)


@pytest.fixture
def own_postgres() -> Iterator[tuple[str, Path]]:
    """A PostgreSQL cluster of this test alone: (URL, data directory)."""
    if PG_BIN is None or os.geteuid() != 0:
        pytest.skip("needs Debian's postgresql package and root (to run the server as the postgres user)")
    postgres = pwd.getpwnam("postgres")
    base = Path(tempfile.mkdtemp(prefix="fedharden-pg-"))  # not under pytest's root-only folder
    os.chown(base, postgres.pw_uid, postgres.pw_gid)
    data = base / "data"
    as_postgres(str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync")
    port = free_port()
    options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=on"
    as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(base / "log"), "-w", "start")
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres", data
    finally:
        subprocess.run(["runuser", "-u", "postgres", "--", str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate",
                        "-w", "stop"], capture_output=True, timeout=120, check=False)
        shutil.rmtree(base, ignore_errors=True)


def test_no_acknowledged_report_is_lost_when_postgresql_restarts_immediately(own_postgres: tuple[str, Path]) -> None:
    url, data = own_postgres
    db = Database(url, pool_size=4)
    db.migrate()
    tokens = provision(db)
    acknowledged: dict[str, int] = {}  # report id -> results it changed
    lock = threading.Lock()
    stop = threading.Event()
    with Server(db, max_body=1024 * 1024, token_ttl=5) as server:
        agents = [server.enroll(tokens.enroll["DOJ"], Agent(f"crash-{i}")) for i in range(AGENTS)]
        for agent in agents:
            assert server.submit(agent, agent.full(RESULTS)).json()["status"] == "accepted"

        def send(agent: Agent) -> None:
            http = requests.Session()
            n = 0
            while not stop.is_set():
                n += 1
                key = RESULTS[n % len(RESULTS)]["key"]
                status = "fail" if agent.state[key]["status"] == "pass" else "pass"
                report = agent.delta([result(key, status)]) if agent.last_report_id else agent.full(RESULTS)
                try:
                    resp = http.post(server.url + "/api/v1/reports", json=report, timeout=30,
                                     headers={"Authorization": f"Bearer {agent.token}"})
                except requests.RequestException:
                    agent.last_report_id = None  # unknown outcome: realign with a full report
                    time.sleep(0.05)
                    continue
                if resp.status_code == 200 and resp.json()["status"] == "accepted":
                    agent.accepted(report)
                    with lock:
                        acknowledged[report["report_id"]] = len(report.get("changes", []))
                else:  # refused while the database was down, or resync after it: a full report next
                    agent.last_report_id = None
                    time.sleep(0.05)

        threads = [threading.Thread(target=send, args=(a,), daemon=True) for a in agents]
        for t in threads:
            t.start()
        time.sleep(2.0)
        with lock:
            before = len(acknowledged)
        as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(data.parent / "log"), "-m", "immediate", "-w",
                    "restart")
        time.sleep(3.0)
        stop.set()
        for t in threads:
            t.join(timeout=60)
    with lock:
        after = len(acknowledged)
    assert before > 50 and after > before, (before, after)  # reports flowed before and after the crash
    db.dispose()  # its connections died with the server; read through new ones
    with db.read() as conn:
        stored = {r for (r,) in conn.exec_driver_sql("SELECT report_id FROM reports")}
        transitions = dict(conn.exec_driver_sql(
            "SELECT report_id, count(*) FROM events WHERE old_status IS NOT NULL GROUP BY report_id").all())
    db.dispose()
    lost = sorted(set(acknowledged) - stored)
    print(f"durability: {len(acknowledged)} reports acknowledged ({before} before the restart), "
          f"{len(set(acknowledged) & stored)} stored, {len(lost)} lost")
    assert lost == [], f"{len(lost)} of {len(acknowledged)} acknowledged reports lost"
    missing = {r: n for r, n in acknowledged.items() if n and transitions.get(r, 0) != n}
    assert missing == {}, f"{len(missing)} acknowledged deltas lost their transitions"

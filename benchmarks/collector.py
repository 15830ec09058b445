"""Collector benchmark: ingest throughput and rollup latency, on SQLite and PostgreSQL.

    python benchmarks/collector.py            # everything; results in benchmarks/results/collector.json
    python benchmarks/collector.py --quick    # a small run to check the benchmark itself

Ingest: the real server (``fedharden collector serve``, a separate process) receives full
reports, then deltas, from many concurrent simulated agents over keep-alive HTTP connections.
Bodies are built before the clock starts. Baseline measured in the same run: ``GET /healthz``
with the same client and concurrency, the ceiling of the HTTP stack on this machine.

Rollups: 100,000 hosts x 100 requirements are bulk-loaded into the results table directly
(server-side SQL), the counters built from them, and the rollup answered from the counters, in
process and over HTTP. Baseline: the same numbers computed by scanning the raw results. Then
deltas at that size: simulated agents for 2,000 of those hosts, each holding the state the
database holds for its host, send deltas as in the ingest phase.

PostgreSQL: a database is created for the run on 127.0.0.1:5432 and dropped at the end.
"""
from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import random
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from agent.contract import state_digest, summarize  # noqa: E402
from collectors import rollups  # noqa: E402
from collectors.admin import add_agency, issue  # noqa: E402
from collectors.auth import hash_secret, new_secret, now  # noqa: E402
from collectors.plan import directives_digest  # noqa: E402
from agent.contract import HostStatus  # noqa: E402
from collectors.models import (HOST_STATUS_COLUMNS, SHARDS, STATUSES, agg_directives, host_directives,  # noqa: E402
                               hosts, tokens)
from collectors.host_filters import status_condition  # noqa: E402
from collectors.storage import Database  # noqa: E402

PG_ADMIN = os.environ.get("FEDHARDEN_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
RESULTS = ROOT / "benchmarks" / "results" / "collector.json"
DIRECTIVES = [{"id": "HARDEN-30D", "title": "Hardening", "issued": "2026-06-02", "digest": "sha256:" + "a" * 64}]


# ------------------------------------------------------------------ databases


class Scratch:
    """A database made for one measurement and removed after it."""

    def __init__(self, backend: str, workdir: Path) -> None:
        self.backend = backend
        self.name = f"fedharden_bench_{secrets.token_hex(4)}"
        if backend == "sqlite":
            self.url = f"sqlite:///{workdir / self.name}.sqlite3"
        else:
            self.admin = Database(PG_ADMIN, pool_size=1)
            with self.admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql(f'CREATE DATABASE "{self.name}"')
            self.url = PG_ADMIN.rsplit("/", 1)[0] + f"/{self.name}"
        self.db = Database(self.url, pool_size=4)
        self.db.migrate()

    def backend_cpu_seconds(self) -> float:
        """CPU used so far by the PostgreSQL backends serving this database (0 on SQLite)."""
        if self.backend == "sqlite":
            return 0.0
        import psutil

        with self.admin.engine.connect() as conn:
            pids = [r[0] for r in conn.execute(sa.text("SELECT pid FROM pg_stat_activity WHERE datname = :d"),
                                               {"d": self.name})]
        total = 0.0
        for pid in pids:
            try:
                t = psutil.Process(pid).cpu_times()
                total += t.user + t.system
            except psutil.Error:
                pass
        return total

    def analyze(self) -> None:
        """Planner statistics as a running collector has them: PostgreSQL's autovacuum analyzes
        a table within a minute of a load (autovacuum_naptime), which a benchmark phase of
        seconds would not wait for; a SQLite collector's are refreshed when it starts
        (collectors.storage.Database.analyze), as after a restart with these tables."""
        with self.db.write() as conn:
            conn.exec_driver_sql("ANALYZE")

    def size_bytes(self) -> int:
        if self.backend == "sqlite":
            path = Path(self.url.removeprefix("sqlite:///"))
            return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
        with self.db.read() as conn:
            return int(conn.exec_driver_sql("SELECT pg_database_size(current_database())").scalar_one())

    def drop(self) -> None:
        self.db.dispose()
        if self.backend == "sqlite":
            path = Path(self.url.removeprefix("sqlite:///"))
            for p in path.parent.glob(path.name + "*"):
                p.unlink()
            return
        with self.admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        self.admin.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Collector:
    """The real collector in its own process (``fedharden collector serve``)."""

    def __init__(self, url: str, workers: int, pool: int = 16, tree: Path = ROOT) -> None:
        """``tree``: the checkout whose code serves (another version's, to compare in one run)."""
        self.port = free_port()
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "agent.cli", "collector", "serve", "--db", url, "--port", str(self.port),
             "--workers", str(workers), "--db-pool", str(pool), "--snapshot-interval", "0", "--log-level", "warning"],
            cwd=tree, stdout=self.log, stderr=self.log, env={**os.environ, "PYTHONPATH": str(tree)})
        deadline = time.monotonic() + 90
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{self.port}/healthz", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.log.seek(0)
                raise RuntimeError(f"collector did not start: {self.log.read().decode()[-2000:]}")
            time.sleep(0.2)
        time.sleep(1.0)  # every worker process up, not just the first

    def cpu_seconds(self) -> float:
        """CPU used so far by the server and its worker processes."""
        import psutil

        procs = [psutil.Process(self.proc.pid)]
        procs += procs[0].children(recursive=True)
        return sum(p.cpu_times().user + p.cpu_times().system for p in procs)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


# ------------------------------------------------------------------ a cheap HTTP/1.1 client


def request_bytes(method: str, path: str, token: str | None = None, body: bytes = b"") -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    if token:
        head += f"Authorization: Bearer {token}\r\n"
    if body:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return (head + "\r\n").encode() + body


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, req: bytes) -> tuple[int, bytes]:
    writer.write(req)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    return status, await reader.readexactly(length)


def run_load(port: int, lanes: list[list[bytes]], expect: bytes) -> dict[str, Any]:
    """Send each lane's requests in order on its own keep-alive connection, all lanes at once."""
    outcomes: Counter[str] = Counter()

    async def lane(reqs: list[bytes]) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for req in reqs:
                status, body = await _exchange(reader, writer, req)
                outcomes["ok" if status == 200 and expect in body else f"{status} {body[:80]!r}"] += 1
        finally:
            writer.close()

    async def main() -> float:
        start = time.perf_counter()
        await asyncio.gather(*(lane(reqs) for reqs in lanes if reqs))
        return time.perf_counter() - start

    cpu = time.process_time()
    elapsed = asyncio.run(main())
    total = sum(outcomes.values())
    return {"requests": total, "seconds": round(elapsed, 3), "per_second": round(total / elapsed, 1),
            "ok": outcomes["ok"], "other": {k: v for k, v in outcomes.items() if k != "ok"},
            "client_cpu_seconds": round(time.process_time() - cpu, 2)}


# ------------------------------------------------------------------ ingest


def make_result(key: str, status: str) -> dict[str, Any]:
    return {"key": key, "directive": "HARDEN-30D", "requirement": key, "title": f"{key} holds", "severity": "high",
            "status": status, "message": "", "evidence": [{"expected": "secure value", "actual": status,
                                                            "where": "/etc/ssh/sshd_config:12"}],
            "due": "2026-07-02", "overdue": False, "days_left": None, "references": {"nist_800_53": ["CM-6"]},
            "remediation": "Set the value and reload the service."}


class SimAgent:
    def __init__(self, host_id: str, token: str, rng: random.Random, requirements: int) -> None:
        self.host_id, self.token, self.rng = host_id, token, rng
        self.state = {f"HARDEN-30D.{i}": make_result(f"HARDEN-30D.{i}", "fail" if rng.random() < 0.2 else "pass")
                      for i in range(requirements)}
        self.sequence = 0
        self.last: str | None = None

    def envelope(self, kind: str) -> dict[str, Any]:
        self.sequence += 1
        stamp = now().isoformat(timespec="seconds") + "Z"
        return {"schema_version": "1.0", "kind": kind, "report_id": f"r-{secrets.token_hex(12)}", "generated_at": stamp,
                "sequence": self.sequence, "agent": {"name": "fedharden", "version": "0.1.0"},
                "host": {"id": self.host_id, "hostname": self.host_id, "target": "local"},
                "scan": {"started_at": stamp, "finished_at": stamp, "live": True}, "directives": DIRECTIVES}

    def full(self) -> bytes:
        report = self.envelope("full")
        items = list(self.state.values())
        report.update(results=items, summary=summarize(items), state_digest=state_digest(items))
        self.last = report["report_id"]
        return request_bytes("POST", "/api/v1/reports", self.token, json.dumps(report).encode())

    def delta(self) -> bytes:
        report = self.envelope("delta")
        changes = []
        for key in self.rng.sample(sorted(self.state), self.rng.randint(1, 3)):
            flipped = "pass" if self.state[key]["status"] == "fail" else "fail"
            self.state[key] = make_result(key, flipped)
            changes.append(self.state[key])
        items = list(self.state.values())
        report.update(base=self.last, changes=changes, removed=[], summary=summarize(items),
                      state_digest=state_digest(items))
        self.last = report["report_id"]
        return request_bytes("POST", "/api/v1/reports", self.token, json.dumps(report).encode())


def create_agents(db: Database, count: int, requirements: int, seed: int) -> list[SimAgent]:
    """Hosts and their agent tokens written directly (enrollment is not what is measured)."""
    rng = random.Random(seed)
    with db.write() as conn:
        agency = add_agency(conn, "BENCH", "Benchmark agency")
        at = now()
        conn.execute(hosts.insert(), [{"host_id": f"host-{i:06d}", "agency_id": agency, "hostname": f"host-{i:06d}",
                                        "enrolled_at": at, "shard": i % SHARDS} for i in range(count)])
        pks = dict(conn.execute(sa.select(hosts.c.host_id, hosts.c.id)).all())
        secrets_ = {h: new_secret("agent") for h in pks}
        conn.execute(tokens.insert(), [{"role": "agent", "agency_id": agency, "host_pk": pk, "name": "bench",
                                         "hash": hash_secret(secrets_[h]), "created_at": at} for h, pk in pks.items()])
    return [SimAgent(h, secrets_[h], rng, requirements) for h in sorted(pks)]


def measured(server: Collector, scratch: Scratch, load: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """A load phase plus the CPU it cost the server and the database, per request: figures that
    hold better than requests per second when the machine is shared."""
    server_cpu, db_cpu = server.cpu_seconds(), scratch.backend_cpu_seconds()
    out = load()
    server_cpu, db_cpu = server.cpu_seconds() - server_cpu, scratch.backend_cpu_seconds() - db_cpu
    n = max(out["requests"], 1)
    out.update(server_cpu_ms_per_request=round(server_cpu * 1000 / n, 3),
               database_cpu_ms_per_request=round(db_cpu * 1000 / n, 3),
               client_cpu_ms_per_request=round(out["client_cpu_seconds"] * 1000 / n, 3),
               loadavg_after=round(os.getloadavg()[0], 2))
    return out


def lanes_of(agents: list[SimAgent], count: int, report: Callable[[SimAgent], bytes],
             rounds: int = 1) -> list[list[bytes]]:
    """Request bytes built before the clock starts; each host's reports in order on one lane."""
    lanes: list[list[bytes]] = [[] for _ in range(count)]
    for _ in range(rounds):
        for i, agent in enumerate(agents):
            lanes[i % count].append(report(agent))
    return lanes


def healthz_baseline(server: Collector, scratch: Scratch, lanes: int, per_lane: int) -> dict[str, Any]:
    """``GET /healthz`` with the same client and concurrency: the HTTP stack's ceiling here."""
    health = request_bytes("GET", "/healthz")
    return measured(server, scratch, lambda: run_load(server.port, [[health] * per_lane for _ in range(lanes)], b"ok"))


def server_workers(backend: str, args: argparse.Namespace) -> int:
    return 1 if backend == "sqlite" else args.workers  # SQLite has one writer


def ingest_benchmark(backend: str, workdir: Path, args: argparse.Namespace) -> dict[str, Any]:
    scratch = Scratch(backend, workdir)
    workers = server_workers(backend, args)
    try:
        agents = create_agents(scratch.db, args.hosts, args.requirements, seed=1)
        lanes_n = min(args.concurrency, len(agents))
        full_lanes = lanes_of(agents, lanes_n, SimAgent.full)
        delta_lanes = lanes_of(agents, lanes_n, SimAgent.delta, args.deltas)
        server = Collector(scratch.url, workers, args.db_pool)
        try:
            baseline = healthz_baseline(server, scratch, lanes_n, args.baseline_per_lane)
            full = measured(server, scratch, lambda: run_load(server.port, full_lanes, b'"accepted"'))
            # Deltas are measured in the steady state: planner statistics that know the hosts'
            # stored results (before, PostgreSQL planned scans of the whole results table).
            scratch.analyze()
            delta = measured(server, scratch, lambda: run_load(server.port, delta_lanes, b'"accepted"'))
        finally:
            server.stop()
        with scratch.db.read() as conn:
            applied = conn.exec_driver_sql("SELECT count(*) FROM reports").scalar_one()
        return {"backend": backend, "server_workers": workers, "concurrent_agents": lanes_n, "hosts": len(agents),
                "requirements_per_report": args.requirements, "baseline_healthz": baseline, "full": full,
                "delta": delta, "reports_applied": applied,
                "delta_vs_baseline": round(delta["per_second"] / baseline["per_second"], 3),
                "full_vs_baseline": round(full["per_second"] / baseline["per_second"], 3),
                "database_bytes": scratch.size_bytes()}
    finally:
        scratch.drop()


# ------------------------------------------------------------------ rollups at scale


def _series(db: Database, n: int) -> str:
    """A table expression of 1..n, in each dialect."""
    if db.is_sqlite:
        return f"(WITH RECURSIVE s(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM s WHERE v < {n}) SELECT v FROM s)"
    return f"(SELECT generate_series(1, {n}) AS v)"


def bulk_load(db: Database, n_hosts: int, n_reqs: int, agencies: int) -> dict[str, float]:
    """n_hosts x n_reqs results written by the database itself, then the counters built from them."""
    timings: dict[str, float] = {}
    stamp = "CURRENT_TIMESTAMP"
    doc = ("'{\"directive\":\"HARDEN-30D\",\"key\":\"HARDEN-30D.' || r.v || '\",\"overdue\"\\:false,\"status\":\"' || "
           "CASE WHEN (h.v * 7 + r.v * 13) % 10 < 2 THEN 'fail' ELSE 'pass' END || '\"}'")
    status = "CASE WHEN (h.v * 7 + r.v * 13) % 10 < 2 THEN 'fail' ELSE 'pass' END"
    with db.write() as conn:
        for i in range(agencies):
            add_agency(conn, f"AG{i:02d}", f"Agency {i}")
        t = time.perf_counter()
        conn.execute(sa.text(
            "INSERT INTO hosts (id, host_id, agency_id, hostname, enrolled_at, shard, last_report_id, last_sequence, "
            "total, n_pass, n_fail, n_error, n_not_applicable, n_waived, n_manual, fail_min_due) "
            f"SELECT h.v, 'host-' || h.v, 1 + (h.v % {agencies}), 'host-' || h.v, {stamp}, (h.v / {agencies}) % {SHARDS}, "
            f"'r-' || h.v, 1, {n_reqs}, 0, 0, 0, 0, 0, 0, '' FROM {_series(db, n_hosts)} h"))
        timings["hosts_seconds"] = time.perf_counter() - t
    with db.write() as conn:
        t = time.perf_counter()
        conn.execute(sa.text(
            "INSERT INTO results (host_pk, key, directive, requirement, status, due, failing_since, updated_at, doc) "
            f"SELECT h.v, 'HARDEN-30D.' || r.v, 'HARDEN-30D', 'HARDEN-30D.' || r.v, {status}, "
            f"CASE WHEN r.v % 2 = 0 THEN '2026-07-02' ELSE '2999-01-01' END, NULL, {stamp}, {doc} "
            f"FROM {_series(db, n_hosts)} h CROSS JOIN {_series(db, n_reqs)} r"))
        timings["results_seconds"] = time.perf_counter() - t
    with db.write() as conn:
        t = time.perf_counter()
        counts = ", ".join(f"SUM(CASE WHEN r.status = '{s}' THEN 1 ELSE 0 END)" for s in STATUSES)
        conn.exec_driver_sql(
            "INSERT INTO agg_requirements (agency_id, directive, requirement, due, shard, "
            + ", ".join(f"n_{s}" for s in STATUSES) + ") "
            f"SELECT h.agency_id, r.directive, r.requirement, r.due, h.shard, {counts} "
            "FROM results r JOIN hosts h ON h.id = r.host_pk GROUP BY h.agency_id, r.directive, r.requirement, r.due, h.shard")
        conn.exec_driver_sql(
            "INSERT INTO host_directives (host_pk, directive, agency_id, " + ", ".join(f"n_{s}" for s in STATUSES)
            + ", fail_min_due) "
            f"SELECT r.host_pk, r.directive, MIN(h.agency_id), {counts}, "
            "COALESCE(MIN(CASE WHEN r.status = 'fail' THEN r.due END), '') "
            "FROM results r JOIN hosts h ON h.id = r.host_pk GROUP BY r.host_pk, r.directive")
        # hosts per directive by status: the hosts listing's filter condition (collectors.reads)
        hd = host_directives
        by_status = [sa.func.sum(sa.case((status_condition(hd, s), 1), else_=0)) for s in HostStatus]
        conn.execute(agg_directives.insert().from_select(
            ["agency_id", "directive", "shard", "hosts", *HOST_STATUS_COLUMNS],
            sa.select(hd.c.agency_id, hd.c.directive, hosts.c.shard, sa.func.count(), *by_status)
            .select_from(hd.join(hosts, hosts.c.id == hd.c.host_pk))
            .group_by(hd.c.agency_id, hd.c.directive, hosts.c.shard)))
        timings["counters_seconds"] = time.perf_counter() - t
    if not db.is_sqlite:
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    return {k: round(v, 2) for k, v in timings.items()}


def bulk_status(host: int, req: int) -> str:
    """The status bulk_load gives requirement ``req`` of host ``host`` (the same formula)."""
    return "fail" if (host * 7 + req * 13) % 10 < 2 else "pass"


def agents_at_scale(db: Database, n_hosts: int, n_reqs: int, count: int, seed: int) -> list[SimAgent]:
    """Simulated agents for ``count`` of the bulk-loaded hosts, each holding exactly the state
    the database holds for its host (bulk_load's documents), with agent tokens, and the hosts'
    stored digests and directives set as a full report would have left them."""
    rng = random.Random(seed)
    picked = sorted(rng.sample(range(1, n_hosts + 1), min(count, n_hosts)))
    agents, token_rows, host_rows = [], [], []
    at = now()
    with db.write() as conn:
        agency = dict(conn.execute(sa.select(hosts.c.id, hosts.c.agency_id).where(hosts.c.id.in_(picked))).all())
        for v in picked:
            agent = SimAgent(f"host-{v}", new_secret("agent"), rng, 0)
            agent.state = {f"HARDEN-30D.{r}": {"directive": "HARDEN-30D", "key": f"HARDEN-30D.{r}", "overdue": False,
                                               "status": bulk_status(v, r)} for r in range(1, n_reqs + 1)}
            agent.sequence, agent.last = 1, f"r-{v}"  # the report bulk_load left as the host's head
            agents.append(agent)
            token_rows.append({"role": "agent", "agency_id": agency[v], "host_pk": v, "name": "bench",
                               "hash": hash_secret(agent.token), "created_at": at})
            host_rows.append({"pk": v, "digest": state_digest(agent.state.values())})
        conn.execute(tokens.insert(), token_rows)
        conn.execute(hosts.update().where(hosts.c.id == sa.bindparam("pk"))
                     .values(state_digest=sa.bindparam("digest"),
                             directives_digest=directives_digest({"directives": DIRECTIVES})), host_rows)
    return agents


def deltas_at_scale(scratch: Scratch, args: argparse.Namespace) -> dict[str, Any]:
    """Deltas over HTTP into the bulk-loaded database: the ingest phase's load at 100,000 hosts."""
    agents = agents_at_scale(scratch.db, args.rollup_hosts, args.requirements, args.hosts, seed=2)
    lanes_n = min(args.concurrency, len(agents))
    lanes = lanes_of(agents, lanes_n, SimAgent.delta, args.deltas)
    workers = server_workers(scratch.backend, args)
    server = Collector(scratch.url, workers, args.db_pool)
    try:
        baseline = healthz_baseline(server, scratch, lanes_n, args.baseline_per_lane)
        delta = measured(server, scratch, lambda: run_load(server.port, lanes, b'"accepted"'))
    finally:
        server.stop()
    return {"hosts_in_database": args.rollup_hosts, "hosts_submitting": len(agents), "server_workers": workers,
            "concurrent_agents": lanes_n, "baseline_healthz": baseline, "delta": delta,
            "delta_vs_baseline": round(delta["per_second"] / baseline["per_second"], 3)}


def raw_rollup(db: Database) -> Callable[[], Any]:
    """The baseline: the rollup's counts computed by scanning every raw result."""
    counts = ", ".join(f"SUM(CASE WHEN r.status = '{s}' THEN 1 ELSE 0 END)" for s in STATUSES)
    sql = (f"SELECT h.agency_id, r.directive, r.requirement, r.due, {counts} FROM results r "
           "JOIN hosts h ON h.id = r.host_pk GROUP BY h.agency_id, r.directive, r.requirement, r.due")

    def run() -> Any:
        with db.read() as conn:
            return conn.exec_driver_sql(sql).all()

    return run


def timed(fn: Callable[[], Any], runs: int, warm: bool = True) -> dict[str, float]:
    if warm:
        fn()  # warm caches: the steady state is what a dashboard sees
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    samples.sort()
    return {"runs": runs, "p50_ms": round(statistics.median(samples), 2),
            "p95_ms": round(samples[min(len(samples) - 1, int(0.95 * len(samples)))], 2),
            "max_ms": round(samples[-1], 2)}


def rollup_benchmark(backend: str, workdir: Path, args: argparse.Namespace) -> dict[str, Any]:
    scratch = Scratch(backend, workdir)
    try:
        load = bulk_load(scratch.db, args.rollup_hosts, args.requirements, args.agencies)
        today = rollups.today()
        for back in range(30, 0, -1):  # a month of daily history for the burn-down query
            rollups.snapshot(scratch.db, today - dt.timedelta(days=back))
        with scratch.db.read() as conn:
            rows = conn.exec_driver_sql("SELECT count(*) FROM results").scalar_one()
            counter_rows = conn.exec_driver_sql("SELECT count(*) FROM agg_requirements").scalar_one()

        def in_process() -> Any:
            with scratch.db.read() as conn:
                return rollups.rollup(conn, None)

        doc = in_process()
        hosts_seen = sum(d["hosts"] for d in doc["overall"]["directives"])
        with scratch.db.write() as conn:
            token = issue(conn, "national", None, "bench")[1]
        server = Collector(scratch.url, 1)
        try:
            session = requests.Session()
            headers = {"Authorization": f"Bearer {token}"}
            base = f"http://127.0.0.1:{server.port}"

            def get(path: str) -> Callable[[], Any]:
                def run() -> Any:
                    resp = session.get(base + path, headers=headers, timeout=60)
                    assert resp.status_code == 200, resp.text
                    return resp

                return run

            http = {path: timed(get(path), args.runs) for path in
                    ("/api/v1/rollups", "/api/v1/rollups?agency=AG01", "/api/v1/rollups?detail=true",
                     "/api/v1/rollups/agencies", "/api/v1/history?days=30")}
        finally:
            server.stop()
        counters = timed(in_process, args.runs)
        raw = timed(raw_rollup(scratch.db), args.baseline_runs, warm=False)
        at_scale = deltas_at_scale(scratch, args)  # last: it moves the counters measured above
        return {"backend": backend, "hosts": args.rollup_hosts, "requirements": args.requirements,
                "agencies": args.agencies, "result_rows": rows, "counter_rows": counter_rows,
                "hosts_in_rollup": hosts_seen, "bulk_load": load, "rollup_in_process": counters, "http": http,
                "baseline_raw_scan": raw,
                "raw_scan_vs_counters": round(raw["p50_ms"] / max(counters["p50_ms"], 0.01), 1),
                "database_bytes": scratch.size_bytes(), "deltas_at_scale": at_scale}
    finally:
        scratch.drop()


# ------------------------------------------------------------------ main


def machine() -> dict[str, Any]:
    load = os.getloadavg()
    return {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform(),
            "loadavg_at_start": [round(x, 2) for x in load]}


def write_results(out: dict[str, Any], path: Path) -> None:
    """The results with the load average at the end, written whole or not at all."""
    out["machine"]["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = path.with_suffix(".json.tmp")
    tmp_path.write_text(json.dumps(out, indent=2) + "\n")
    tmp_path.replace(path)
    print(f"written to {path}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--hosts", type=int, default=2000, help="simulated agents for ingest")
    parser.add_argument("--deltas", type=int, default=5, help="deltas per agent")
    parser.add_argument("--concurrency", type=int, default=64, help="agents submitting at once")
    parser.add_argument("--workers", type=int, default=2, help="server processes on PostgreSQL")
    parser.add_argument("--db-pool", type=int, default=24, help="database connections per server worker")
    parser.add_argument("--requirements", type=int, default=100)
    parser.add_argument("--baseline-per-lane", type=int, default=100)
    parser.add_argument("--rollup-hosts", type=int, default=100_000)
    parser.add_argument("--agencies", type=int, default=20)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--baseline-runs", type=int, default=3)
    parser.add_argument("--skip", default="", help="ingest and/or rollups")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, to check the benchmark runs")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.quick:
        args.hosts, args.deltas, args.rollup_hosts, args.runs, args.baseline_per_lane = 50, 2, 2000, 5, 10
    out: dict[str, Any] = {"started_at": now().isoformat(timespec="seconds") + "Z", "machine": machine(),
                           "parameters": {k: v for k, v in vars(args).items() if k != "output"},
                           "ingest": [], "rollups": []}
    with tempfile.TemporaryDirectory(prefix="fedharden-bench-") as tmp:
        for backend in args.backends.split(","):
            if "ingest" not in args.skip:
                print(f"ingest on {backend} ...", file=sys.stderr, flush=True)
                out["ingest"].append(ingest_benchmark(backend, Path(tmp), args))
                print(json.dumps(out["ingest"][-1], indent=1), file=sys.stderr, flush=True)
            if "rollups" not in args.skip:
                print(f"rollups on {backend} ...", file=sys.stderr, flush=True)
                out["rollups"].append(rollup_benchmark(backend, Path(tmp), args))
                print(json.dumps(out["rollups"][-1], indent=1), file=sys.stderr, flush=True)
    out["finished_at"] = now().isoformat(timespec="seconds") + "Z"
    write_results(out, args.output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

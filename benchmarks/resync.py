"""Full-report ingest: how fast one collector node takes a fleet-wide resync.

    python benchmarks/resync.py            # results in benchmarks/results/resync.json
    python benchmarks/resync.py --quick    # a small run to check the benchmark itself

The real server (``fedharden collector serve``, its own processes) receives full reports of 100
results from many concurrent simulated agents over keep-alive HTTP connections, as in
benchmarks/collector.py: first each host's first report (every result inserted: onboarding),
then a resync (each host's next full report, a few results changed: what a new directive
version or a lost state makes every agent send). On PostgreSQL once per number of server
processes in ``--workers``; on SQLite with its one writer. Bodies are built before the clock
starts.

Baselines measured in the same run:

- with ``--baseline-tree DIR``, the same phases served by another checkout's code (the version
  before), right after each run of this one;
- ``GET /healthz`` with the same client and concurrency: the HTTP stack's ceiling here;
- in process, on the same bodies, the parse, schema check and canonical encoding of every
  result done the reference way (the standard JSON parser, the schema compiled as it is
  written, the agent's encoder), against the collector's (collectors.wire).

Besides reports/s, each phase records the CPU it cost the server, the database and the
client per report. On a machine shared with other work the rate falls with the load, the CPU
per report much less: ``cpu_bound_reports_per_second`` is the rate the machine's cores would
give if ingest had them to itself (cores x 1000 / CPU ms per report), and the hour figures
for 1,000,000 hosts are given from both.
"""
from __future__ import annotations

import argparse
import copy
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.collector import (Collector, Scratch, SimAgent, create_agents, healthz_baseline,  # noqa: E402
                                  lanes_of, machine, measured, run_load, write_results)
from collectors.auth import now  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "resync.json"
FLEET = 1_000_000


def resync_report(agent: SimAgent) -> bytes:
    """The host's next full report, one to three of its results changed since the last."""
    agent.delta()  # moves the agent's state (the delta itself is not sent)
    return agent.full()


def hour_figures(rate: float) -> dict[str, Any]:
    """At ``rate`` full reports/s: a fleet-wide resync of 1,000,000 hosts, and nodes for 5 minutes."""
    if rate <= 0:
        return {}
    return {"fleet_resync_minutes": round(FLEET / rate / 60, 1),
            "nodes_for_5_minutes": math.ceil(FLEET / (rate * 300))}


def with_capacity(phase: dict[str, Any]) -> dict[str, Any]:
    cpu = phase["server_cpu_ms_per_request"] + phase["database_cpu_ms_per_request"]
    phase["cpu_ms_per_report"] = round(cpu, 3)
    phase["cpu_bound_reports_per_second"] = round((os.cpu_count() or 1) * 1000 / max(cpu, 1e-6), 1)
    phase["measured"] = hour_figures(phase["per_second"])
    phase["cpu_bound"] = hour_figures(phase["cpu_bound_reports_per_second"])
    return phase


def ingest(backend: str, workers: int, workdir: Path, args: argparse.Namespace, tree: Path = ROOT) -> dict[str, Any]:
    scratch = Scratch(backend, workdir)
    try:
        agents = create_agents(scratch.db, args.hosts, args.requirements, seed=1)
        lanes_n = min(args.concurrency, len(agents))
        first = lanes_of(agents, lanes_n, SimAgent.full)
        server = Collector(scratch.url, workers, args.db_pool, tree)
        try:
            baseline = healthz_baseline(server, scratch, lanes_n, args.baseline_per_lane)
            onboard = with_capacity(measured(server, scratch, lambda: run_load(server.port, first, b'"accepted"')))
            scratch.analyze()  # the steady state's plans (benchmarks/collector.py says why)
            again = lanes_of(agents, lanes_n, resync_report)
            resync = with_capacity(measured(server, scratch, lambda: run_load(server.port, again, b'"accepted"')))
        finally:
            server.stop()
        return {"backend": backend, "server_workers": workers, "concurrent_agents": lanes_n, "hosts": len(agents),
                "requirements_per_report": args.requirements, "baseline_healthz": baseline,
                "onboarding": onboard, "resync": resync,
                "onboarding_vs_baseline": round(onboard["per_second"] / baseline["per_second"], 3),
                "resync_vs_baseline": round(resync["per_second"] / baseline["per_second"], 3),
                "database_bytes": scratch.size_bytes()}
    finally:
        scratch.drop()


def parsing(args: argparse.Namespace) -> dict[str, Any]:
    """Parse, schema check and canonical encoding of full reports, in process: the collector's
    against the reference way, on the same bodies."""
    import random

    import fastjsonschema

    from agent.contract import canonical, schema
    from collectors import inputs
    from collectors.wire import canonical_result, date_formats, parse_report

    rng = random.Random(3)
    bodies = [SimAgent(f"p-{i}", "t", rng, args.requirements).full().split(b"\r\n\r\n", 1)[1]
              for i in range(args.parse_reports)]
    # as written, $refs kept (a copy: fastjsonschema rewrites the references of what it compiles)
    reference_validate = fastjsonschema.compile(copy.deepcopy(schema()), formats=date_formats())

    def reference(raw: bytes) -> None:
        report = json.loads(raw)
        inputs.check(report, raw, inputs.report_nul_allowed)
        reference_validate(report)
        for item in report["results"]:
            canonical(item)

    def collector(raw: bytes) -> None:
        report = parse_report(raw)
        for item in report["results"]:
            canonical_result(item)

    def cpu_ms(fn: Callable[[bytes], None]) -> float:
        best = math.inf
        for _ in range(3):
            start = time.process_time()
            for raw in bodies:
                fn(raw)
            best = min(best, (time.process_time() - start) * 1000 / len(bodies))
        return best

    ref, ours = cpu_ms(reference), cpu_ms(collector)
    return {"reports": len(bodies), "body_bytes": sum(map(len, bodies)) // len(bodies),
            "baseline_reference_ms": round(ref, 3), "collector_ms": round(ours, 3),
            "reference_vs_collector": round(ref / ours, 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="postgresql,sqlite")
    parser.add_argument("--workers", default="1,2,3", help="server processes on PostgreSQL, one run each")
    parser.add_argument("--hosts", type=int, default=4000, help="simulated agents, one full report each per phase")
    parser.add_argument("--concurrency", type=int, default=64, help="agents submitting at once")
    parser.add_argument("--db-pool", type=int, default=24, help="database connections per server process")
    parser.add_argument("--requirements", type=int, default=100)
    parser.add_argument("--baseline-per-lane", type=int, default=100)
    parser.add_argument("--parse-reports", type=int, default=300)
    parser.add_argument("--baseline-tree", type=Path, default=None,
                        help="a checkout of another version (e.g. git worktree add /tmp/before main): each run is "
                             "repeated with its server, for ratios measured on the same load")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, to check the benchmark runs")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.quick:
        args.hosts, args.baseline_per_lane, args.parse_reports, args.workers = 200, 10, 30, "2"
    out: dict[str, Any] = {"started_at": now().isoformat(timespec="seconds") + "Z", "machine": machine(),
                           "parameters": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items() if k != "output"},
                           "runs": []}
    print("parsing in process ...", file=sys.stderr, flush=True)
    out["parsing"] = parsing(args)
    print(json.dumps(out["parsing"]), file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory(prefix="fedharden-bench-") as tmp:
        for backend in args.backends.split(","):
            for workers in ([int(w) for w in args.workers.split(",")] if backend == "postgresql" else [1]):
                print(f"full reports on {backend}, {workers} server process(es) ...", file=sys.stderr, flush=True)
                run = ingest(backend, workers, Path(tmp), args)
                if args.baseline_tree is not None:  # the other version, right after, on the same load
                    print("  ... and served by the baseline tree", file=sys.stderr, flush=True)
                    before = ingest(backend, workers, Path(tmp), args, args.baseline_tree)
                    run["baseline_tree"] = {p: {k: before[p][k] for k in ("per_second", "server_cpu_ms_per_request",
                                                                          "database_cpu_ms_per_request",
                                                                          "cpu_ms_per_report", "loadavg_after")}
                                            for p in ("onboarding", "resync")}
                    for p in ("onboarding", "resync"):
                        run[f"{p}_vs_baseline_tree"] = round(run[p]["per_second"] / before[p]["per_second"], 2)
                        run[f"{p}_cpu_baseline_tree_vs_this"] = round(
                            before[p]["cpu_ms_per_report"] / run[p]["cpu_ms_per_report"], 2)
                out["runs"].append(run)
                print(json.dumps({k: run[k] for k in ("backend", "server_workers", "onboarding_vs_baseline",
                                                      "resync_vs_baseline")}
                                 | {p: {k: run[p][k] for k in ("per_second", "cpu_ms_per_report",
                                                               "cpu_bound_reports_per_second", "loadavg_after")}
                                    for p in ("onboarding", "resync")}), file=sys.stderr, flush=True)
    best = max((r for r in out["runs"] if r["backend"] == "postgresql"), default=None,
               key=lambda r: r["resync"]["per_second"])
    if best is not None:
        out["postgresql_best"] = {"server_workers": best["server_workers"],
                                  "resync_per_second": best["resync"]["per_second"],
                                  "onboarding_per_second": best["onboarding"]["per_second"]}
    out["finished_at"] = now().isoformat(timespec="seconds") + "Z"
    write_results(out, args.output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

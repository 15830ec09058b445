"""Where a report's CPU goes: ingest in process, without HTTP, statement by statement.

    python benchmarks/ingest_breakdown.py              # deltas; results in benchmarks/results/ingest_breakdown.json
    python benchmarks/ingest_breakdown.py --kind full  # full reports (ingest_breakdown_full.json)

Simulated agents' deltas or full reports (the same as benchmarks/collector.py sends) are
parsed and applied in rounds through collectors.apply.ingest_many, as the server's writer
thread does. Full reports are each host's first (every result inserted), after as many other
hosts' untimed. (Rows streamed with COPY on PostgreSQL are not in the statement table.)
Measured per report: the collector's CPU for parsing (JSON and the schema check) and for applying, the
database's CPU (PostgreSQL backends), and each statement's time from send to answer. The
baseline, in the same run, is the same rounds' transactions doing nothing but reading the
hosts' rows: what any design pays per round trip and commit.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from benchmarks.collector import Scratch, create_agents, machine, write_results  # noqa: E402
from collectors.auth import lookup, now  # noqa: E402
from collectors.apply import Submission, ingest_many  # noqa: E402
from collectors.wire import parse_report  # noqa: E402
from collectors.models import hosts  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "ingest_breakdown.json"


def body(request: bytes) -> bytes:
    return request.split(b"\r\n\r\n", 1)[1]


def label(statement: str) -> str:
    """"INSERT results", "SELECT hosts": the statement's verb and first table."""
    table = re.search(r"\b(?:FROM|INTO|UPDATE)\s+(\w+)", statement)
    return f"{statement.split(None, 1)[0]} {table.group(1) if table else ''}".strip()


def breakdown(backend: str, workdir: Path, args: argparse.Namespace) -> dict[str, Any]:
    scratch = Scratch(backend, workdir)
    try:
        db = scratch.db
        agents = create_agents(db, args.hosts, args.requirements, seed=1)
        with db.read() as conn:
            principals = [lookup(conn, a.token) for a in agents]
        size = args.round
        warm = len(agents) // 2 if args.kind == "full" else len(agents)  # full: the other half is timed
        for k in range(0, warm, size):  # hosts' state first, untimed
            end = min(k + size, warm)
            ingest_many(db, [Submission(p, parse_report(body(a.full()))) for p, a in zip(principals[k:end], agents[k:end])])
        scratch.analyze()  # the steady state's plans, as in benchmarks/collector.py
        rounds = []
        if args.kind == "full":
            raws = [body(a.full()) for a in agents[warm:]]
            rounds = [list(zip(principals[warm + k:warm + k + size], raws[k:k + size])) for k in range(0, len(raws), size)]
        for _ in range(args.deltas if args.kind == "delta" else 0):
            raws = [body(a.delta()) for a in agents]
            rounds += [list(zip(principals[k:k + size], raws[k:k + size])) for k in range(0, len(agents), size)]
        n = sum(len(r) for r in rounds)

        # Baseline: one transaction per round locking the round's host rows, nothing else.
        cpu, db_cpu, wall = time.process_time(), scratch.backend_cpu_seconds(), time.perf_counter()
        for rnd in rounds:
            with db.write() as conn:
                conn.execute(sa.select(hosts.c.id).where(hosts.c.id.in_([p.host_pk for p, _ in rnd]))
                             .with_for_update()).all()
        baseline = {"collector_cpu_ms": (time.process_time() - cpu) * 1000 / n,
                    "database_cpu_ms": (scratch.backend_cpu_seconds() - db_cpu) * 1000 / n,
                    "wall_ms": (time.perf_counter() - wall) * 1000 / n}

        statements: defaultdict[str, list[float]] = defaultdict(lambda: [0, 0.0])

        @sa.event.listens_for(db.engine, "before_cursor_execute")
        def before(conn: Any, *_: Any) -> None:
            conn.info["sent"] = time.perf_counter()

        @sa.event.listens_for(db.engine, "after_cursor_execute")
        def after(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            entry = statements[label(statement)]
            entry[0] += 1
            entry[1] += time.perf_counter() - conn.info["sent"]

        parse_cpu = apply_cpu = 0.0
        db_cpu, wall = scratch.backend_cpu_seconds(), time.perf_counter()
        for rnd in rounds:
            cpu = time.process_time()
            subs = [Submission(p, parse_report(raw)) for p, raw in rnd]
            parse_cpu += time.process_time() - cpu
            cpu = time.process_time()
            outcomes = ingest_many(db, subs)
            apply_cpu += time.process_time() - cpu
            refused = [o for o in outcomes if isinstance(o, Exception) or o[1]["status"] != "accepted"]
            if refused:
                raise RuntimeError(f"a simulated report was refused: {refused[0]!r}")
        wall = time.perf_counter() - wall
        database = (scratch.backend_cpu_seconds() - db_cpu) * 1000 / n
        total = (parse_cpu + apply_cpu) * 1000 / n + database
        return {
            "backend": backend, "kind": args.kind, "reports": n, "reports_per_round": size, "requirements_per_report": args.requirements,
            "reports_per_second_in_process": round(n / wall, 1),
            "per_report_ms": {"parse_and_schema": round(parse_cpu * 1000 / n, 3),
                             "apply_collector": round(apply_cpu * 1000 / n, 3),
                             "database": round(database, 3), "total_cpu": round(total, 3)},
            "baseline_per_report_ms": {k: round(v, 3) for k, v in baseline.items()},
            "total_vs_baseline": round(total / max(baseline["collector_cpu_ms"] + baseline["database_cpu_ms"], 1e-9), 1),
            "statements_ms_per_report": {s: {"calls": c, "ms": round(t * 1000 / n, 3)}
                                        for s, (c, t) in sorted(statements.items(), key=lambda kv: -kv[1][1])},
        }
    finally:
        scratch.drop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="postgresql,sqlite")
    parser.add_argument("--kind", choices=("delta", "full"), default="delta")
    parser.add_argument("--hosts", type=int, default=640, help="simulated agents (full: half of them timed)")
    parser.add_argument("--deltas", type=int, default=5, help="deltas per host")
    parser.add_argument("--round", type=int, default=32, help="reports per transaction (group commit)")
    parser.add_argument("--requirements", type=int, default=100)
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.output is None:
        args.output = RESULTS if args.kind == "delta" else RESULTS.with_name("ingest_breakdown_full.json")
    out: dict[str, Any] = {"started_at": now().isoformat(timespec="seconds") + "Z", "machine": machine(),
                           "parameters": {k: v for k, v in vars(args).items() if k != "output"}, "runs": []}
    with tempfile.TemporaryDirectory(prefix="fedharden-bench-") as tmp:
        for backend in args.backends.split(","):
            out["runs"].append(breakdown(backend, Path(tmp), args))
            print(json.dumps(out["runs"][-1], indent=1), file=sys.stderr, flush=True)
    write_results(out, args.output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""The filesystem walk behind the world-writable, sticky-bit, unowned and set-ID requirements:
one walk of every local filesystem of this host, as `fedharden scan --walk` does it.

Reports the first (possibly cold-cache) walk and the median of the warm ones, with the number
of entries, CPU time, peak RSS and the load average (the walk competes for the same CPUs).
Usage: .venv/bin/python benchmarks/fswalk.py [--runs N]  ->  benchmarks/results/fswalk.json"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from agent.facts.context import Context  # noqa: E402
from agent.facts.fswalk import walk  # noqa: E402
from agent.hosts import LocalHost  # noqa: E402
from checks.facts import FsWalk  # noqa: E402

TARGET_S, TARGET_ENTRIES = 10.0, 400_000


def once() -> tuple[float, float, FsWalk]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = walk(Context(LocalHost()))
    if not isinstance(result, FsWalk):
        raise SystemExit(f"walk unavailable: {result.reason}")
    return time.perf_counter() - wall, time.process_time() - cpu, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    first_wall, first_cpu, first = once()
    runs = [once() for _ in range(args.runs)]
    walls = [r[0] for r in runs]
    last = runs[-1][2]
    result = {
        "what": "one walk of every local filesystem of this host (fact family fswalk), pseudo and network filesystems pruned",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "kernel": platform.release()},
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
        "entries": last.examined,
        "pruned": list(last.skipped),
        "unreadable_directories": last.errors,
        "first_walk": {"wall_s": round(first_wall, 2), "cpu_s": round(first_cpu, 2), "entries": first.examined},
        "warm_walks": {"runs": args.runs, "median_wall_s": round(statistics.median(walls), 2),
                       "min_wall_s": round(min(walls), 2), "max_wall_s": round(max(walls), 2),
                       "median_cpu_s": round(statistics.median(r[1] for r in runs), 2)},
        "entries_per_s_warm": int(last.examined / statistics.median(walls)),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "found": dict(last.counts),
        "target": {"entries": TARGET_ENTRIES, "wall_s": TARGET_S},
        "meets_target": statistics.median(walls) * TARGET_ENTRIES / max(last.examined, 1) < TARGET_S,
    }
    out = HERE / "results" / "fswalk.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

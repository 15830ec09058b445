"""Full scan of this host with every shipped directive: median wall time and peak RSS of the
whole process (interpreter start included), against a bare interpreter start measured in the
same run. Usage: .venv/bin/python benchmarks/scan.py [--runs N]  ->  benchmarks/results/scan.json"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
FEDHARDEN = str(Path(sys.executable).with_name("fedharden"))
TARGET_WALL_S, TARGET_RSS_MB = 0.5, 50.0


def measure(argv: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one child process."""
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # child: silence output, then become the measured program
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        os.execv(argv[0], argv)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise SystemExit(f"{' '.join(argv)} exited with {os.waitstatus_to_exitcode(status)}")
    return wall, usage.ru_maxrss / 1024


def series(argv: list[str], runs: int) -> dict[str, float]:
    measure(argv)  # warm the page cache once
    walls, rss = zip(*(measure(argv) for _ in range(runs)))
    return {"median_s": round(statistics.median(walls), 4), "min_s": round(min(walls), 4),
            "max_s": round(max(walls), 4), "peak_rss_mb": round(max(rss), 1)}


def precompile() -> None:
    """Byte-compile the project as an installed package would be, so that an environment
    that forbids writing .pyc files (PYTHONDONTWRITEBYTECODE) does not recompile it per run."""
    import compileall

    for package in ("agent", "checks", "directives", "collectors"):
        compileall.compile_dir(str(HERE.parent / package), quiet=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    precompile()
    baseline = series([sys.executable, "-c", "pass"], args.runs)
    scan = series([FEDHARDEN, "scan", "--format", "json", "--output", os.devnull], args.runs)
    result = {
        "what": "fedharden scan of this host, all shipped directives, process start included",
        "runs": args.runs,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "kernel": platform.release()},
        "baseline_interpreter_start": baseline,
        "scan": scan,
        "ratio_wall_vs_baseline": round(scan["median_s"] / baseline["median_s"], 1),
        "ratio_rss_vs_baseline": round(scan["peak_rss_mb"] / baseline["peak_rss_mb"], 1),
        "targets": {"wall_s": TARGET_WALL_S, "peak_rss_mb": TARGET_RSS_MB},
        "meets_targets": scan["median_s"] < TARGET_WALL_S and scan["peak_rss_mb"] < TARGET_RSS_MB,
    }
    out = HERE / "results" / "scan.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

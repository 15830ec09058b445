"""The long-running agent's memory: `fedharden run` for many cycles with a short interval,
reporting each scan to a real collector on loopback (`fedharden collector serve`, SQLite),
the scheduler's RSS sampled between scans.

Issue 23: `fedharden run` idles at the memory of one scan at most and does not grow over 1,000
cycles. The baseline, measured in the same run: the peak RSS of the very command a cycle runs
(`fedharden scan --submit --quiet ...`), as its own process, and a bare interpreter start.
"Does not grow": the idle RSS over the last tenth of the cycles is within 1 MiB of that over
cycles 10-60 (after the first scans settle the allocator), and the open file descriptors are
the same. Each cycle scans the Debian 12 root of the test suite with every shipped directive.

Usage: .venv/bin/python benchmarks/run_memory.py [--cycles 1000] [--interval 1]
-> benchmarks/results/run_memory.json (about 25 minutes for 1,000 cycles on 2 CPUs)."""
from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
FEDHARDEN = str(Path(sys.executable).with_name("fedharden"))
ROOT = HERE.parent / "tests" / ".cache" / "bookworm"
GROWTH_LIMIT_KB = 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fh(*args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run([FEDHARDEN, *args], capture_output=True, text=True, timeout=120, env=env)
    if done.returncode not in (0, 1, 4):
        raise SystemExit(f"fedharden {' '.join(args)}: exit {done.returncode}: {done.stderr.strip()}")
    return done.stdout.strip()


def peak_rss_mb(argv: list[str]) -> float:
    """Peak RSS of one process running argv to its end."""
    pid = os.fork()
    if pid == 0:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        os.execv(argv[0], argv)
    _, status, usage = os.wait4(pid, 0)
    if os.waitstatus_to_exitcode(status) not in (0, 1, 4):
        raise SystemExit(f"{' '.join(argv)}: exit {os.waitstatus_to_exitcode(status)}")
    return usage.ru_maxrss / 1024


def status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def has_children(pid: int) -> bool:
    return any(Path(f"/proc/{pid}/task/{tid}/children").read_text().strip() for tid in os.listdir(f"/proc/{pid}/task"))


def reports(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM reports").fetchone()[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cycles", type=int, default=1000)
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between scans (the command's least)")
    parser.add_argument("--root", default=str(ROOT))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fedharden-run-memory-"))
    db = work / "collector.sqlite3"
    state = work / "state"
    env = {**os.environ, "FEDHARDEN_CACHE_DIR": str(work / "cache")}
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with open(work / "collector.log", "wb") as log:
        collector = subprocess.Popen([FEDHARDEN, "collector", "serve", "--db", f"sqlite:///{db}", "--port", str(port),
                                      "--snapshot-interval", "0"], stdout=log, stderr=log)
    runner: subprocess.Popen[bytes] | None = None
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline or collector.poll() is not None:
                    raise SystemExit(f"the collector did not start: {(work / 'collector.log').read_text()}") from None
                time.sleep(0.2)
        fh("collector", "agency", "add", "AG1", "--db", f"sqlite:///{db}")
        secret = fh("collector", "token", "enrollment", "--agency", "AG1", "--db", f"sqlite:///{db}")
        fh("enroll", "--collector", url, "--agency", "AG1", "--root", args.root, "--state-dir", str(state),
           env={**env, "FEDHARDEN_ENROLL_SECRET": secret})

        # Baselines: what one cycle runs, as its own process (its first full report, then deltas).
        os.environ["FEDHARDEN_CACHE_DIR"] = env["FEDHARDEN_CACHE_DIR"]
        scan = [FEDHARDEN, "scan", "--submit", "--quiet", "--state-dir", str(state), "--root", args.root]
        scan_peaks = [peak_rss_mb(scan) for _ in range(3)]
        bare = peak_rss_mb([sys.executable, "-c", "pass"])
        before = reports(db)

        load_before = os.getloadavg()
        started = time.monotonic()
        with open(work / "run.log", "wb") as log:
            runner = subprocess.Popen([FEDHARDEN, "run", "--interval", repr(args.interval), "--splay", "0",
                                       "--root", args.root, "--state-dir", str(state)], stdout=log, stderr=log, env=env)
        idle: dict[int, int] = {}  # cycle -> scheduler RSS (kB) sampled between scans
        fds: dict[int, int] = {}
        limit = time.monotonic() + args.cycles * (args.interval + 30) + 60  # bounded whatever happens
        while (done := reports(db) - before) < args.cycles:
            if runner.poll() is not None or time.monotonic() > limit:
                raise SystemExit(f"run stopped after {done} cycles: {(work / 'run.log').read_text()[-2000:]}")
            if done and done not in idle and not has_children(runner.pid):
                idle[done] = status_kb(runner.pid, "VmRSS")
                fds[done] = len(os.listdir(f"/proc/{runner.pid}/fd"))
            time.sleep(0.05)
        elapsed = time.monotonic() - started
        hwm = status_kb(runner.pid, "VmHWM")
        runner.send_signal(signal.SIGTERM)
        runner.wait(120)
        load_after = os.getloadavg()
        log_text = (work / "run.log").read_text()
    finally:
        for proc in (runner, collector):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
        import shutil

        shutil.rmtree(work, ignore_errors=True)

    cycles = sorted(idle)
    early = [idle[c] for c in cycles if 10 <= c <= 60] or [idle[cycles[0]]]
    late = [idle[c] for c in cycles if c > args.cycles * 0.9] or [idle[cycles[-1]]]
    growth_kb = statistics.median(late) - statistics.median(early)
    idle_max_mb = max(idle.values()) / 1024
    scan_peak_mb = max(scan_peaks)
    result = {
        "what": f"fedharden run --interval {args.interval:g} --splay 0 --root <Debian 12 root>, every shipped directive, each "
                "cycle reported to a collector on loopback; the scheduler's RSS between scans",
        "cycles": args.cycles,
        "seconds": round(elapsed, 1),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "kernel": platform.release(),
                    "load_average_1m": {"before": round(load_before[0], 2), "after": round(load_after[0], 2)}},
        "baseline_one_scan_peak_rss_mb": round(scan_peak_mb, 1),
        "baseline_interpreter_start_rss_mb": round(bare, 1),
        "scheduler_idle_rss_mb": {
            "first": round(idle[cycles[0]] / 1024, 1), "cycles_10_60_median": round(statistics.median(early) / 1024, 1),
            "last_tenth_median": round(statistics.median(late) / 1024, 1), "max": round(idle_max_mb, 1),
            "samples": len(idle),
            "every_100th": {str(c): round(idle[c] / 1024, 2) for c in cycles if c % 100 == 0 or c == cycles[0]},
        },
        "scheduler_peak_rss_mb": round(hwm / 1024, 1),
        "scheduler_growth_kb": round(growth_kb),
        "open_fds": {"first": fds[cycles[0]], "last": fds[cycles[-1]]},
        "ratios": {"scheduler_idle_max_vs_one_scan": round(idle_max_mb / scan_peak_mb, 2),
                   "one_scan_vs_interpreter_start": round(scan_peak_mb / bare, 1)},
        "stopped_cleanly": log_text.rstrip().endswith("stopped"),
        "meets_targets": {"idles_at_most_one_scan": idle_max_mb <= scan_peak_mb,
                          "does_not_grow": growth_kb <= GROWTH_LIMIT_KB and fds[cycles[-1]] <= fds[cycles[0]]},
    }
    out = HERE / "results" / "run_memory.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

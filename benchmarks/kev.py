"""What KEV evaluation adds to a scan of this host: the whole KEV catalog (1,404 entries)
matched through the real Debian tracker data against this host's installed packages, plus
the risk-tiered table with SSVC.

Two measurements, interleaved in the same run so machine noise hits both alike:
- in process (warm): Scan.run of every shipped directive vs. the same scan without the two
  KEV directives (BOD-22-01, KEV-TIERED);
- whole process (cold): `fedharden scan` with and without them, interpreter start included.

Usage: .venv/bin/python benchmarks/kev.py [--runs N]  ->  benchmarks/results/kev.json
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
DATA = HERE.parent / "tests" / "data" / "feeds"
FEDHARDEN = str(Path(sys.executable).with_name("fedharden"))
KEV_DIRECTIVES = ("BOD-22-01", "KEV-TIERED")
TARGET_ADDED_MS = 150.0


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def process(argv: list[str]) -> float:
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        os.execv(argv[0], argv)
    _, status, _ = os.wait4(pid, 0)
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise SystemExit(f"{' '.join(argv)} exited with {os.waitstatus_to_exitcode(status)}")
    return time.perf_counter() - start


def stats(values: list[float]) -> dict[str, float]:
    return {"median_ms": round(statistics.median(values) * 1000, 1), "min_ms": round(min(values) * 1000, 1),
            "max_ms": round(max(values) * 1000, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=25)
    args = parser.parse_args()

    from agent.feeds.store import FeedStore
    from agent.feeds.update import update
    from agent.hosts import LocalHost
    from agent.scan import Scan, Selection
    from checks.facts import FactKey, Facts, OsRelease
    from directives import load_library

    with tempfile.TemporaryDirectory(prefix="fedharden-kev-bench-") as tmp:
        store = FeedStore(os.path.join(tmp, "feeds"))
        update(store, (str(DATA),))
        directives = load_library()
        every = tuple(d.id for d in directives)
        without = tuple(i for i in every if i not in KEV_DIRECTIVES)

        def scan(ids: tuple[str, ...]) -> dict[str, Any]:
            host = LocalHost()
            try:
                return Scan(host, directives, Selection(ids), feeds=FeedStore(store.directory, explicit=True)).run()
            finally:
                host.close()

        sample = scan(every)
        # The KEV work alone, on facts gathered once: load the feeds for this host's release
        # (digest check, JSON, Debian tracker for bookworm) and judge both requirements.
        from agent.facts import gather
        from agent.facts.context import Context
        from agent.facts.osinfo import os_release
        import checks

        host = LocalHost()
        kev_reqs = [r for d in directives if d.id in KEV_DIRECTIVES for r in d.requirements]
        other_keys = set().union(*(checks.needs(r.check) for r in kev_reqs)) - {FactKey("vulns")}
        ctx = Context(host)
        gathered = gather(ctx, other_keys)
        release = os_release(ctx)
        assert isinstance(release, OsRelease), release

        from checks.kev import _compare

        def kev_work() -> None:
            _compare.cache_clear()  # each run pays for its version comparisons, as one scan does
            values = {k: gathered.get(k) for k in other_keys}
            values[FactKey("vulns")] = FeedStore(store.directory, explicit=True).vuln_data(release)
            facts = Facts(values)
            for req in kev_reqs:
                checks.evaluate(req.check, facts)

        kev_work()
        work = [timed(kev_work) for _ in range(args.runs * 3)]
        host.close()
        kev_rows = [r for r in sample["results"] if r["directive"] in KEV_DIRECTIVES]
        scan(without)  # warm caches once
        base_warm, kev_warm, base_cold, kev_cold = [], [], [], []
        cli = [FEDHARDEN, "scan", "--feeds-dir", str(store.directory), "--format", "json", "--output", os.devnull]
        for _ in range(args.runs):
            base_warm.append(timed(lambda: scan(without)))
            kev_warm.append(timed(lambda: scan(every)))
            base_cold.append(process(cli + [a for i in without for a in ("--directive", i)]))
            kev_cold.append(process(cli))

    # Other work on the machine only ever adds time, so the minimum is the steadier estimate of
    # the difference; the median is given beside it.
    warm_added = statistics.median(kev_warm) - statistics.median(base_warm)
    cold_added = statistics.median(kev_cold) - statistics.median(base_cold)
    warm_added_min = min(kev_warm) - min(base_warm)
    cold_added_min = min(kev_cold) - min(base_cold)
    result = {
        "what": "time KEV evaluation (BOD-22-01 and KEV-TIERED: the whole KEV catalog through the Debian tracker "
                "data against this host's packages, SSVC, sockets) adds to a scan of this host with every other "
                "shipped directive",
        "runs": args.runs,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "kernel": platform.release()},
        "data": {"kev_entries": len(json.loads((Path(store.shipped) / "known_exploited_vulnerabilities.json")
                                              .read_text())["vulnerabilities"]),
                 "installed_packages": "this host's dpkg database", "kev_results": len(kev_rows)},
        "kev_work_only": {**stats(work), "what": "feeds for this host's release loaded and both KEV requirements "
                                                 "judged, on facts gathered once"},
        "in_process": {"baseline_scan_without_kev": stats(base_warm), "scan_with_kev": stats(kev_warm),
                       "added_ms": round(warm_added * 1000, 1), "added_ms_by_min": round(warm_added_min * 1000, 1),
                       "ratio_vs_baseline": round(statistics.median(kev_warm) / statistics.median(base_warm), 2)},
        "whole_process": {"baseline_scan_without_kev": stats(base_cold), "scan_with_kev": stats(kev_cold),
                          "added_ms": round(cold_added * 1000, 1), "added_ms_by_min": round(cold_added_min * 1000, 1),
                          "ratio_vs_baseline": round(statistics.median(kev_cold) / statistics.median(base_cold), 2)},
        "target_added_ms": TARGET_ADDED_MS,
        "meets_target": max(statistics.median(work), warm_added, warm_added_min, cold_added_min) * 1000
        < TARGET_ADDED_MS,
    }
    out = HERE / "results" / "kev.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

"""Scan start-up, whole process (interpreter start included), every shipped directive:

- a root scan of the Debian 12 root the test suite builds (tests/.cache/bookworm), with the
  compiled library cache warm (directives/library_cache.py) and without one (the YAML parsed
  each time, as before the cache), and a scan of this host;
- baselines measured in the same run, the runs interleaved: a bare interpreter start, and
  oscap-chroot on the same root with ComplianceAsCode's Debian 12 data stream
  (ssg-debian12-ds.xml: Debian 13's ssg-debian package ships it; Debian 12's stops at 11),
  profile anssi_bp28_high (its largest), writing XCCDF results as fedharden writes its report.

Median wall time, CPU time and peak RSS of each; with --instructions also the instructions each
executes once under valgrind (callgrind, child processes included), a count the machine's
load does not change, so that the figures of a shared machine can be compared. Targets (issue 23): the cached root scan at most
0.1 s and at least 20 times faster than oscap-chroot, its peak RSS no higher than the uncached
scan's; the scan of this host under 0.5 s and 50 MB. Usage:
.venv/bin/python benchmarks/scan.py [--runs N] [--oscap-runs N] [--root DIR] [--instructions]
->  benchmarks/results/scan.json"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
FEDHARDEN = str(Path(sys.executable).with_name("fedharden"))
ROOT = HERE.parent / "tests" / ".cache" / "bookworm"
DATASTREAM = "/usr/share/xml/scap/ssg/content/ssg-debian12-ds.xml"
PROFILE = "xccdf_org.ssgproject.content_profile_anssi_bp28_high"
TARGET_ROOT_S, TARGET_OSCAP_RATIO = 0.1, 20.0
TARGET_LOCAL_S, TARGET_LOCAL_RSS_MB = 0.5, 50.0


def measure(argv: list[str], env: dict[str, str], ok: tuple[int, ...]) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds, peak RSS in MB) of one child process."""
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # child: silence output, then become the measured program
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        os.execve(argv[0], argv, env)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code not in ok:
        raise SystemExit(f"{' '.join(argv)} exited with {code}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def instructions(argv: list[str], env: dict[str, str]) -> int:
    """Instructions executed by argv and its children, counted by valgrind's callgrind."""
    done = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", "--trace-children=yes",
                           *argv], env=env, capture_output=True, text=True, timeout=1800)
    counts = [int(n.replace(",", "")) for n in re.findall(r"I\s+refs:\s+([\d,]+)", done.stderr)]
    if not counts:
        raise SystemExit(f"valgrind counted nothing for {' '.join(argv)}: {done.stderr[-500:]}")
    return sum(counts)


def summary(samples: list[tuple[float, float, float]]) -> dict[str, float]:
    walls, cpus, rss = zip(*samples)
    return {"median_s": round(statistics.median(walls), 4), "min_s": round(min(walls), 4),
            "max_s": round(max(walls), 4), "median_cpu_s": round(statistics.median(cpus), 4),
            "peak_rss_mb": round(max(rss), 1), "runs": len(samples)}


def precompile() -> None:
    """Byte-compile the project as an installed package would be, so that an environment
    that forbids writing .pyc files (PYTHONDONTWRITEBYTECODE) does not recompile it per run."""
    import compileall

    for package in ("agent", "checks", "directives", "collectors"):
        compileall.compile_dir(str(HERE.parent / package), quiet=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--oscap-runs", type=int, default=5, help="oscap-chroot takes seconds a run")
    parser.add_argument("--root", default=str(ROOT), help="the Debian 12 root to scan (default: the test suite's)")
    parser.add_argument("--instructions", action="store_true", help="also count instructions under valgrind")
    args = parser.parse_args()
    if not (Path(args.root) / "etc" / "os-release").exists():
        raise SystemExit(f"{args.root}: no Debian root there (bash tests/run builds it)")
    precompile()
    work = Path(tempfile.mkdtemp(prefix="fedharden-bench-"))
    try:
        # Both scanners read a scratch copy: oscap-chroot's probes write into the root they scan
        # (an RPM database, apt's caches), and the test suite's root must stay as debootstrap left it.
        root = str(work / "root")
        subprocess.run(["cp", "-a", "--reflink=auto", args.root, root], check=True)
        blocked = work / "not-a-directory"
        blocked.write_text("")
        cached_env = {**os.environ, "FEDHARDEN_CACHE_DIR": str(work / "cache")}
        uncached_env = {**os.environ, "FEDHARDEN_CACHE_DIR": str(blocked / "cache")}  # cannot be created
        report = ["--format", "json", "--output", os.devnull]
        commands: dict[str, tuple[list[str], dict[str, str], tuple[int, ...]]] = {
            "interpreter_start": ([sys.executable, "-c", "pass"], dict(os.environ), (0,)),
            "root_scan": ([FEDHARDEN, "scan", "--root", root, *report], cached_env, (0, 1, 4)),
            "root_scan_uncached": ([FEDHARDEN, "scan", "--root", root, *report], uncached_env, (0, 1, 4)),
            "local_scan": ([FEDHARDEN, "scan", *report], cached_env, (0, 1, 4)),
        }
        oscap = shutil.which("oscap-chroot")
        oscap_missing = None
        if oscap is None:
            oscap_missing = "oscap-chroot not installed (apt-get install openscap-utils)"
        elif not os.path.exists(DATASTREAM):
            oscap_missing = f"{DATASTREAM} missing (Debian 13's ssg-debian package ships it)"
        else:
            commands["oscap_chroot"] = ([oscap, root, "xccdf", "eval", "--profile", PROFILE, "--results",
                                         str(work / "oscap-results.xml"), DATASTREAM], dict(os.environ), (0, 2))
        load_before = os.getloadavg()
        samples: dict[str, list[tuple[float, float, float]]] = {name: [] for name in commands}
        for argv, env, ok in commands.values():
            measure(argv, env, ok)  # warm the page cache, and write the library cache once
        for i in range(args.runs):  # interleaved, so that a change in the machine's load hits every series
            for name, (argv, env, ok) in commands.items():
                if name != "oscap_chroot" or i < args.oscap_runs:
                    samples[name].append(measure(argv, env, ok))
        load_after = os.getloadavg()
        counted = {name: instructions(argv, env) for name, (argv, env, _) in commands.items()} \
            if args.instructions and shutil.which("valgrind") else {}
    finally:
        shutil.rmtree(work, ignore_errors=True)

    got = {name: summary(s) for name, s in samples.items()}
    root, uncached, local, bare = got["root_scan"], got["root_scan_uncached"], got["local_scan"], got["interpreter_start"]
    result: dict[str, object] = {
        "what": "fedharden scan, every shipped directive, whole process (interpreter start included); "
                "root: the Debian 12 root of the test suite",
        "runs": args.runs,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "kernel": platform.release(),
                    "load_average_1m": {"before": round(load_before[0], 2), "after": round(load_after[0], 2)}},
        **got,
        "ratios": {
            "root_scan_vs_interpreter_start": round(root["median_s"] / bare["median_s"], 1),
            "root_scan_uncached_vs_cached": round(uncached["median_s"] / root["median_s"], 2),
            "local_scan_vs_interpreter_start": round(local["median_s"] / bare["median_s"], 1),
            "local_rss_vs_interpreter_start": round(local["peak_rss_mb"] / bare["peak_rss_mb"], 1),
        },
        "targets": {"root_scan_s": TARGET_ROOT_S, "oscap_chroot_over_root_scan": TARGET_OSCAP_RATIO,
                    "root_scan_rss": "at most the uncached scan's", "local_scan_s": TARGET_LOCAL_S,
                    "local_scan_rss_mb": TARGET_LOCAL_RSS_MB},
    }
    meets = {
        "root_scan_s": root["median_s"] <= TARGET_ROOT_S,
        "root_scan_rss": root["peak_rss_mb"] <= uncached["peak_rss_mb"],
        "local_scan": local["median_s"] < TARGET_LOCAL_S and local["peak_rss_mb"] < TARGET_LOCAL_RSS_MB,
    }
    if "oscap_chroot" in got:
        result["oscap_chroot_profile"] = PROFILE
        ratio = got["oscap_chroot"]["median_s"] / root["median_s"]
        result["ratios"]["oscap_chroot_over_root_scan"] = round(ratio, 1)  # type: ignore[index]
        result["ratios"]["oscap_chroot_over_root_scan_cpu"] = round(  # type: ignore[index]
            got["oscap_chroot"]["median_cpu_s"] / root["median_cpu_s"], 1)
        meets["oscap_chroot_over_root_scan"] = ratio >= TARGET_OSCAP_RATIO
    else:
        result["oscap_chroot"] = {"skipped": oscap_missing}
    if counted:
        result["instructions"] = counted
        result["ratios"]["instructions_root_scan_vs_interpreter_start"] = round(  # type: ignore[index]
            counted["root_scan"] / counted["interpreter_start"], 1)
        result["ratios"]["instructions_root_scan_uncached_vs_cached"] = round(  # type: ignore[index]
            counted["root_scan_uncached"] / counted["root_scan"], 2)
        if "oscap_chroot" in counted:
            result["ratios"]["instructions_oscap_chroot_over_root_scan"] = round(  # type: ignore[index]
                counted["oscap_chroot"] / counted["root_scan"], 1)
    result["meets_targets"] = meets
    out = HERE / "results" / "scan.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

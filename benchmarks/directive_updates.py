"""Signed directive updates: what an update costs a host, and what an installed signed set adds
to every scan.

    .venv/bin/python benchmarks/directive_updates.py [--runs N]  ->  benchmarks/results/directive_updates.json

A repository is made for the run (fresh keys) holding a new directive and version 2 of the whole
HARDEN-30D folder (its digest is not in the shipped validated.json, so every scan validates it
against the schema, the worst case), served by a static HTTP server on 127.0.0.1.

- update: ``fedharden directives update --url`` as a process (interpreter start, python-tuf's
  imports, the whole client workflow, the install), first into an empty state directory and then
  with nothing new; baseline in the same run: ``fedharden directives list`` as a process.
- scan: ``fedharden scan --root ROOT --format json`` of a small fixture root, with an empty
  state directory (baseline) and with the signed set installed: the ratio is what the signed set
  adds to every scan.
"""
from __future__ import annotations

import argparse
import functools
import http.server
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from directives import tufrepo  # noqa: E402

FEDHARDEN = str(Path(sys.executable).with_name("fedharden"))
RESULTS = ROOT / "benchmarks" / "results" / "directive_updates.json"
ED = """id: ED-26-98
title: Benchmark directive
issuer: CISA
kind: emergency_directive
issued: 2026-11-20
requirements:
  - id: ED-26-98.1
    title: IP forwarding is off
    severity: critical
    due: 2026-12-31
    rationale: r
    remediation: sysctl -w net.ipv4.ip_forward=0
    references: {nist_800_53: [SC-7]}
    check: {type: sysctl, key: net.ipv4.ip_forward, default: 0, equals: 0}
"""


def run(argv: list[str]) -> float:
    """Wall seconds of one child process (its output discarded); it must exit 0 or 1."""
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        os.execv(argv[0], argv)
    _, status, _ = os.wait4(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1):
        raise SystemExit(f"{' '.join(argv)} exited with {code}")
    return time.perf_counter() - start


def stats(walls: list[float]) -> dict[str, float]:
    return {"median_s": round(statistics.median(walls), 4), "min_s": round(min(walls), 4),
            "max_s": round(max(walls), 4)}


def site(base: Path) -> Path:
    """Keys, a repository and CISA's publication; returns the repository."""
    src = base / "src"
    (src / "data").mkdir(parents=True)
    (src / "ed-26-98.yaml").write_text(ED)
    shutil.copytree(ROOT / "directives" / "library" / "harden-30d", src / "harden-30d")
    header = src / "harden-30d" / "directive.yaml"
    header.write_text(header.read_text().replace("issued: 2026-06-02\n", "issued: 2026-06-02\nversion: 2\n", 1))
    shutil.copy(ROOT / "directives" / "data" / "end_of_support.yaml", src / "data" / "end_of_support.yaml")
    tufrepo.init(base / "repo", base / "keys")
    tufrepo.publish(base / "repo", base / "keys", src)
    return base / "repo"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=11)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="fedharden-bench-"))
    try:
        repo = site(base)
        www = base / "www" / "api" / "v1"
        www.mkdir(parents=True)
        (www / "tuf").symlink_to(repo)
        handler = functools.partial(Quiet, directory=str(base / "www"))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_port}/api/v1/tuf/"
        root_file = repo / "metadata" / "1.root.json"
        fixture = base / "root"
        (fixture / "etc").mkdir(parents=True)
        (fixture / "etc" / "os-release").write_text('ID=debian\nVERSION_ID="12"\n')
        empty = base / "empty-state"

        def update(state: Path) -> list[str]:
            return [FEDHARDEN, "directives", "update", "--quiet", "--url", url, "--trusted-root", str(root_file),
                    "--state-dir", str(state)]

        first = [run(update(base / f"state-{i}")) for i in range(args.runs)]
        installed = base / "state-0"
        again = [run(update(installed)) for _ in range(args.runs)]
        listing = [run([FEDHARDEN, "directives", "list", "--state-dir", str(empty)]) for _ in range(args.runs)]

        def scan(state: Path) -> list[str]:
            return [FEDHARDEN, "scan", "--root", str(fixture), "--format", "json", "-o", os.devnull,
                    "--state-dir", str(state)]

        run(scan(empty))
        plain, signed = [], []
        for _ in range(args.runs):  # alternated, so load changes hit both alike
            plain.append(run(scan(empty)))
            signed.append(run(scan(installed)))
        server.shutdown()
        server.server_close()
        result: dict[str, Any] = {
            "what": "fedharden directives update (python-tuf over HTTP on loopback) and scans with a signed set installed",
            "runs": args.runs,
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "kernel": platform.release(),
                        "load_average_at_end": [round(x, 2) for x in os.getloadavg()]},
            "signed_set": "ED-26-98 (new) and HARDEN-30D version 2 (the whole folder; schema-validated at install, "
                          "its digest trusted at scans)",
            "baseline_directives_list": stats(listing),
            "update_first": stats(first),
            "update_nothing_new": stats(again),
            "ratio_update_first_vs_list": round(statistics.median(first) / statistics.median(listing), 2),
            "scan_shipped_only": stats(plain),
            "scan_with_signed_set": stats(signed),
            "ratio_scan_signed_vs_shipped": round(statistics.median(signed) / statistics.median(plain), 2),
        }
    finally:
        shutil.rmtree(base, ignore_errors=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


if __name__ == "__main__":
    main()

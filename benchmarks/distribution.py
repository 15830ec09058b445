"""Signed directive distribution end to end, every part a real process on loopback
(tests/distribution.py: the publisher's commands, a national collector serving the repository,
an agency collector mirroring it and forwarding rollups, one enrolled host):

- time from ``fedharden directives publish`` to: the agency mirror serving it, the host's
  next ``run --once`` having evaluated and delivered it, the agency rollups and the national
  rollups showing it. The host's cycle is started as soon as the mirror serves the new state,
  so these are the mechanics' latency; in service add up to ``--directives-interval`` (mirror)
  and up to ``run --interval`` plus splay (host);
- what the host sends and receives (bytes through a counting TCP proxy in front of the agency
  collector): the cycle that picks the new directive up, split into the directive update and
  the report, and a cycle with nothing new; each against a full report, measured in the same
  run (a second host's first submission);
- the time a cycle takes with its directive update against one without
  (``run --once --no-directive-updates``), as a ratio.

Usage: .venv/bin/python benchmarks/distribution.py [--runs N] -> benchmarks/results/distribution.json
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
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from tests.distribution import HOST_FILES, MACHINE_ID, Distribution, fh, ok  # noqa: E402


def write_root(path: Path, machine_id: str = MACHINE_ID) -> Path:
    for name, text in {**HOST_FILES, "/etc/machine-id": machine_id}.items():
        target = path / name.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    (path / "etc" / "shadow").chmod(0o640)
    return path


def cycle_bytes(d: Distribution, *args: str) -> tuple[dict[str, int], float]:
    """The bytes one command of the host moves through the proxy, and its wall time."""
    assert d.proxy is not None
    d.proxy.reset()
    started = time.monotonic()
    done = fh(*args)
    elapsed = time.monotonic() - started
    assert done.returncode in (0, 1, 4), f"fedharden {' '.join(args)}: exit {done.returncode}\n{done.stderr}"
    time.sleep(0.2)  # the proxy's pumps finish counting the last answer
    up, down = d.proxy.reset()
    return {"sent": up, "received": down}, elapsed


def one_run(workdir: Path, n: int) -> dict[str, Any]:
    d = Distribution(workdir, write_root(workdir / "host-root"), mirror_interval=1.0, forward_interval=1.0)
    d.ceremony()
    d.start()
    try:
        d.enroll()
        state, root = str(d.state), str(d.host_root)
        first, _ = cycle_bytes(d, "run", "--once", "--state-dir", state, "--root", root)

        # A new directive, from the publisher's command to both rollups.
        directive = f"BOD-26-{10 + n:02d}"
        published = d.publish(directive)
        publish_done = time.monotonic()
        mirrored = d.wait_mirrored()
        picked_up, cycle_s = cycle_bytes(d, "run", "--once", "--state-dir", state, "--root", root)
        evaluated = time.monotonic()
        assert directive in {x["id"] for x in d.last_report()["directives"]}
        agency_rollup = d.wait_rollup("agency", directive)
        national_rollup = d.wait_rollup("national", directive)

        # The same, split: the update alone, then the report alone.
        split_directive = f"BOD-26-{50 + n:02d}"
        d.publish(split_directive)
        d.wait_mirrored()
        update_only, _ = cycle_bytes(d, "directives", "update", "--state-dir", state)
        report_only, _ = cycle_bytes(d, "scan", "--submit", "--quiet", "--state-dir", state, "--root", root)

        # Nothing new: the steady state of every hourly cycle.
        idle, idle_s = cycle_bytes(d, "run", "--once", "--state-dir", state, "--root", root)
        idle_update, _ = cycle_bytes(d, "directives", "update", "--state-dir", state)
        _, baseline_s = cycle_bytes(d, "run", "--once", "--no-directive-updates", "--state-dir", state,
                                    "--root", root)

        # Baseline: a full report, as a second host's first submission sends one.
        other_state = workdir / "host2-state"
        other_root = write_root(workdir / "host2-root", "fedcba9876543210fedcba9876543210\n")
        assert d.proxy is not None
        ok("enroll", "--collector", d.proxy.url, "--agency", "AG1", "--root", str(other_root),
           "--state-dir", str(other_state), env={"FEDHARDEN_ENROLL_SECRET": d.tokens["enroll"]})
        full, _ = cycle_bytes(d, "scan", "--submit", "--quiet", "--state-dir", str(other_state),
                              "--root", str(other_root))
        results = len(d.last_report()["directives"])
    finally:
        d.stop()
    return {
        "seconds": {
            "publish_command": round(publish_done - published, 3),
            "publish_to_mirrored": round(mirrored - published, 3),
            "publish_to_evaluated": round(evaluated - published, 3),
            "publish_to_agency_rollup": round(agency_rollup - published, 3),
            "publish_to_national_rollup": round(national_rollup - published, 3),
            "cycle_with_new_directive": round(cycle_s, 3),
            "cycle_nothing_new": round(idle_s, 3),
            "cycle_without_update": round(baseline_s, 3),
        },
        "bytes": {"first_cycle": first, "cycle_with_new_directive": picked_up, "update_with_new_directive": update_only,
                  "report_after_new_directive": report_only, "cycle_nothing_new": idle,
                  "update_nothing_new": idle_update, "full_report": full},
        "directives_evaluated": results,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    runs = []
    for n in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="fedharden-distribution-") as tmp:
            runs.append(one_run(Path(tmp), n))
            print(f"run {n + 1}/{args.runs}: {json.dumps(runs[-1]['seconds'])}", file=sys.stderr)

    def median(section: str, key: str, sub: str | None = None) -> float:
        return statistics.median(r[section][key][sub] if sub else r[section][key] for r in runs)

    full_sent = median("bytes", "full_report", "sent")
    out = {
        "what": "signed directive distribution: publish to evaluated, and the bytes a host moves, vs a full report",
        "machine": {"python": platform.python_version(), "kernel": platform.release(), "cpus": os.cpu_count(),
                    "loadavg_at_end": round(os.getloadavg()[0], 2)},
        "runs": args.runs,
        "median_seconds": {k: median("seconds", k) for k in runs[0]["seconds"]},
        "median_bytes": {k: {way: median("bytes", k, way) for way in ("sent", "received")} for k in runs[0]["bytes"]},
        "ratios": {
            "update_with_new_directive_sent_vs_full_report_sent":
                round(median("bytes", "update_with_new_directive", "sent") / full_sent, 3),
            "update_nothing_new_sent_vs_full_report_sent": round(median("bytes", "update_nothing_new", "sent") / full_sent, 3),
            "cycle_with_new_directive_sent_vs_full_report_sent":
                round(median("bytes", "cycle_with_new_directive", "sent") / full_sent, 3),
            "cycle_nothing_new_sent_vs_full_report_sent": round(median("bytes", "cycle_nothing_new", "sent") / full_sent, 3),
            "cycle_nothing_new_time_vs_without_update":
                round(median("seconds", "cycle_nothing_new") / median("seconds", "cycle_without_update"), 3),
        },
        "all_runs": runs,
    }
    target = HERE / "results" / "distribution.json"
    target.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps({k: out[k] for k in ("median_seconds", "ratios")}, indent=2))


if __name__ == "__main__":
    main()

"""Remediation benchmark: how much of the weak Debian 12 root `fix --apply --root` fixes, and
that applying again changes nothing.

    python benchmarks/remediation.py [--root tests/.cache/bookworm]   # results in benchmarks/results/remediation.json

The weak root is the Debian 12 minbase root the tests build (tests/.cache/bookworm), copied
(cp -a) to a temporary directory; the original is never changed and this machine never is.
Steps, each through the command line as a sysadmin runs it:

1. scan the copy (JSON): the failing requirements, and those of them with a structured fix;
2. ``fix --apply --root COPY --scan-now --include-disruptive`` (packages come from the
   Debian mirror the root names, through apt-get inside the copy);
3. scan again: the share of the failing requirements with a structured fix that now pass
   (the issue's target: at least 90%), and what still fails and why;
4. ``fix --apply`` again: it must plan nothing, and the copy's /etc and dpkg database must
   be byte for byte what the first apply left (idempotence);
5. ``fix --rollback``: what the scan finds after it, against step 1.

Baseline measured in the same run: the time of one scan of the copy; the apply's time is
given as a ratio to it (most of it is apt-get downloading and configuring packages).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from checks.fixes import is_manual  # noqa: E402
from directives import load_library  # noqa: E402

FEDHARDEN = str(Path(sys.executable).with_name("fedharden"))


def run(*args: str) -> tuple[subprocess.CompletedProcess[str], float]:
    start = time.monotonic()
    proc = subprocess.run([FEDHARDEN, *args], capture_output=True, text=True, timeout=3600, check=False)
    return proc, time.monotonic() - start


def scan(root: Path) -> tuple[dict[str, str], float]:
    proc, took = run("scan", "--root", str(root), "--format", "json")
    if proc.returncode not in (0, 1, 4):
        raise SystemExit(f"scan failed: {proc.stderr}")
    report = json.loads(proc.stdout)
    status: dict[str, str] = {}
    for r in report["results"]:
        if status.get(r["requirement"]) not in ("fail", "error"):
            status[r["requirement"]] = r["status"]
    return status, took


def digest(root: Path) -> str:
    """Every file, link and mode under /etc and the dpkg database, as one digest."""
    sha = hashlib.sha256()
    for top in ("etc", "var/lib/dpkg/status", "usr/share/pam-configs"):
        base = root / top
        paths = [base] if base.is_file() else sorted(p for p in base.rglob("*"))
        for p in paths:
            st = p.lstat()
            sha.update(f"{p.relative_to(root)}\0{st.st_mode:o}\0{st.st_uid}\0{st.st_gid}\0".encode())
            if p.is_symlink():
                sha.update(os.readlink(p).encode())
            elif p.is_file():
                sha.update(p.read_bytes())
    return sha.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", default=str(ROOT / "tests/.cache/bookworm"))
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/remediation.json"))
    args = parser.parse_args()
    fixes = {r.id: r.fix for d in load_library() for r in d.requirements}
    with tempfile.TemporaryDirectory(prefix="fedharden-remediation-") as tmp:
        copy, state = Path(tmp) / "root", Path(tmp) / "state"
        subprocess.run(["cp", "-a", args.root, str(copy)], check=True, timeout=600)
        before, scan_s = scan(copy)
        failing = sorted(r for r, s in before.items() if s in ("fail", "error"))
        structured = [r for r in failing if fixes.get(r) is not None and not is_manual(fixes[r])]
        applied, apply_s = run("fix", "--root", str(copy), "--state-dir", str(state), "--scan-now", "--apply",
                               "--include-disruptive")
        summary = next((line for line in applied.stdout.splitlines() if line.startswith("applied ")), "")
        after, _ = scan(copy)
        fixed = [r for r in structured if after.get(r) in ("pass", "not_applicable")]
        still = {r: after.get(r, "absent") for r in structured if r not in fixed}
        new_failures = sorted(r for r, s in after.items() if s in ("fail", "error") and r not in failing)
        first = digest(copy)
        again, again_s = run("fix", "--root", str(copy), "--state-dir", str(state), "--scan-now", "--apply",
                             "--include-disruptive")
        second = digest(copy)
        apply_id = summary.split()[1].rstrip(":") if summary else ""
        rolled, rollback_s = run("fix", "--root", str(copy), "--state-dir", str(state), "--rollback", apply_id)
        restored, _ = scan(copy)
        back = sorted(r for r in failing if restored.get(r) in ("fail", "error"))
    result: dict[str, Any] = {
        "what": "fix --apply --root on a copy of the weak Debian 12 root: share fixed, idempotence, rollback",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "kernel": platform.release()},
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
        "failing_before": len(failing),
        "failing_with_structured_fix": len(structured),
        "fixed": len(fixed),
        "fixed_share": round(len(fixed) / len(structured), 4) if structured else None,
        "still_failing": still,
        "newly_failing_after_apply": new_failures,
        "apply_exit_code": applied.returncode,
        "apply_summary": summary or applied.stderr.strip(),
        "second_apply": {"exit_code": again.returncode, "planned_nothing": "nothing to apply" in again.stdout,
                         "etc_and_dpkg_unchanged": first == second, "wall_s": round(again_s, 2)},
        "rollback": {"exit_code": rolled.returncode, "message": (rolled.stdout or rolled.stderr).strip(),
                     "originally_failing_failing_again": len(back),
                     "originally_failing_not_failing_after_rollback": sorted(set(failing) - set(back)),
                     "wall_s": round(rollback_s, 2)},
        "baseline_scan_wall_s": round(scan_s, 2),
        "apply_wall_s": round(apply_s, 2),
        "apply_vs_scan": round(apply_s / scan_s, 1) if scan_s else None,
    }
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

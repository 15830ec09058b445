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
5. ``fix --rollback``: what the scan finds after it, against step 1;
6. the generators, each on its own copy: ``fix --format bash`` run with ``chroot COPY /bin/bash``
   and ``fix --format ansible`` run with ``ansible-playbook -c community.general.chroot``, in
   rounds as the apply (planned again from a scan while the plan is not empty, at most three);
   each round's artifact run again right after it: the copy's /etc and dpkg database unchanged,
   the playbook's recap changed=0; their re-scans compared requirement by requirement with the
   apply's (step 3).

Baseline measured in the same run: the time of one scan of the copy; the apply's time is
given as a ratio to it (most of it is apt-get downloading and configuring packages).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
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


ROUNDS = 3


def generated(root: Path, fmt: str, tmp: Path) -> dict[str, Any]:
    """Fix ``root`` with the generated ``fmt`` artifact in rounds, then run each again."""
    rounds = 0
    took = 0.0
    unchanged = True
    changed = 0
    for n in range(ROUNDS):
        plan, _ = run("fix", "--root", str(root), "--scan-now", "--include-disruptive", "--format", "json")
        if plan.returncode != 0 or not json.loads(plan.stdout)["changes"]:
            break
        out = tmp / f"{fmt}-{n}"
        made, _ = run("fix", "--root", str(root), "--scan-now", "--include-disruptive", "--format", fmt, "-o", str(out))
        if made.returncode != 0:
            return {"error": made.stderr.strip()}
        ok, wall, _ = run_artifact(root, fmt, out, tmp)
        took += wall
        if not ok:
            return {"error": f"{fmt} round {n + 1} failed"}
        rounds += 1
        first = digest(root)  # the same artifact again, right after: nothing may change
        ok, _, n_changed = run_artifact(root, fmt, out, tmp)
        unchanged = unchanged and ok and digest(root) == first
        changed += n_changed
    status, _ = scan(root)
    return {"status": status, "rounds": rounds, "wall_s": round(took, 2),
            "second_run": {"etc_and_dpkg_unchanged": unchanged,
                           **({"ansible_changed": changed} if fmt == "ansible" else {})}}


def run_artifact(root: Path, fmt: str, artifact: Path, tmp: Path) -> tuple[bool, float, int]:
    """Run a generated script in a chroot of ``root``, or a playbook with the chroot connection:
    (success, seconds, tasks changed)."""
    start = time.monotonic()
    if fmt == "bash":
        inside = root / "tmp" / "fedharden-fix.sh"
        inside.write_bytes(artifact.read_bytes())
        proc = subprocess.run(["chroot", str(root), "/bin/bash", "/tmp/fedharden-fix.sh"], capture_output=True,
                              text=True, timeout=3600, check=False, stdin=subprocess.DEVNULL)
        inside.unlink()
        return proc.returncode == 0, time.monotonic() - start, 0
    env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_HOME": str(tmp / "ansible"),
           "ANSIBLE_LOCAL_TEMP": str(tmp / "ansible" / "tmp")}
    proc = subprocess.run([str(Path(FEDHARDEN).with_name("ansible-playbook")), "-i", f"{root},", "-c",
                           "community.general.chroot", str(artifact)], capture_output=True, text=True, timeout=3600,
                          check=False, env=env, stdin=subprocess.DEVNULL)
    found = re.search(r"changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)", proc.stdout)
    ok = proc.returncode == 0 and found is not None and found.group(2) == "0"
    return ok, time.monotonic() - start, int(found.group(1)) if found else 0


def compare(apply: dict[str, str], other: dict[str, str]) -> dict[str, Any]:
    differ = {r: {"apply": apply.get(r, "absent"), "generated": other.get(r, "absent")}
              for r in sorted(set(apply) | set(other)) if apply.get(r) != other.get(r)}
    return {"requirements_compared": len(set(apply) | set(other)), "same": len(set(apply) | set(other)) - len(differ),
            "differences": differ}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", default=str(ROOT / "tests/.cache/bookworm"))
    parser.add_argument("--out", default=str(ROOT / "benchmarks/results/remediation.json"))
    parser.add_argument("--no-generators", action="store_true", help="Leave out step 6 (Bash and Ansible).")
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
        equivalence: dict[str, Any] = {}
        for fmt in () if args.no_generators else ("bash", "ansible"):
            other = Path(tmp) / fmt
            subprocess.run(["cp", "-a", args.root, str(other)], check=True, timeout=600)
            got = generated(other, fmt, Path(tmp))
            if "status" in got:
                status = got.pop("status")
                got.update(compare(after, status))
                got["fixed"] = sum(1 for r in structured if status.get(r) in ("pass", "not_applicable"))
            equivalence[fmt] = got
            subprocess.run(["rm", "-rf", "--one-file-system", str(other)], check=False, timeout=600)
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
        "generators": equivalence,
        "baseline_scan_wall_s": round(scan_s, 2),
        "apply_wall_s": round(apply_s, 2),
        "apply_vs_scan": round(apply_s / scan_s, 1) if scan_s else None,
    }
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

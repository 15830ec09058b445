"""fix --apply --root on copies of the real Debian 12 root: the re-scan's verdict, rollback, and
bad input (a write outside the root, a symlink out of it, a device, a read-only file system, a
full disk, no package manager): the apply stops, restores what it changed and says which
requirement and why in one line. Never against this machine."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # copies of a real root, whole scans, real programs

FEDHARDEN = str(Path(sys.executable).with_name("fedharden"))
QUICK = ("HARDEN-30D.NET.2", "HARDEN-30D.MOD.1", "HARDEN-30D.BANNER.3", "HARDEN-30D.ACCT.4")


def copy_root(source: Path, tmp_path: Path) -> Path:
    root = tmp_path / "root"
    subprocess.run(["cp", "-a", str(source), str(root)], check=True, timeout=300)
    return root


def fix(root: Path, state: Path, *args: str, launcher: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    argv = [FEDHARDEN, "fix", "--root", str(root), "--state-dir", str(state), *args]
    return subprocess.run([*(launcher or []), *argv], capture_output=True, text=True, timeout=1200, check=False)


def only(*requirements: str) -> list[str]:
    return [a for r in requirements for a in ("--requirement", r)]


def tree_digest(root: Path, paths: list[str]) -> dict[str, str]:
    out = {}
    for p in paths:
        local = root / p.lstrip("/")
        if local.is_symlink():
            out[p] = "link:" + os.readlink(local)
        elif local.is_dir() or local.is_char_device():
            out[p] = f"special:{local.stat().st_mode:o}"
        elif local.exists():
            st = local.stat()
            out[p] = f"{st.st_mode:o}:{st.st_uid}:{st.st_gid}:" + hashlib.sha256(local.read_bytes()).hexdigest()
        else:
            out[p] = "absent"
    return out


TOUCHED = ["/etc/sysctl.d/99-zz-fedharden.conf", "/etc/modprobe.d/fedharden-cramfs.conf", "/etc/issue.net",
           "/etc/login.defs"]


def test_apply_fixes_reports_and_rolls_back(debian_rootfs: Path, tmp_path: Path) -> None:
    root, state = copy_root(debian_rootfs, tmp_path), tmp_path / "state"
    before = tree_digest(root, TOUCHED)
    plan = fix(root, state, "--scan-now", *only(*QUICK))
    assert plan.returncode == 0, plan.stderr
    assert "# /etc/login.defs in " in plan.stdout and "+PASS_MAX_DAYS 365" in plan.stdout
    assert tree_digest(root, TOUCHED) == before  # a plan changes nothing
    applied = fix(root, state, "--scan-now", "--apply", *only(*QUICK))
    assert applied.returncode == 0, applied.stdout + applied.stderr
    line = next(x for x in applied.stdout.splitlines() if x.startswith("applied "))
    assert line.endswith(": 4 fixed, 0 still failing")
    apply_id = line.split()[1].rstrip(":")
    journal = json.loads((state / "fixes" / apply_id / "journal.json").read_text())
    assert journal["status"] == "applied" and sorted(journal["result"]["fixed"]) == sorted(QUICK)
    again = fix(root, state, "--scan-now", "--apply", *only(*QUICK))
    assert again.returncode == 0 and "nothing to apply" in again.stdout  # idempotent
    rolled = fix(root, state, "--rollback", apply_id)
    assert rolled.returncode == 0, rolled.stderr
    assert tree_digest(root, TOUCHED) == before
    assert fix(root, state, "--rollback", apply_id).returncode == 2  # once only


def test_rollback_needs_the_same_root(debian_rootfs: Path, tmp_path: Path) -> None:
    root, state = copy_root(debian_rootfs, tmp_path), tmp_path / "state"
    assert fix(root, state, "--scan-now", "--apply", *only("HARDEN-30D.MOD.1")).returncode == 0
    other = tmp_path / "other"
    (other / "etc").mkdir(parents=True)
    wrong = fix(other, state, "--rollback")
    assert wrong.returncode == 2 and f"changed {root}" in wrong.stderr


def failed_one_line(proc: subprocess.CompletedProcess[str], requirement: str, why: str) -> None:
    assert proc.returncode == 3, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and requirement in lines[0] and why in lines[0] and "rolled back" in lines[0], lines
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("kind", ["symlink", "device", "directory"])
def test_a_bad_target_stops_the_apply_and_restores_the_rest(debian_rootfs: Path, tmp_path: Path, kind: str) -> None:
    root, state = copy_root(debian_rootfs, tmp_path), tmp_path / "state"
    issue = root / "etc/issue.net"
    issue.unlink()
    outside = tmp_path / "outside"
    outside.write_text("not the image's\n")
    if kind == "symlink":
        issue.symlink_to("../" * 12 + str(outside).lstrip("/"))
    elif kind == "device":
        os.mknod(issue, 0o600 | 0o020000, os.makedev(1, 3))  # a character device, like /dev/null
    else:
        issue.mkdir()
    before = tree_digest(root, TOUCHED)
    proc = fix(root, state, "--scan-now", "--apply", *only(*QUICK))
    why = {"symlink": "symbolic link out of the root", "device": "is a character device",
           "directory": "is a directory"}[kind]
    failed_one_line(proc, "HARDEN-30D.BANNER.3", why)
    assert tree_digest(root, TOUCHED) == before
    assert outside.read_text() == "not the image's\n"


def test_a_fix_writing_outside_the_root_is_refused_at_load(tmp_path: Path, debian_rootfs: Path) -> None:
    directive = tmp_path / "d.yaml"
    directive.write_text(
        "id: AGENCY-X\ntitle: t\nissuer: i\nkind: agency\nissued: 2026-01-01\nrequirements:\n"
        "  - id: AGENCY-X.1\n    title: t\n    severity: low\n    due: 2026-02-01\n    rationale: r\n"
        "    references: {nist_800_53: [CM-6]}\n    check: {type: file, path: /etc/x, kind: file}\n"
        "    fix: {type: file_content, path: /etc/../../x, content: y}\n")
    proc = fix(debian_rootfs, tmp_path / "state", "--scan-now", "--directives", str(directive))
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"{directive}:14: $.requirements[0].fix.path: '/etc/../../x' should not be valid")


def in_namespace(*mounts: list[str]) -> list[str]:
    """A launcher: a private mount namespace, these mount(8) argv run in it, then the program."""
    code = ("import json, os, subprocess, sys\n"
            "for m in json.loads(sys.argv[1]):\n    subprocess.run(m, check=True)\n"
            "os.execv(sys.argv[2], sys.argv[2:])\n")
    return ["unshare", "--mount", "--propagation", "private", "--", sys.executable, "-c", code, json.dumps(mounts)]


def test_read_only_file_system(debian_rootfs: Path, tmp_path: Path) -> None:
    root, state = copy_root(debian_rootfs, tmp_path), tmp_path / "state"
    (root / "etc/modprobe.d").mkdir(exist_ok=True)  # minbase has none: the fix would make it
    etc = str(root / "etc/modprobe.d")
    before = tree_digest(root, TOUCHED)
    proc = fix(root, state, "--scan-now", "--apply", *only(*QUICK),
               launcher=in_namespace(["mount", "--bind", etc, etc], ["mount", "-o", "remount,ro,bind", etc]))
    failed_one_line(proc, "HARDEN-30D.MOD.1", "Read-only file system")
    assert tree_digest(root, TOUCHED) == before


def test_disk_full_mid_apply(debian_rootfs: Path, tmp_path: Path) -> None:
    root, state = copy_root(debian_rootfs, tmp_path), tmp_path / "state"
    modprobe = root / "etc/modprobe.d"
    modprobe.mkdir(exist_ok=True)
    before = tree_digest(root, TOUCHED)
    filler = ["dd", "if=/dev/zero", f"of={modprobe}/zz-filler", "bs=4096", "count=16", "status=none"]
    proc = fix(root, state, "--scan-now", "--apply", *only(*QUICK), launcher=in_namespace(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(modprobe)], filler))
    failed_one_line(proc, "HARDEN-30D.MOD.1", "No space left on device")
    assert tree_digest(root, TOUCHED) == before


def test_no_package_manager(debian_rootfs: Path, tmp_path: Path) -> None:
    root, state = copy_root(debian_rootfs, tmp_path), tmp_path / "state"
    (root / "usr/bin/apt-get").unlink()
    proc = fix(root, state, "--scan-now", "--apply", *only("HARDEN-30D.MOD.1", "HARDEN-30D.UPD.1"))
    failed_one_line(proc, "HARDEN-30D.UPD.1", "no package manager")
    assert not (root / "etc/modprobe.d/fedharden-cramfs.conf").exists()


def statuses(root: Path) -> dict[str, str]:
    proc = subprocess.run([FEDHARDEN, "scan", "--root", str(root), "--format", "json"], capture_output=True,
                          text=True, timeout=300, check=False)
    assert proc.returncode in (0, 1, 4), proc.stderr
    out: dict[str, str] = {}
    for r in json.loads(proc.stdout)["results"]:
        if out.get(r["requirement"]) not in ("fail", "error"):
            out[r["requirement"]] = r["status"]
    return out


def test_the_weak_root_is_fixed_and_a_second_apply_changes_nothing(debian_rootfs: Path, tmp_path: Path) -> None:
    """The issue's figure: at least 90% of the failing requirements with a structured fix pass
    after one apply (packages from the Debian mirror the root names, apt-get in the copy)."""
    from checks.fixes import is_manual
    from directives import load_library

    fixes = {r.id: r.fix for d in load_library() for r in d.requirements}
    root, state = copy_root(debian_rootfs, tmp_path), tmp_path / "state"
    before = statuses(root)
    structured = [r for r, s in before.items() if s in ("fail", "error") and fixes[r] and not is_manual(fixes[r])]
    applied = fix(root, state, "--scan-now", "--apply", "--include-disruptive")
    assert applied.returncode in (0, 1), applied.stderr
    after = statuses(root)
    fixed = [r for r in structured if after[r] in ("pass", "not_applicable")]
    assert len(fixed) >= 0.9 * len(structured), {r: after[r] for r in structured if r not in fixed}
    etc = tree_digest(root, [str(p.relative_to(root)) for p in sorted((root / "etc").rglob("*")) if p.is_file()])
    again = fix(root, state, "--scan-now", "--apply", "--include-disruptive")
    assert again.returncode == 0 and "nothing to apply" in again.stdout, again.stdout
    assert tree_digest(root, list(etc)) == etc

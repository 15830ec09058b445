"""fix --format bash and --format ansible on copies of the real Debian 12 root: the generated
script run in a chroot of one copy and the generated playbook run with the chroot connection on
another give the same re-scan, requirement by requirement, as ``fix --apply --root`` on a third;
each artifact run a second time right after the first changes nothing. Never against this machine."""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # three copies of a real root, packages from the mirror, whole scans

BIN = Path(sys.executable).parent
FEDHARDEN = str(BIN / "fedharden")
ROUNDS = 3  # as fix --apply: installing a package can make more requirements judged


def copy_root(source: Path, where: Path) -> Path:
    subprocess.run(["cp", "-a", str(source), str(where)], check=True, timeout=600)
    return where


def fedharden(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([FEDHARDEN, *args], capture_output=True, text=True, timeout=3600, check=False)


def statuses(root: Path) -> dict[str, tuple[str, str]]:
    """Each requirement's worst status in a scan of ``root``, and its first failure's message."""
    proc = fedharden("scan", "--root", str(root), "--format", "json")
    assert proc.returncode in (0, 1), proc.stderr
    out: dict[str, tuple[str, str]] = {}
    for r in json.loads(proc.stdout)["results"]:
        rid, status = r["requirement"], r["status"]
        if out.get(rid, ("",))[0] not in ("fail", "error"):
            out[rid] = (status, " ".join(str(r.get("message") or "").split()))
    return out


def digest(root: Path) -> str:
    """/etc, dpkg's database and the PAM profiles: modes, owners, links and contents."""
    sha = hashlib.sha256()
    for top in ("etc", "var/lib/dpkg/status", "usr/share/pam-configs"):
        base = root / top
        for p in [base] if base.is_file() else sorted(base.rglob("*")):
            st = p.lstat()
            sha.update(f"{p.relative_to(root)}\0{st.st_mode:o}\0{st.st_uid}\0{st.st_gid}\0".encode())
            if p.is_symlink():
                sha.update(os.readlink(p).encode())
            elif p.is_file():
                sha.update(p.read_bytes())
    return sha.hexdigest()


def generate(root: Path, fmt: str, out: Path) -> int:
    """Write the plan of ``root``'s failures as ``fmt``; the number of requirements it fixes."""
    plan = fedharden("fix", "--root", str(root), "--scan-now", "--include-disruptive", "--format", "json")
    assert plan.returncode == 0, plan.stderr
    proc = fedharden("fix", "--root", str(root), "--scan-now", "--include-disruptive", "--format", fmt, "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    return len(json.loads(plan.stdout)["changes"])


def run_bash(root: Path, script: Path) -> subprocess.CompletedProcess[str]:
    inside = root / "tmp" / "fedharden-fix.sh"
    shutil.copyfile(script, inside)
    try:
        return subprocess.run(["chroot", str(root), "/bin/bash", "/tmp/fedharden-fix.sh"], capture_output=True,
                              text=True, timeout=1800, check=False, stdin=subprocess.DEVNULL)
    finally:
        inside.unlink()


def run_ansible(root: Path, playbook: Path, tmp: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_LOCAL_TEMP": str(tmp / "ansible-local"),
           "ANSIBLE_HOME": str(tmp / "ansible-home"), "ANSIBLE_RETRY_FILES_ENABLED": "0"}
    return subprocess.run([str(BIN / "ansible-playbook"), "-i", f"{root},", "-c", "community.general.chroot",
                           str(playbook)], capture_output=True, text=True, timeout=1800, check=False, env=env,
                          stdin=subprocess.DEVNULL)


def recap(proc: subprocess.CompletedProcess[str]) -> dict[str, int]:
    found = re.search(r"ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", proc.stdout)
    assert found, proc.stdout[-3000:] + proc.stderr[-3000:]
    return dict(zip(("ok", "changed", "unreachable", "failed"), map(int, found.groups())))


def differences(a: dict[str, tuple[str, str]], b: dict[str, tuple[str, str]]) -> list[str]:
    return [f"{rid}: {a.get(rid, ('absent', ''))} vs {b.get(rid, ('absent', ''))}"
            for rid in sorted(set(a) | set(b)) if a.get(rid, ("absent",))[0] != b.get(rid, ("absent",))[0]]


def test_bash_and_ansible_fix_as_the_apply_does_and_run_again_changes_nothing(debian_rootfs: Path,
                                                                              tmp_path: Path) -> None:
    assert (BIN / "ansible-playbook").exists(), "ansible (the test extra) is not installed"
    a, b, c = (copy_root(debian_rootfs, tmp_path / name) for name in ("a", "b", "c"))
    before = statuses(a)

    applied = fedharden("fix", "--root", str(a), "--scan-now", "--apply", "--include-disruptive",
                        "--state-dir", str(tmp_path / "state"))
    assert applied.returncode in (0, 1), applied.stdout + applied.stderr

    scripts: list[Path] = []
    for n in range(ROUNDS):
        script = tmp_path / f"fix-{n}.sh"
        if not generate(b, "bash", script):
            break
        text = script.read_text()
        assert text.startswith("#!/bin/bash\n") and "set -euo pipefail" in text
        proc = run_bash(b, script)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        sums = digest(b)
        again = run_bash(b, script)  # idempotent: the same script again changes nothing
        assert again.returncode == 0, again.stderr[-3000:]
        assert digest(b) == sums
        scripts.append(script)
    assert scripts

    playbooks: list[Path] = []
    for n in range(ROUNDS):
        playbook = tmp_path / f"playbook-{n}.yml"
        if not generate(c, "ansible", playbook):
            break
        proc = run_ansible(c, playbook, tmp_path)
        assert proc.returncode == 0 and recap(proc)["failed"] == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
        sums = digest(c)
        again = run_ansible(c, playbook, tmp_path)  # idempotent: changed=0, and no byte changed
        assert recap(again) == {**recap(again), "changed": 0, "failed": 0}, again.stdout[-4000:]
        assert digest(c) == sums
        playbooks.append(playbook)
    assert playbooks

    after_a, after_b, after_c = statuses(a), statuses(b), statuses(c)
    assert after_a != before  # the apply fixed something to compare against
    assert differences(after_a, after_b) == []
    assert differences(after_a, after_c) == []


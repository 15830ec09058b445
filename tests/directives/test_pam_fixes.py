"""The fixes that need the target's own programs, applied to a copy of a real Debian 12 root (the
minbase debootstrap root tests/run builds, with libpam-runtime and openssh-server): the PAM fixes
through the image's pam-auth-update, run in it with chroot, and the sshd fixes checked by the
image's own `sshd -t`. A scenario tree has neither program (test_fix_scenarios.py)."""
from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from agent.fixing.apply import apply
from agent.fixing.planner import Choice, make_plan
from agent.fixing.targetfs import TargetFS
from agent.hosts.rootfs import RootfsHost
from agent.scan import Scan, Selection
from checks import fixes
from directives import load_library
from directives.model import Directive
from tests.directives import scenario

HARDEN = next(d for d in load_library() if d.id == "HARDEN-30D")
# What of the root a chroot'ed pam-auth-update and sshd -t need; the rest of /var (apt's
# archives) is left behind.
KEEP_VAR = ("lib/dpkg", "lib/pam", "cache/debconf")
# The pwquality fixes install libpam-pwquality first, which the minbase root does not have and an
# offline test cannot fetch.
NEEDS_PWQUALITY = "libpam-pwquality is not in the test root and cannot be installed offline"


def copy_root(source: Path, dest: Path) -> Path:
    dest.mkdir()
    for entry in os.scandir(source):
        if entry.name.startswith("."):
            continue
        target = dest / entry.name
        if entry.is_symlink():
            os.symlink(os.readlink(entry.path), target)
        elif entry.name in ("proc", "sys", "run", "tmp"):
            target.mkdir()
        elif entry.name == "dev":  # the device nodes debootstrap made (sshd opens /dev/null)
            target.mkdir()
            for node in os.scandir(entry.path):
                st = node.stat(follow_symlinks=False)
                if stat.S_ISCHR(st.st_mode):
                    os.mknod(target / node.name, st.st_mode, st.st_rdev)
        elif entry.name == "var":
            for sub in KEEP_VAR:
                shutil.copytree(source / "var" / sub, target / sub, symlinks=True)
        else:
            shutil.copytree(entry.path, target, symlinks=True)
    return dest


@pytest.fixture
def root(debian_rootfs: Path, tmp_path: Path) -> Path:
    return copy_root(debian_rootfs, tmp_path / "root")


def status(directive: Directive, rid: str, root: Path) -> str:
    requirement = next(r for r in directive.requirements if r.id == rid)
    report = Scan(RootfsHost(str(root)), [scenario.only(directive, requirement)], Selection(), now=scenario.NOW).run()
    return scenario.worst([r["status"] for r in report["results"]])


def with_type(name: str) -> list[str]:
    return [r.id for r in HARDEN.requirements
            if r.fix is not None and any(p.get("type") == name for p in fixes.parts(r.fix))]


def pwquality(rid: str) -> bool:
    fix = next(r.fix for r in HARDEN.requirements if r.id == rid)
    return any("libpam-pwquality" in p.get("present", ()) for p in fixes.parts(fix or {}))


@pytest.mark.slow
def test_pam_fixes_make_a_stock_debian_pass(root: Path, tmp_path: Path) -> None:
    pam = [rid for rid in with_type("pam_option") if not pwquality(rid)]
    skipped = [rid for rid in with_type("pam_option") if pwquality(rid)]
    assert len(pam) >= 10, pam
    # Left out, and said why: each of these installs libpam-pwquality first.
    assert set(skipped) == {"HARDEN-30D.ACCT.9", "HARDEN-30D.ACCT.10", *(f"HARDEN-30D.PAM.{n}" for n in range(4, 11))}, \
        (NEEDS_PWQUALITY, skipped)
    before = {rid: status(HARDEN, rid, root) for rid in pam}
    failing = [rid for rid, s in before.items() if s == "fail"]
    # Debian 12's stock stacks: nullok, no pam_faillock, no pam_pwhistory, pam_unix first.
    assert {"HARDEN-30D.ACCT.12", "HARDEN-30D.ACCT.15", "HARDEN-30D.PAM.3", "HARDEN-30D.PAM.14"} <= set(failing), before

    choice = Choice(requirements=tuple(failing), include_disruptive=True)
    plan = make_plan(TargetFS(str(root)), [HARDEN], failing, choice)
    applied = apply(plan, TargetFS(str(root)), str(tmp_path / "state"))
    assert not applied.warnings

    after = {rid: status(HARDEN, rid, root) for rid in pam}
    assert set(after.values()) == {"pass"}, after
    again = make_plan(TargetFS(str(root)), [HARDEN], failing, choice)
    assert not again.changes, [(c.requirement, c.actions) for c in again.changes]

    # What pam-auth-update wrote: the modules in the order the stacks need, pam_unix asking for
    # the password in auth (no use_authtok there, which would fail every login) and taking the
    # one pam_pwhistory accepted in password.
    auth = [line.split() for line in (root / "etc/pam.d/common-auth").read_text().splitlines()
            if line.startswith("auth")]
    modules = [next(w for w in words if w.endswith(".so")) for words in auth]
    assert modules[:3] == ["pam_faillock.so", "pam_unix.so", "pam_faillock.so"], auth
    unix_auth = next(words for words in auth if "pam_unix.so" in words)
    assert "use_authtok" not in unix_auth and "nullok" not in unix_auth, unix_auth
    password = [line.split() for line in (root / "etc/pam.d/common-password").read_text().splitlines()
                if line.startswith("password")]
    assert [next(w for w in words if w.endswith(".so")) for words in password][:2] == ["pam_pwhistory.so", "pam_unix.so"]
    assert "use_authtok" in password[1], password


@pytest.mark.slow
def test_sshd_fixes_leave_a_configuration_sshd_accepts(root: Path, tmp_path: Path) -> None:
    """Every sshd_option fix at once, then the image's own sshd checks the result (`sshd -t`),
    and each requirement passes."""
    sshd = with_type("sshd_option")
    assert len(sshd) >= 15, sshd
    plan = make_plan(TargetFS(str(root)), [HARDEN], sshd, Choice(requirements=tuple(sshd), include_disruptive=True))
    apply(plan, TargetFS(str(root)), str(tmp_path / "state"))
    after = {rid: status(HARDEN, rid, root) for rid in sshd}
    assert set(after.values()) == {"pass"}, after
    # sshd -t needs its privilege separation directory, made by the unit at start.
    (root / "run" / "sshd").mkdir(exist_ok=True)
    checked = subprocess.run(["chroot", str(root), "/usr/sbin/sshd", "-t"], capture_output=True, text=True,
                             timeout=60, check=False, stdin=subprocess.DEVNULL)
    assert checked.returncode == 0, checked.stderr

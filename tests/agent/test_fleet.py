"""Agent fleet commands without a collector: errors, status, identity checks, the shipped
systemd units, and what a plain scan does not load."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest

from agent.credential import IdentityMismatch, check, new
from agent.facts import gather
from agent.facts.context import Context
from agent.hosts import LocalHost
from checks.facts import FactKey

MakeRoot = Callable[..., Path]
FEDHARDEN = str(Path(sys.executable).with_name("fedharden"))
REPO = Path(__file__).resolve().parents[2]
ROOT = {
    "/etc/os-release": 'ID=debian\nVERSION_ID="12"\n',
    "/etc/machine-id": "0123456789abcdef0123456789abcdef\n",
    "/etc/hostname": "web1\n",
}


def fh(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([FEDHARDEN, *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


def one_line_error(done: subprocess.CompletedProcess[str], *words: str, code: int = 2) -> None:
    assert done.returncode == code, done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("fedharden: "), done.stderr
    for word in words:
        assert word in done.stderr


@pytest.mark.slow
def test_submitting_without_enrollment(make_root: MakeRoot, tmp_path: Path) -> None:
    root = make_root(ROOT)
    state = str(tmp_path / "state")
    one_line_error(fh("scan", "--submit", "--root", str(root), "--state-dir", state), "not enrolled")
    one_line_error(fh("run", "--once", "--root", str(root), "--state-dir", state), "not enrolled")
    one_line_error(fh("run", "--root", str(root), "--state-dir", state), "not enrolled")


@pytest.mark.slow
def test_enroll_refuses_what_cannot_be_safe(make_root: MakeRoot, tmp_path: Path) -> None:
    root = make_root(ROOT)
    state = tmp_path / "state"
    base = ["enroll", "--root", str(root), "--state-dir", str(state)]
    one_line_error(fh(*base, "--collector", "http://collector.example"), "enrollment secret")
    secret = {"FEDHARDEN_ENROLL_SECRET": "fhenr_not-a-real-secret"}
    one_line_error(fh(*base, "--collector", "http://collector.example", env=secret), "only allowed on loopback")
    one_line_error(fh(*base, "--collector", "ftp://127.0.0.1", env=secret), "not an http(s) URL")
    one_line_error(fh(*base, "--collector", "https://127.0.0.1", "--pin-sha256", "abc", env=secret), "64 hex digits")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    done = fh(*base, "--collector", f"http://127.0.0.1:{port}", env=secret)
    one_line_error(done, "cannot reach", code=3)  # not the user's mistake: try again later
    assert "not-a-real-secret" not in done.stderr + done.stdout
    assert not (state / "credential.json").exists()


def test_status_before_and_after(tmp_path: Path) -> None:
    state = tmp_path / "state"
    done = fh("status", "--state-dir", str(state), "--json")
    assert done.returncode == 0 and json.loads(done.stdout) == {
        "enrolled": False, "collector": None, "host_id": None, "agency": None, "last_scan": None,
        "last_status": None, "sequence": None, "report_id": None, "spooled": 0, "spooled_bytes": 0, "spooled_applies": 0,
        "remote_hosts": 0}


def test_identity_checks() -> None:
    cred = new("https://c.example", "fhage_secret", "a" * 32, "web1", "AG1", "i" * 32, "h" * 32, None, None)
    assert "fhage_secret" not in repr(cred)
    check(cred, "a" * 32, "h" * 32)
    check(cred, "a" * 32, "")  # no hardware id readable now (a container): nothing to compare
    with pytest.raises(IdentityMismatch, match="not the one that enrolled"):
        check(cred, "b" * 32, "h" * 32)
    with pytest.raises(IdentityMismatch, match="cloned image"):
        check(cred, "a" * 32, "x" * 32)


def test_plain_scan_does_not_load_the_http_stack(make_root: MakeRoot) -> None:
    root = make_root(ROOT)
    code = ("import sys\nfrom click.testing import CliRunner\nfrom agent.cli import main\n"
            f"CliRunner().invoke(main, ['scan', '--root', {str(root)!r}, '--format', 'json'])\n"
            "print(sorted(m for m in ('requests', 'urllib3', 'agent.submit') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.stdout.strip() == "[]", done.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="reading PID 1's mount table needs root")
def test_live_scan_judges_pid_1_mount_table() -> None:
    key = FactKey("mounts", "")
    mounts = gather(Context(LocalHost()), [key]).get(key)
    assert isinstance(mounts, tuple) and mounts and {m.where for m in mounts} == {"/proc/1/mounts"}


def test_systemd_units_ship_and_verify(tmp_path: Path) -> None:
    from importlib import resources

    units = resources.files("agent").joinpath("systemd")
    names = sorted(p.name for p in units.iterdir() if p.name.startswith("fedharden"))
    assert names == ["fedharden-agent.service", "fedharden.service", "fedharden.timer"]
    for name in names:
        text = units.joinpath(name).read_text()
        if name.endswith(".service"):
            for option in ("ProtectSystem=strict", "ReadWritePaths=/var/lib/fedharden", "NoNewPrivileges=yes",
                           "PrivateTmp=yes", "MemoryMax="):
                assert option in text, (name, option)
        (tmp_path / name).write_text(text.replace("/usr/local/bin/fedharden", FEDHARDEN))
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    for name in names:
        done = subprocess.run(["systemd-analyze", "verify", "--man=no", str(tmp_path / name)], capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0 and done.stderr == "", done.stderr

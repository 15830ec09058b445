"""``fedharden scan --ssh`` as a user runs it, against a real sshd on loopback: host key
verification (known, unknown, changed, --accept-new), logins (key, passphrase, password,
jump host), failures (bad credentials, nothing listening) and their exit codes."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from agent.cli import main
from agent.contract import validation_errors

pytestmark = pytest.mark.slow  # a real sshd

FEDHARDEN = str(Path(sys.executable).with_name("fedharden"))


def run(*args: str, input: str | None = None) -> Any:
    return CliRunner().invoke(main, ["scan", *args], input=input, catch_exceptions=False)


def ssh_args(server: Any, user: str = "root", key: Any = None, known_hosts: Any = None) -> list[str]:
    return ["--ssh", server.target(user), "--identity", str(key or server.root_key),
            "--known-hosts", str(known_hosts or server.known_hosts)]


def one_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, text
    return lines[0]


def test_scan_over_ssh_writes_a_valid_report(ssh_server: Any, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    proc = subprocess.run([FEDHARDEN, "scan", *ssh_args(ssh_server), "--format", f"json={out}"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode in (0, 1), proc.stderr
    report = json.loads(out.read_text())
    assert validation_errors(report) == []
    assert report["host"]["target"] == f"ssh:root@127.0.0.1:{ssh_server.port}"
    assert report["scan"]["live"] is True
    assert proc.returncode == (1 if report["summary"]["counts"]["fail"] else 0)


def test_a_changed_host_key_is_refused(ssh_server: Any, tmp_path: Path) -> None:
    impostor = tmp_path / "known_hosts"
    other = Path(f"{ssh_server.stranger_key}.pub").read_text().split()
    impostor.write_text(f"[127.0.0.1]:{ssh_server.port} {other[0]} {other[1]}\n")
    before = impostor.read_text()
    for extra in ([], ["--accept-new"]):  # --accept-new never accepts a changed key
        result = run(*ssh_args(ssh_server, known_hosts=impostor), *extra)
        assert result.exit_code == 3
        line = one_line(result.output)
        assert "host key CHANGED" in line and str(impostor) in line and "man-in-the-middle" in line
    assert impostor.read_text() == before


def test_an_unknown_host_key_is_refused(ssh_server: Any, tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    result = run(*ssh_args(ssh_server, known_hosts=empty))
    assert result.exit_code == 3
    line = one_line(result.output)
    assert "host key not known" in line and "SHA256:" in line and "--accept-new" in line
    assert empty.read_text() == ""


def test_accept_new_records_the_key_then_it_is_known(ssh_server: Any, tmp_path: Path) -> None:
    known = tmp_path / "sub" / "known_hosts"  # neither the file nor its directory exist yet
    result = run(*ssh_args(ssh_server, known_hosts=known), "--accept-new", "--format", "json")
    assert result.exit_code in (0, 1), result.output
    recorded = known.read_text().split()
    served = Path(f"{ssh_server.sshd.host_key}.pub").read_text().split()
    assert recorded[:3] == [f"[127.0.0.1]:{ssh_server.port}", served[0], served[1]]
    again = run(*ssh_args(ssh_server, known_hosts=known), "--format", "json")
    assert again.exit_code in (0, 1), again.output


def test_bad_credentials(ssh_server: Any) -> None:
    result = run(*ssh_args(ssh_server, key=ssh_server.stranger_key))
    assert result.exit_code == 3
    assert "authentication failed" in one_line(result.output)


def test_password_login_and_a_wrong_password(ssh_server: Any) -> None:
    base = ["--ssh", ssh_server.target(ssh_server.user), "--known-hosts", str(ssh_server.known_hosts), "--ask-pass",
            "--format", "json", "--directive", "BOD-23-02"]
    good = run(*base, input=ssh_server.password + "\n")
    assert good.exit_code in (0, 1), good.output
    assert ssh_server.password not in good.output
    bad = run(*base, input="not-the-password\n")
    assert bad.exit_code == 3
    assert "authentication failed" in bad.output and "not-the-password" not in bad.output


def test_a_key_with_a_passphrase_is_asked_for(ssh_server: Any, tmp_path: Path) -> None:
    from agent.hosts.sshconnect import load_key

    locked = tmp_path / "locked"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "s3cret phrase", "-f", str(locked)], check=True,
                   timeout=30)
    ssh_server.sshd.authorize("root", locked)
    args = [*ssh_args(ssh_server, key=locked), "--format", "json", "--directive", "BOD-23-02"]
    good = run(*args, input="s3cret phrase\n")
    assert good.exit_code in (0, 1), good.output
    assert "s3cret" not in good.output
    bad = run(*args, input="wrong\n")
    assert bad.exit_code == 2 and "wrong passphrase" in bad.output
    assert load_key(str(ssh_server.root_key), None) is not None  # an unprotected key is not asked for


def test_unreachable_port(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, never listening: connections are refused
        result = run("--ssh", f"root@127.0.0.1:{port}", "--known-hosts", str(tmp_path / "kh"))
    assert result.exit_code == 3
    line = one_line(result.output)
    assert "cannot connect" in line and "refused" in line.lower()


def test_through_a_jump_host(ssh_server: Any) -> None:
    result = run(*ssh_args(ssh_server), "--jump", ssh_server.target("root"), "--format", "json",
                 "--directive", "BOD-23-02")
    assert result.exit_code in (0, 1), result.output
    assert json.loads(result.output)["host"]["target"] == f"ssh:root@127.0.0.1:{ssh_server.port}"


@pytest.mark.parametrize("args, message", [
    (["--ssh", "root@h", "--root", "/"], "--root scans a mounted image"),
    (["--ssh", "root@h", "--inventory", "x.yaml"], "--ssh and --inventory cannot be combined"),
    (["--sudo"], "--sudo applies to --ssh or --inventory scans only"),
    (["--ssh", "root@[::1"], "not a target of the form"),
    (["--ssh", "root@h:99999"], "port must be 1-65535"),
])
def test_usage_errors(args: list[str], message: str) -> None:
    result = run(*args)
    assert result.exit_code == 2
    assert message in one_line(result.output)


def test_a_key_held_by_the_ssh_agent(ssh_server: Any, tmp_path: Path) -> None:
    import os
    import time

    sock = tmp_path / "agent.sock"
    agent = subprocess.Popen(["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):  # bounded wait for the agent's socket
            if sock.exists():
                break
            time.sleep(0.05)
        env = {**os.environ, "SSH_AUTH_SOCK": str(sock), "HOME": str(tmp_path)}  # no ~/.ssh keys to fall back on
        subprocess.run(["ssh-add", "-q", str(ssh_server.root_key)], env=env, check=True, timeout=30,
                       capture_output=True)
        proc = subprocess.run([FEDHARDEN, "scan", "--ssh", ssh_server.target("root"), "--known-hosts",
                               str(ssh_server.known_hosts), "--format", "json", "--directive", "BOD-23-02"],
                              env=env, capture_output=True, text=True, timeout=120, check=False)
        assert proc.returncode in (0, 1), proc.stderr
        assert json.loads(proc.stdout)["host"]["target"] == f"ssh:root@127.0.0.1:{ssh_server.port}"
    finally:
        agent.terminate()
        agent.wait(timeout=10)

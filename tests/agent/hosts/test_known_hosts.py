"""known_hosts marker lines against a real sshd on loopback: a ``@cert-authority`` or
``@revoked`` line anywhere in the file never stops a scan with an internal error; a revoked
key is refused with the line that revokes it; CA lines are ignored with a warning."""
from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from agent.hosts.known_hosts import host_matches, parse
from agent.hosts.sshconnect import ConnectOptions, Credentials, HostKeyRejected, Target, connect

pytestmark = pytest.mark.slow  # a real sshd

FEDHARDEN = str(Path(sys.executable).with_name("fedharden"))


def key_of(pub: Path) -> str:
    kind, blob = pub.read_text().split()[:2]
    return f"{kind} {blob}"


def attempt(server: Any, known: Path, accept_new: bool = False) -> list[str]:
    """Connect as root; the connection's warnings."""
    conn = connect(Target("127.0.0.1", server.port, "root"),
                   Credentials(identity=str(server.root_key), use_agent=False, look_for_keys=False),
                   ConnectOptions(known_hosts=str(known), accept_new=accept_new, timeout=10))
    try:
        return conn.warnings
    finally:
        conn.close()


@pytest.fixture
def lines(ssh_server: Any) -> dict[str, str]:
    name = f"[127.0.0.1]:{ssh_server.port}"
    server = key_of(Path(f"{ssh_server.sshd.host_key}.pub"))
    other = key_of(Path(f"{ssh_server.stranger_key}.pub"))
    return {
        "entry": f"{name} {server}",
        "ca_elsewhere": f"@cert-authority *.example.org {other}",
        "ca_here": f"@cert-authority * {other}",
        "revoked_elsewhere": f"@revoked web1.example.org {server}",
        "revoked_other_key": f"@revoked * {other}",
        "revoked_here": f"@revoked {name} {server}",
        "revoked_by_wildcard": f"@revoked [127.0.0.?]:* {server}",
        "bad_base64": "bad.example.org ssh-ed25519 AAAA-not-base64!",
        "wildcard_entry": f"web1.example.org,[127.0.0.?]:* {server}",
        "negated_entry": f"*,!{name} {server}",
    }


def write(tmp_path: Path, *content: str) -> Path:
    path = tmp_path / "known_hosts"
    path.write_text("".join(f"{line}\n" for line in content))
    return path


def test_marker_lines_beside_a_correct_entry_do_not_stop_the_scan(ssh_server: Any, tmp_path: Path,
                                                                    lines: dict[str, str]) -> None:
    known = write(tmp_path, lines["ca_elsewhere"], lines["revoked_elsewhere"], lines["revoked_other_key"],
                  lines["entry"])
    assert attempt(ssh_server, known) == []


def test_plain_lines_match_as_openssh_matches_them(ssh_server: Any, tmp_path: Path, lines: dict[str, str]) -> None:
    assert attempt(ssh_server, write(tmp_path, lines["wildcard_entry"])) == []
    with pytest.raises(HostKeyRejected, match="host key not known"):
        attempt(ssh_server, write(tmp_path, lines["negated_entry"]))


def test_a_ca_line_for_this_host_is_ignored_with_a_warning(ssh_server: Any, tmp_path: Path,
                                                          lines: dict[str, str]) -> None:
    known = write(tmp_path, lines["entry"], lines["ca_here"])
    assert attempt(ssh_server, known) == [
        f"{known}:2: @cert-authority ignored for [127.0.0.1]:{ssh_server.port}: host certificates are not "
        "accepted; the host's own key must be listed"]


def test_a_malformed_line_is_skipped_with_a_warning(ssh_server: Any, tmp_path: Path, lines: dict[str, str]) -> None:
    known = write(tmp_path, lines["bad_base64"], lines["entry"])
    assert attempt(ssh_server, known) == [f"{known}:1: its key is not base64, line ignored"]


@pytest.mark.parametrize("revocation", ["revoked_here", "revoked_by_wildcard"])
def test_a_revoked_key_is_refused_even_where_a_plain_line_lists_it(ssh_server: Any, tmp_path: Path,
                                                                   lines: dict[str, str], revocation: str) -> None:
    known = write(tmp_path, lines["entry"], lines[revocation])
    before = known.read_text()
    for accept_new in (False, True):  # --accept-new never accepts a revoked key either
        with pytest.raises(HostKeyRejected, match=rf"^\[127\.0\.0\.1\]:{ssh_server.port}: host key ssh-ed25519 "
                           rf"SHA256:\S+ is marked @revoked in {known} line 2; refusing to connect$"):
            attempt(ssh_server, known, accept_new=accept_new)
    assert known.read_text() == before


def test_a_revoked_key_without_a_plain_line_is_not_accepted_as_new(ssh_server: Any, tmp_path: Path,
                                                                   lines: dict[str, str]) -> None:
    known = write(tmp_path, lines["revoked_here"])
    with pytest.raises(HostKeyRejected, match="is marked @revoked"):
        attempt(ssh_server, known, accept_new=True)
    assert known.read_text() == lines["revoked_here"] + "\n"  # nothing appended


def scan(server: Any, known: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([FEDHARDEN, "scan", "--ssh", server.target(), "--identity", str(server.root_key),
                           "--known-hosts", str(known), "--directive", "BOD-23-02", "--format", "json"],
                          capture_output=True, text=True, timeout=120, check=False)


def test_the_command_line_scans_past_marker_lines_and_refuses_a_revoked_key(ssh_server: Any, tmp_path: Path,
                                                                            lines: dict[str, str]) -> None:
    known = write(tmp_path, lines["ca_elsewhere"], lines["revoked_other_key"], lines["entry"])
    proc = scan(ssh_server, known)
    assert proc.returncode in (0, 1), proc.stderr
    assert proc.stderr == ""
    known = write(tmp_path, lines["ca_elsewhere"], lines["entry"], lines["revoked_here"])
    proc = scan(ssh_server, known)
    assert proc.returncode == 3
    fingerprint = proc.stderr.split("ssh-ed25519 ")[1].split()[0]
    assert [line for line in proc.stderr.splitlines() if line.strip()] == [
        f"fedharden: scan could not complete: [127.0.0.1]:{ssh_server.port}: host key ssh-ed25519 {fingerprint} "
        f"is marked @revoked in {known} line 3; refusing to connect"]


def hashed_name(name: str) -> str:
    """The name as ``ssh-keygen -H`` writes it, by the real program."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "known_hosts"
        path.write_text(f"{name} ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDQPsWBeVMxzH6Pu8g8xCQF4+5AmThJkFA9midXxVqsD\n")
        subprocess.run(["ssh-keygen", "-H", "-f", str(path)], capture_output=True, check=True, timeout=30)
        return path.read_text().split()[0]


def test_host_patterns_as_openssh_matches_them() -> None:
    assert host_matches("web1.example.org", ("*.example.org",))
    assert not host_matches("web1.example.org", ("*.example.org", "!web1.example.org"))
    assert host_matches("[127.0.0.1]:2222", ("[127.0.0.1]:2222",))
    assert not host_matches("[127.0.0.2]:2222", ("[127.0.0.1]:2222",))
    assert host_matches("Web1.Example.org", ("web?.example.org",))
    assert not host_matches("web10.example.org", ("web?.example.org",))
    hashed = hashed_name("web1.example.org")
    assert host_matches("web1.example.org", (hashed,)) and not host_matches("web2.example.org", (hashed,))


def test_an_unknown_marker_and_short_lines_are_problems_not_failures() -> None:
    known = parse("@unknown x ssh-ed25519 AAAA\nonly-two fields\n\n# comment\n", "kh")
    assert known.problems == ["kh:1: unknown marker '@unknown', line ignored",
                              "kh:2: not HOSTS TYPE KEY, line ignored"]
    assert known.entries == [] and known.revoked == []

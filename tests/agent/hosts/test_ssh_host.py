"""The SSH host against a real sshd serving this machine: the same facts and results as a
local scan, few round trips, command timeouts, sudo present and absent, lost connections."""
from __future__ import annotations

import datetime as dt
import socket
import sys
import time
from pathlib import Path
from typing import Any, Callable

import pytest

import checks
from agent.facts import gather
from agent.facts.context import Context
from agent.hosts import HostError, HostUnreachable, LocalHost, NotFound, PermissionDenied
from agent.hosts.ssh import SSHHost
from agent.hosts.sshconnect import ConnectOptions, Credentials, Target, connect
from agent.scan import Scan
from checks.facts import FactKey, Unavailable
from directives import load_library

pytestmark = pytest.mark.slow  # a real sshd

Sshd = sys.modules["fedharden_tests_sshd"].Sshd  # loaded by tests/agent/conftest.py

LIBRARY = load_library()
ALL_KEYS: set[FactKey] = set()
for _d in LIBRARY:
    for _r in _d.requirements:
        ALL_KEYS |= checks.needs(_r.check) | (checks.needs(_r.only_if) if _r.only_if else set())
# The whole-filesystem walk is compared on its own below (test_walk_matches_the_local_walk):
# walking all of / twice while other programs write files cannot give equal counts.
WALK = FactKey("fswalk")
ALL_KEYS.discard(WALK)


def open_host(server: Any, user: str = "root", key: Any = None, sudo: bool = False, **kwargs: Any) -> SSHHost:
    """A connection as root (its key) or as the session's scan account (its key)."""
    conn = connect(Target("127.0.0.1", server.port, user),
                   Credentials(identity=str(key or (server.root_key if user == "root" else server.user_key)),
                               use_agent=False, look_for_keys=False),
                   ConnectOptions(known_hosts=str(server.known_hosts), timeout=10))
    return SSHHost(conn, sudo=sudo, **kwargs)


def results(report: dict[str, Any]) -> dict[str, tuple[Any, ...]]:
    return {r["key"]: (r["status"], r["message"], tuple(map(str, r["evidence"]))) for r in report["results"]}


# Live state other programs on this machine change while the tests run: each is compared on
# its own, read back to back, so that the window in which it can change is short.
VOLATILE = {FactKey("sockets"), FactKey("mounts"), FactKey("addresses"), FactKey("modules_loaded")}


NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.timezone.utc)  # one clock for both views (the "clock" fact)


def every_fact(host: Any, keys: set[FactKey]) -> dict[FactKey, object]:
    facts = gather(Context(host, now=NOW), keys)
    return {key: facts.get(key) for key in keys}


def agree(server: Any, local: Callable[[], Any], remote: Callable[[SSHHost], Any], attempts: int = 5) -> tuple[Any, Any]:
    """A local and a remote view of this machine taken back to back. The machine may change
    between two looks (a server of another test starting or stopping): a remote view equal to
    the local view just before or just after it counts; at most ``attempts`` tries, each with
    a fresh connection (an SSH host caches what it has read)."""
    for _ in range(attempts):
        host = open_host(server)
        try:
            before = local()
            got = remote(host)
            after = local()
        finally:
            host.close()
        if got == before or got == after:
            return (before if got == before else after), got
    return after, got


def test_same_facts_and_results_as_a_local_scan(ssh_server: Any) -> None:
    stable = ALL_KEYS - VOLATILE
    local_facts, remote_facts = agree(ssh_server, lambda: every_fact(LocalHost(), stable),
                                      lambda host: every_fact(host, stable))
    assert sorted(k for k, v in remote_facts.items() if v != local_facts[k]) == []
    for key in sorted(VOLATILE):
        local, remote = agree(ssh_server, lambda keys={key}: every_fact(LocalHost(), keys),
                              lambda host, keys={key}: every_fact(host, keys))
        assert remote == local
        local_facts.update(local)
        remote_facts.update(remote)
    assert set(remote_facts) == ALL_KEYS
    # Nothing is quietly unavailable over SSH: as root, every fact a live host has is there.
    assert [k for k, v in remote_facts.items() if isinstance(v, Unavailable)] == \
           [k for k, v in local_facts.items() if isinstance(v, Unavailable)]

    local, remote = agree(ssh_server, lambda: results(Scan(LocalHost(), LIBRARY, now=NOW).run()),
                          lambda host: results(Scan(host, LIBRARY, now=NOW).run()))
    assert remote == local
    unwalked = {r.id for d in LIBRARY for r in d.requirements if WALK not in checks.needs(r.check)}
    assert {key.split("#")[0] for key in remote} == unwalked  # every requirement but the walk's


def test_a_full_scan_takes_few_round_trips(ssh_server: Any) -> None:
    host = open_host(ssh_server)
    try:
        opened = host.round_trips
        report = Scan(host, LIBRARY).run()
        assert report["host"]["target"] == f"ssh:root@127.0.0.1:{ssh_server.port}"
        assert report["scan"]["live"] is True
        # every shipped directive; about 130 file, directory and link lookups plus /proc walks, and
        # one more level for the listings of interactive accounts' homes outside /root (HARDEN-30D.USER.8)
        assert host.round_trips - opened <= 62, host.round_trips
    finally:
        host.close()


def test_primitives_and_their_errors(ssh_server: Any) -> None:
    host = open_host(ssh_server, user=ssh_server.user)
    try:
        assert host.read("/etc/hostname") == LocalHost().read("/etc/hostname")
        assert host.stat("/etc/passwd") == LocalHost().stat("/etc/passwd")
        assert host.listdir("/etc/ssh") == LocalHost().listdir("/etc/ssh")
        host.listdir("/")
        assert host.stat("/") == LocalHost().stat("/") and host.stat("/etc/") == LocalHost().stat("/etc/")
        with pytest.raises(NotFound, match="/nonexistent/file: no such file"):
            host.read("/nonexistent/file")
        with pytest.raises(PermissionDenied, match="/etc/shadow: permission denied .*--sudo"):
            host.read("/etc/shadow")
        with pytest.raises(HostError, match="is a directory"):
            host.read("/etc")
        big = "/var/lib/dpkg/status"  # several 64 KiB chunks
        assert host.read(big) == LocalHost().read(big)
        assert host.run(["id", "-un"]).stdout == f"{ssh_server.user}\n"
        with pytest.raises(HostError, match="no-such-command: command not found"):
            host.run(["no-such-command"])
    finally:
        host.close()


def test_walk_matches_the_local_walk(ssh_server: Any) -> None:
    host = open_host(ssh_server)
    try:
        for top, prune in (("/etc", ["/etc/ssl"]), ("/usr/lib/systemd", [])):
            local_errors: list[str] = []
            remote_errors: list[str] = []
            local = sorted(LocalHost().walk(top, prune, local_errors))
            remote = sorted(host.walk(top, prune, remote_errors))
            assert remote == local and remote_errors == local_errors
            if prune:  # a pruned directory is reported, not entered
                assert any(path == "/etc/ssl" for path, *_ in remote)
                assert not any(path.startswith("/etc/ssl/") for path, *_ in remote)
    finally:
        host.close()


def test_a_command_that_outlives_its_timeout(ssh_server: Any) -> None:
    host = open_host(ssh_server)
    try:
        started = time.monotonic()
        with pytest.raises(HostError, match=r"sleep 30: timed out after 0.5 s"):
            host.run(["sleep", "30"], timeout=0.5)
        assert time.monotonic() - started < 5
        assert host.run(["true"]).returncode == 0  # the host is still usable
        assert host.read("/etc/hostname")
    finally:
        host.close()


def test_sudo_present_reads_what_only_root_can(ssh_server: Any, sudo_allowed: None) -> None:
    host = open_host(ssh_server, user=ssh_server.user, sudo=True)
    try:
        assert host.warnings == []
        assert host.read("/etc/shadow") == LocalHost().read("/etc/shadow")
        # Files are read as root (sockets are attributed to every process), commands run as the user.
        stable = ALL_KEYS - VOLATILE
        assert every_fact(host, stable) == every_fact(LocalHost(), stable)
    finally:
        host.close()


@pytest.mark.parametrize("sudo_command, reason", [
    ("/nonexistent/sudo", "not found"),  # sudo is not installed on the target
    ("sudo", "password is required"),  # installed, but this user has no sudoers entry
])
def test_sudo_absent_degrades_to_errors_with_the_reason(ssh_server: Any, sudo_command: str, reason: str) -> None:
    host = open_host(ssh_server, user=ssh_server.user, sudo=True, sudo_command=sudo_command)
    try:
        assert len(host.warnings) == 1 and reason in host.warnings[0]
        with pytest.raises(PermissionDenied, match=f"/etc/shadow: permission denied \\(sudo unavailable: .*{reason}"):
            host.read("/etc/shadow")
        report = Scan(host, LIBRARY).run()
        assert host.warnings[0] in report["warnings"]
        shadow = [r for r in report["results"] if any("/etc/shadow" in str(e) for e in r["evidence"])
                  or "/etc/shadow" in r["message"]]
        assert shadow and all(r["status"] == "error" and "sudo unavailable" in r["message"] for r in shadow
                              if r["status"] == "error")
        assert any(r["status"] == "error" for r in shadow)
    finally:
        host.close()


def test_a_lost_connection_ends_the_scan_not_one_fact(ssh_server: Any) -> None:
    host = open_host(ssh_server)
    host.abort("scan timed out after 1 s")
    with pytest.raises(HostUnreachable, match="scan timed out after 1 s"):
        Scan(host, LIBRARY).run()
    host.close()


def test_the_deadline_aborts_a_scan_in_progress(ssh_server: Any) -> None:
    host = open_host(ssh_server, user=ssh_server.user, deadline=3)
    try:
        started = time.monotonic()
        with pytest.raises(HostUnreachable, match="scan timed out after 3 s"):
            host.run(["sleep", "20"], timeout=30)
        assert time.monotonic() - started < 10
    finally:
        host.close()


def test_connections_to_its_own_listeners_start_on_the_target(ssh_server: Any) -> None:
    host = open_host(ssh_server, user=ssh_server.user)
    try:
        sock = host.connect("127.0.0.1", ssh_server.port, 5)  # the sshd itself, reached from the target
        try:
            assert sock.recv(4).startswith(b"SSH-")
        finally:
            sock.close()
        closed = socket.socket()
        closed.bind(("127.0.0.1", 0))
        try:
            with pytest.raises(HostError, match=f"127.0.0.1:{closed.getsockname()[1]}: .* \\(from ssh:{ssh_server.user}@"):
                host.connect("127.0.0.1", closed.getsockname()[1], 5)
        finally:
            closed.close()
    finally:
        host.close()


def test_a_server_without_the_sftp_subsystem(ssh_server: Any, tmp_path: Path) -> None:
    """The sftp-server program is started directly when the subsystem is not configured."""
    plain = Sshd(tmp_path / "sshd", sftp_subsystem=False)
    plain.authorize("root", ssh_server.root_key)  # root: pytest's temporary directory is private to it
    plain.start()
    try:
        conn = connect(Target("127.0.0.1", plain.port, "root"),
                       Credentials(identity=str(ssh_server.root_key), use_agent=False, look_for_keys=False),
                       ConnectOptions(known_hosts=str(plain.known_hosts), timeout=10))
        host = SSHHost(conn)
        try:
            assert host.read("/etc/hostname") == LocalHost().read("/etc/hostname")
        finally:
            host.close()
    finally:
        plain.stop()

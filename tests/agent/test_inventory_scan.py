"""``fedharden scan --inventory``: hosts in parallel against a real sshd, one report each, a
failing host never stops the others, the exit code says whether all were scanned and compliant."""
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


def inventory(tmp_path: Path, server: Any, extra: str = "", count: int = 3) -> Path:
    hosts = "".join(f"  - {{host: 127.0.0.1, port: {server.port}, name: h{i}}}\n" for i in range(count))
    path = tmp_path / "hosts.yaml"
    path.write_text(f"defaults:\n  user: root\n  identity: {server.root_key}\nhosts:\n{hosts}{extra}")
    return path


def scan(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([FEDHARDEN, "scan", *args], capture_output=True, text=True, timeout=300, check=False)


def test_every_host_gets_its_report_and_a_failing_one_does_not_stop_the_others(ssh_server: Any,
                                                                             tmp_path: Path) -> None:
    import socket

    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        dead = closed.getsockname()[1]
        hosts = inventory(tmp_path, ssh_server, extra=(
            f"  - {{host: 127.0.0.1, port: {dead}, name: dead}}\n"
            f"  - {{host: 127.0.0.1, port: {ssh_server.port}, name: stranger, identity: {ssh_server.stranger_key}}}\n"))
        out = tmp_path / "reports"
        out.mkdir()
        proc = scan("--inventory", str(hosts), "--known-hosts", str(ssh_server.known_hosts), "--output-dir", str(out),
                    "--format", "json", "--format", "csv", "--jobs", "3")
    assert proc.returncode == 3, proc.stderr  # two hosts could not be scanned
    assert sorted(p.name for p in out.iterdir()) == ["h0.csv", "h0.json", "h1.csv", "h1.json", "h2.csv", "h2.json"]
    for name in ("h0", "h1", "h2"):
        report = json.loads((out / f"{name}.json").read_text())
        assert validation_errors(report) == [] and report["host"]["target"].startswith("ssh:root@127.0.0.1:")
    progress = [line for line in proc.stderr.splitlines() if line.startswith("fedharden: [")]
    assert len(progress) == 5 and progress[-1].startswith("fedharden: [5/5] ")  # plain lines: not a terminal
    rows = {line.split()[0]: line for line in proc.stdout.splitlines()[1:-1]}
    assert "NOT SCANNED" in rows["dead"] and "refused" in rows["dead"].lower()
    assert "NOT SCANNED" in rows["stranger"] and "authentication failed" in rows["stranger"]
    for h in ("h0", "h1", "h2"):  # each host's state is its report's status
        assert rows[h].split()[1] == json.loads((out / f"{h}.json").read_text())["summary"]["status"]
    assert proc.stdout.splitlines()[-1].endswith("2 not scanned")


def test_all_scanned_exit_code_follows_compliance(ssh_server: Any, tmp_path: Path) -> None:
    out = tmp_path / "reports"
    out.mkdir()
    proc = scan("--inventory", str(inventory(tmp_path, ssh_server, count=2)), "--known-hosts",
                str(ssh_server.known_hosts), "--output-dir", str(out), "--directive", "BOD-23-02")
    statuses = {json.loads((out / f"h{i}.json").read_text())["summary"]["status"] for i in range(2)}
    expected = 1 if "non_compliant" in statuses else 4 if "incomplete" in statuses else 0
    assert proc.returncode == expected, proc.stderr


def test_a_host_that_never_answers_times_out_alone(ssh_server: Any, tmp_path: Path) -> None:
    import socket
    import time

    with socket.socket() as silent:  # accepts connections, never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        hosts = inventory(tmp_path, ssh_server, count=1, extra=(
            f"  - {{host: 127.0.0.1, port: {silent.getsockname()[1]}, name: silent, timeout: 2}}\n"))
        out = tmp_path / "reports"
        out.mkdir()
        started = time.monotonic()
        proc = scan("--inventory", str(hosts), "--known-hosts", str(ssh_server.known_hosts), "--output-dir", str(out),
                    "--directive", "BOD-23-02")
        assert time.monotonic() - started < 60
    assert proc.returncode == 3
    assert (out / "h0.json").exists() and not (out / "silent.json").exists()
    row = next(line for line in proc.stdout.splitlines() if line.startswith("silent"))
    assert "NOT SCANNED" in row and "timed out" in row


def test_usage_errors_are_one_line_and_exit_2(ssh_server: Any, tmp_path: Path) -> None:
    hosts = inventory(tmp_path, ssh_server, count=1)
    runner = CliRunner()
    for args, message in [
        (["--inventory", str(hosts)], "--inventory needs --output-dir"),
        (["--inventory", str(hosts), "--output-dir", str(tmp_path), "--format", "json=x.json"], "format names only"),
        (["--inventory", str(hosts), "--output-dir", str(tmp_path), "--submit", "--state-dir", str(hosts / "state")],
         f"state directory {hosts / 'state'}: Not a directory"),
        (["--inventory", str(tmp_path / "missing.yaml"), "--output-dir", str(tmp_path)], "cannot read"),
    ]:
        result = runner.invoke(main, ["scan", *args])
        assert result.exit_code == 2, result.output
        assert len(result.output.strip().splitlines()) == 1 and message in result.output


def test_a_progress_bar_on_a_terminal(ssh_server: Any, tmp_path: Path) -> None:
    import os
    import select

    out = tmp_path / "reports"
    out.mkdir()
    primary, secondary = os.openpty()  # standard error is a terminal: the bar, not plain lines
    proc = subprocess.Popen([FEDHARDEN, "scan", "--inventory", str(inventory(tmp_path, ssh_server, count=2)),
                             "--known-hosts", str(ssh_server.known_hosts), "--output-dir", str(out),
                             "--directive", "BOD-23-02"], stdout=subprocess.PIPE, stderr=secondary, text=True)
    os.close(secondary)
    shown = b""
    deadline = 120
    while deadline > 0:
        ready, _, _ = select.select([primary], [], [], 1)
        deadline -= 1
        if ready:
            try:
                chunk = os.read(primary, 4096)
            except OSError:  # the other end closed
                break
            if not chunk:
                break
            shown += chunk
        elif proc.poll() is not None:
            break
    stdout, _ = proc.communicate(timeout=60)
    os.close(primary)
    assert proc.returncode in (0, 1)
    assert b"scanning" in shown and b"2/2" in shown and b"fedharden: [" not in shown
    assert stdout.splitlines()[-1].startswith("2 hosts: ")


def test_a_changed_host_key_is_refused_for_that_host_alone(ssh_server: Any, tmp_path: Path) -> None:
    """Many hosts through one shared known_hosts (parsed once, hosts in forked processes): the one
    whose recorded key differs is refused, the others are scanned; the stats file says where
    each scanned host's time went."""
    import os

    kind, blob = Path(f"{ssh_server.stranger_key}.pub").read_text().split()[:2]
    known = tmp_path / "known_hosts"
    # "localhost" reaches the same server under another known_hosts name, recorded with a wrong key
    known.write_text(ssh_server.known_hosts.read_text() + f"[localhost]:{ssh_server.port} {kind} {blob}\n")
    hosts = inventory(tmp_path, ssh_server, count=5, extra=(
        f"  - {{host: localhost, port: {ssh_server.port}, name: changed}}\n"))
    out = tmp_path / "reports"
    out.mkdir()
    stats = tmp_path / "stats.jsonl"
    proc = subprocess.run([FEDHARDEN, "scan", "--inventory", str(hosts), "--known-hosts", str(known),
                           "--output-dir", str(out), "--directive", "BOD-23-02", "--jobs", "4"],
                          capture_output=True, text=True, timeout=300, check=False,
                          env={**os.environ, "FEDHARDEN_INVENTORY_STATS": str(stats)})
    assert proc.returncode == 3, proc.stdout + proc.stderr
    rows = {line.split()[0]: line for line in proc.stdout.splitlines()[1:-1]}
    assert "NOT SCANNED" in rows["changed"] and "host key CHANGED" in rows["changed"]
    assert sorted(p.name for p in out.iterdir()) == [f"h{i}.json" for i in range(5)]
    lines = [json.loads(line) for line in stats.read_text().splitlines()]
    assert sorted(line["name"] for line in lines) == ["changed", *(f"h{i}" for i in range(5))]
    for line in lines:
        if line["name"] == "changed":
            assert line["state"] == "failed" and "transfer" not in line["phases"]
            continue
        phases = line["phases"]
        assert set(phases) == {"connect", "transfer", "judge", "write"} and phases["transfer"] > 0
        assert sum(phases.values()) <= line["seconds"] + 0.01 and line["cpu"]["worker"] > 0

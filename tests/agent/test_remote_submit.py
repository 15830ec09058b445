"""Hosts scanned over SSH reported to the collector as themselves, end to end: a real sshd on
loopback serving this very machine, and the real collector (``fedharden collector serve``).

``enroll --ssh`` / ``enroll --inventory`` keep each host's credential in
``<state-dir>/remote/<host_id>/``; ``scan --ssh --submit`` and ``scan --inventory --submit`` send
its reports as that host (a full report, then deltas). A host that is not enrolled, refused,
unreachable or already reporting through its own agent (409) is said on its own line and
makes the exit code 3; while the collector is down reports wait in the host's spool.

Every entry pointing at the sshd is this machine, so every one has the same host id: the
tests also show two inventory entries naming one machine taking turns on its state.
"""
from __future__ import annotations

import json
import os
import re
import socket
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest

pytest.importorskip("collectors.app", reason="needs the collector and its extra")
requests = pytest.importorskip("requests")

from agent.contract import HostStatus  # noqa: E402
from agent.facts.context import Context  # noqa: E402
from agent.hosts import LocalHost  # noqa: E402
from agent.identity import host_id  # noqa: E402
from agent.contract import state_digest  # noqa: E402
from agent.state import StateDir  # noqa: E402

pytestmark = pytest.mark.slow  # end to end: a real sshd and collector

Collector = sys.modules["fedharden_tests_collector"].Collector  # tests/collector.py
FEDHARDEN = str(Path(sys.executable).with_name("fedharden"))
DIRECTIVE = ("--directive", "BOD-23-02")  # ten requirements: enough to report, quick to scan


@dataclass(frozen=True)
class Site:
    collector: Any
    secret: str = ""
    soc: str = ""  # reads what the collector stored, as an agency's SOC does
    host_id: str = ""  # this machine's, so that of every host the sshd serves


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    collector = Collector(tmp_path_factory.mktemp("collector"))
    collector.start()
    try:
        secret, _ = collector.setup()
        soc = collector.admin("token", "create", "--role", "soc", "--agency", "AG1")
        local = LocalHost()
        try:
            yield Site(collector, secret, soc, host_id(Context(local)))
        finally:
            local.close()
    finally:
        collector.stop()


@pytest.fixture
def fresh(site: Site) -> Site:
    """Whichever install enrolled this machine in an earlier test is forgotten (what
    ``fedharden collector host release`` does), so this test's state directory may enroll it."""
    site.collector.query("UPDATE hosts SET instance = NULL WHERE host_id = ?", site.host_id)
    return site


def fh(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([FEDHARDEN, *args], capture_output=True, text=True, timeout=timeout, check=False)


def login(server: Any) -> list[str]:
    return ["--identity", str(server.root_key), "--known-hosts", str(server.known_hosts)]


def enroll(site: Site, server: Any, state: Path, *where: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FEDHARDEN_ENROLL_SECRET": site.secret}
    return subprocess.run([FEDHARDEN, "enroll", "--collector", site.collector.url, "--agency", "AG1", "--state-dir",
                           str(state), *login(server), *where], capture_output=True, text=True, timeout=180,
                          check=False, env=env)


def scan_ssh(server: Any, state: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return fh("scan", "--ssh", server.target("root"), *login(server), *DIRECTIVE, "--submit", "--state-dir",
              str(state), "--format", "json", *extra)


def scan_inventory(server: Any, state: Path, hosts: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    out.mkdir(exist_ok=True)
    return fh("scan", "--inventory", str(hosts), "--known-hosts", str(server.known_hosts), *DIRECTIVE, "--submit",
              "--state-dir", str(state), "--output-dir", str(out), *extra)


def inventory(path: Path, server: Any, names: list[str], dead: int | None = None) -> Path:
    """Entries named ``names``, each this machine through the sshd; ``dead``: one more entry
    at a port nothing listens on."""
    hosts = "".join(f"  - {{host: 127.0.0.1, port: {server.port}, name: {name}}}\n" for name in names)
    if dead is not None:
        hosts += f"  - {{host: 127.0.0.1, port: {dead}, name: dead}}\n"
    path.write_text(f"defaults:\n  user: root\n  identity: {server.root_key}\nhosts:\n{hosts}")
    return path


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # nothing listens here once closed


def table(stdout: str) -> dict[str, list[str]]:
    """The inventory summary: each host's row and the lines under it, by host name."""
    rows: dict[str, list[str]] = {}
    last = ""
    for line in stdout.splitlines()[1:-1]:
        if line.startswith(" "):
            rows[last].append(line.strip())
        else:
            last = line.split()[0]
            rows[last] = [line]
    return rows


def host_view(site: Site, hid: str) -> dict[str, Any]:
    response = requests.get(f"{site.collector.url}/api/v1/hosts/{hid}", timeout=10,
                            headers={"Authorization": f"Bearer {site.soc}"})
    response.raise_for_status()
    return response.json()  # type: ignore[no-any-return]


def assert_in_sync(site: Site, remote: Path) -> None:
    """The collector holds exactly what the host's state directory says it reported."""
    mine = StateDir(remote).load_state()
    assert mine is not None
    view = host_view(site, mine.host_id)
    assert view["state"]["report_id"] == mine.report_id
    assert view["state"]["state_digest"] == state_digest(mine.ordered_results())
    assert list((remote / "spool").glob("*.json")) == []


def reports(site: Site) -> list[tuple[str, int]]:
    return [(kind, seq) for kind, seq in site.collector.query("SELECT kind, sequence FROM reports ORDER BY rowid")]


def test_enroll_over_ssh_then_a_full_report_then_a_delta(fresh: Site, ssh_server: Any, tmp_path: Path) -> None:
    state = tmp_path / "state"
    remote = state / "remote" / fresh.host_id
    done = enroll(fresh, ssh_server, state, "--ssh", ssh_server.target("root"))
    assert done.returncode == 0, done.stderr
    assert f"enrolled host {fresh.host_id} (" in done.stdout and str(remote / "credential.json") in done.stdout
    credential = json.loads((remote / "credential.json").read_text())
    assert credential["host_id"] == fresh.host_id and credential["agency"] == "AG1"
    assert credential["token"] not in done.stdout + done.stderr and fresh.secret not in done.stdout + done.stderr
    for path, mode in [(remote / "credential.json", 0o600), (remote / "instance.key", 0o600),
                       (state / "remote", 0o700), (remote, 0o700)]:
        assert stat.S_IMODE(path.stat().st_mode) == mode, path
    assert not (state / "credential.json").exists()  # the scanning machine itself is not enrolled

    before = len(reports(fresh))
    first = scan_ssh(ssh_server, state)
    assert first.returncode in (0, 1), first.stderr
    assert "fedharden: submitted full report #1: " in first.stderr and "delivered" in first.stderr, first.stderr
    report = json.loads(first.stdout)
    assert report["host"]["id"] == fresh.host_id and report["host"]["target"].startswith("ssh:root@127.0.0.1:")
    view = host_view(fresh, fresh.host_id)
    assert view["host"]["hostname"] == report["host"]["hostname"] and view["host"]["agency"] == "AG1"
    assert {r["key"]: r["status"] for r in view["results"]} == {r["key"]: r["status"] for r in report["results"]}
    assert_in_sync(fresh, remote)

    second = scan_ssh(ssh_server, state)
    assert second.returncode in (0, 1), second.stderr
    assert re.search(r"fedharden: submitted delta #\d+ \(.*\): 1 delivered", second.stderr), second.stderr
    assert [kind for kind, _ in reports(fresh)[before:]] == ["full", "delta"]
    assert_in_sync(fresh, remote)
    assert json.loads((remote / "last_scan.json").read_text())["host_id"] == fresh.host_id

    status = fh("status", "--state-dir", str(state), "--json")
    assert json.loads(status.stdout)["remote_hosts"] == 1 and json.loads(status.stdout)["enrolled"] is False


def test_not_enrolled_is_a_one_line_error_and_the_report_is_still_written(site: Site, ssh_server: Any,
                                                                         tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    done = fh("scan", "--ssh", ssh_server.target("root"), *login(ssh_server), *DIRECTIVE, "--submit",
              "--state-dir", str(tmp_path / "state"), "--format", f"json={out}")
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert f"not enrolled (no credential in {tmp_path / 'state' / 'remote' / site.host_id})" in done.stderr
    assert "fedharden enroll --collector URL --inventory HOSTS.yaml (or --ssh USER@HOST)" in done.stderr
    assert json.loads(out.read_text())["host"]["id"] == site.host_id


def test_inventory_submits_each_host_and_says_which_were_not(fresh: Site, ssh_server: Any, tmp_path: Path) -> None:
    state = tmp_path / "state"
    remote = state / "remote" / fresh.host_id
    # Not enrolled yet: scanned and written, not submitted, exit 3.
    hosts = inventory(tmp_path / "hosts.yaml", ssh_server, ["web1"])
    unenrolled = scan_inventory(ssh_server, state, hosts, tmp_path / "r0")
    assert unenrolled.returncode == 3, unenrolled.stderr
    row = table(unenrolled.stdout)["web1"]
    assert row[0].split()[1] in {s.value for s in HostStatus}  # scanned: the host's status
    assert row[1].startswith("NOT SUBMITTED: not enrolled") and "fedharden enroll --collector URL --inventory" in row[1]
    assert unenrolled.stdout.splitlines()[-1].endswith("; 0 submitted, 1 not submitted")
    assert (tmp_path / "r0" / "web1.json").exists()

    assert enroll(fresh, ssh_server, state, "--inventory", str(hosts)).returncode == 0
    # Two entries naming this machine (one host id: they take turns on its state) and one that
    # cannot be reached: the reachable ones are submitted, the other is not scanned, exit 3.
    hosts = inventory(tmp_path / "hosts.yaml", ssh_server, ["web1", "web1-by-address"], dead=closed_port())
    before = len(reports(fresh))
    done = scan_inventory(ssh_server, state, hosts, tmp_path / "r1", "--jobs", "3")
    assert done.returncode == 3, done.stderr
    rows = table(done.stdout)
    assert "NOT SCANNED" in rows["dead"][0] and len(rows["dead"]) == 1
    # The first to take the host's lock sends a full report (after a resync when an earlier test's
    # install left the collector further along), the other a delta on it.
    kinds = sorted(re.fullmatch(r"submitted (full report|delta) #\d+: delivered( \(after a resync\))?",
                                rows[name][1]).group(1) for name in ("web1", "web1-by-address"))  # type: ignore[union-attr]
    assert kinds == ["delta", "full report"], rows
    assert done.stdout.splitlines()[-1].endswith("1 not scanned; 2 submitted, 0 not submitted")
    progress = [line for line in done.stderr.splitlines() if line.startswith("fedharden: [")]
    assert sum("; submitted " in line for line in progress) == 2
    assert len(reports(fresh)) - before == 2  # each entry's report arrived, one after the other
    assert_in_sync(fresh, remote)
    state_now = StateDir(remote).load_state()
    assert state_now is not None and len(state_now.history) >= 2


def test_collector_down_spools_then_the_next_run_delivers(fresh: Site, ssh_server: Any, tmp_path: Path) -> None:
    from agent.reporting import Backoff
    from agent.runner import Runner

    state = tmp_path / "state"
    remote = state / "remote" / fresh.host_id
    assert enroll(fresh, ssh_server, state, "--ssh", ssh_server.target("root")).returncode == 0
    hosts = inventory(tmp_path / "hosts.yaml", ssh_server, ["web1"])
    fresh.collector.stop()
    try:
        down = scan_ssh(ssh_server, state)
        assert down.returncode in (0, 1), down.stderr  # not a failure: delivered later
        assert "collector unavailable" in down.stderr and "spooled for the next run" in down.stderr
        inv = scan_inventory(ssh_server, state, hosts, tmp_path / "r")
        assert inv.returncode in (0, 1), inv.stderr
        line = table(inv.stdout)["web1"][1]
        assert re.match(r"submitted delta #\d+: collector unavailable \(.*refused.*\), 2 report\(s\) spooled for the "
                        r"next run$", line), line
        assert len(list((remote / "spool").glob("*.json"))) == 2
    finally:
        fresh.collector.start()
    # The scheduler's retry between scans delivers every remote host's spool.
    assert Runner([], StateDir(state), Backoff(attempts=1), interval=60, splay=0).flush()
    assert_in_sync(fresh, remote)
    # One cycle of the scheduler over the inventory: scans, submits as the host, exit 0 or 1.
    again = fh("run", "--once", "--state-dir", str(state), "--inventory", str(hosts), "--known-hosts",
               str(ssh_server.known_hosts), *DIRECTIVE, "--output-dir", str(tmp_path / "r"))
    assert again.returncode in (0, 1), again.stderr
    assert re.search(r"\] web1: .*; submitted delta #\d+: delivered$", again.stderr, re.M), again.stderr
    assert again.stdout == ""  # run is quiet: what each host did is on standard error
    assert_in_sync(fresh, remote)


def test_a_host_with_its_own_agent_is_not_enrolled_again(fresh: Site, ssh_server: Any, tmp_path: Path) -> None:
    # This machine's own agent enrolls first (its own state directory, its own install key).
    env = {**os.environ, "FEDHARDEN_ENROLL_SECRET": fresh.secret}
    local = subprocess.run([FEDHARDEN, "enroll", "--collector", fresh.collector.url, "--state-dir",
                            str(tmp_path / "agent")], capture_output=True, text=True, timeout=120, env=env)
    assert local.returncode == 0, local.stderr
    state = tmp_path / "scanner"
    refused = enroll(fresh, ssh_server, state, "--ssh", ssh_server.target("root"))
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1, refused.stderr
    for words in (f"host {fresh.host_id} is already enrolled in this collector by another install (HTTP 409)",
                  "runs its own fedharden agent and reports for itself",
                  "do not also scan and submit it agentlessly"):
        assert words in refused.stderr
    assert not (state / "remote" / fresh.host_id / "credential.json").exists()
    hosts = inventory(tmp_path / "hosts.yaml", ssh_server, ["web1"])
    listed = enroll(fresh, ssh_server, state, "--inventory", str(hosts))
    assert listed.returncode == 3
    assert listed.stdout.splitlines()[0].startswith("[1/1] web1: not enrolled: host ")
    assert "reports for itself" in listed.stdout
    # The host's own agent keeps reporting.
    own = fh("scan", "--submit", *DIRECTIVE, "--state-dir", str(tmp_path / "agent"), "--format", "json")
    assert own.returncode in (0, 1) and "delivered" in own.stderr, own.stderr


def test_inventory_enrollment_in_parallel(fresh: Site, ssh_server: Any, tmp_path: Path) -> None:
    state = tmp_path / "state"
    names = ["a", "b", "c"]
    hosts = inventory(tmp_path / "hosts.yaml", ssh_server, names, dead=closed_port())
    done = enroll(fresh, ssh_server, state, "--inventory", str(hosts), "--jobs", "4")
    assert done.returncode == 3, done.stderr  # one host could not be enrolled
    lines = {line.split()[1].rstrip(":"): line for line in done.stdout.splitlines()[:-1]}
    assert sorted(lines) == ["a", "b", "c", "dead"]
    assert all(f"enrolled host {fresh.host_id} (" in lines[name] for name in names)
    assert "not enrolled: " in lines["dead"] and "refused" in lines["dead"].lower()
    assert done.stdout.splitlines()[-1].startswith("4 hosts: 3 enrolled, 1 not enrolled")
    # Three enrollments of one machine took turns: the credential kept is the last one, and it works.
    assert [p.name for p in (state / "remote").iterdir()] == [fresh.host_id]
    first = scan_ssh(ssh_server, state)
    assert first.returncode in (0, 1) and "delivered" in first.stderr, first.stderr
    assert_in_sync(fresh, state / "remote" / fresh.host_id)


def test_a_refused_credential_counts_as_not_done(fresh: Site, ssh_server: Any, tmp_path: Path) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    hosts = inventory(tmp_path / "hosts.yaml", ssh_server, ["web1"])
    assert enroll(fresh, ssh_server, old, "--inventory", str(hosts)).returncode == 0
    fresh.collector.query("UPDATE hosts SET instance = NULL WHERE host_id = ?", fresh.host_id)
    assert enroll(fresh, ssh_server, new, "--inventory", str(hosts)).returncode == 0  # revokes old's token
    done = scan_inventory(ssh_server, old, hosts, tmp_path / "r")
    assert done.returncode == 3, done.stderr
    line = table(done.stdout)["web1"][1]
    assert line.startswith("NOT SUBMITTED: the collector refused this host's credential (HTTP 401")
    assert "run fedharden enroll" in line and "1 report(s) kept in the spool" in line


def test_usage_errors(ssh_server: Any, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from agent.cli import main

    blocker = tmp_path / "file"
    blocker.write_text("")
    unusable = ["--state-dir", str(blocker / "state")]
    enroll_args = ["enroll", "--collector", "http://127.0.0.1:1", "--secret", "s", *unusable]
    for args, message in [
        (["scan", "--ssh", ssh_server.target("root"), "--submit", *unusable],
         f"state directory {blocker / 'state'}: Not a directory"),
        ([*enroll_args, "--ssh", ssh_server.target("root")], f"state directory {blocker / 'state'}: Not a directory"),
        ([*enroll_args, "--sudo"], "--sudo applies to --ssh or --inventory enrollments only"),
        ([*enroll_args, "--ssh", "root@h", "--root", "/"],
         "--root scans a mounted image; it cannot be combined with --ssh or --inventory"),
        ([*enroll_args, "--inventory", str(tmp_path / "no.yaml")], "cannot read"),
    ]:
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 2, result.output
        assert len(result.output.strip().splitlines()) == 1 and message in result.output, result.output

"""The agent against the real collector (``fedharden collector serve``: uvicorn, SQLite) on
loopback: enrollment, full report then deltas, an outage, a restart, a database restored from
an old backup, an agent killed mid-submit, clones, TLS, and the long-running mode."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import psutil
import pytest

pytest.importorskip("collectors.app", reason="needs the collector and its extra")
requests = pytest.importorskip("requests")

from agent.contract import state_digest  # noqa: E402
from agent.state import StateDir  # noqa: E402

pytestmark = pytest.mark.slow  # end to end: agents against a real collector

MakeRoot = Callable[..., Path]
FEDHARDEN = str(Path(sys.executable).with_name("fedharden"))
MACHINE_A = "0123456789abcdef0123456789abcdef\n"
FILES = {
    "/etc/os-release": 'ID=debian\nVERSION_ID="12"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n',
    "/etc/machine-id": MACHINE_A,
    "/etc/hostname": "web1\n",
    "/etc/passwd": "root:x:0:0:root:/root:/bin/bash\n",
    "/etc/group": "root:x:0:\nshadow:x:42:\n",
    "/etc/shadow": "root:$y$j9T$x:19000:1:90:7:::\n",
    "/etc/login.defs": "PASS_MAX_DAYS 90\nPASS_MIN_DAYS 1\nUMASK 027\n",
}
MODES = {"/etc/shadow": 0o640}
STRONG, WEAK = "PASS_MAX_DAYS 90\nPASS_MIN_DAYS 1\nUMASK 027\n", "PASS_MAX_DAYS 99999\nPASS_MIN_DAYS 1\nUMASK 027\n"


# One real collector process on loopback (tests/collector.py, loaded by tests/agent/conftest.py).
Collector = sys.modules["fedharden_tests_collector"].Collector


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[Collector]:
    c = Collector(tmp_path)
    c.start()
    try:
        yield c
    finally:
        c.stop()


def fh(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([FEDHARDEN, *args], capture_output=True, text=True, timeout=timeout)


def enroll(c: Collector, secret: str, root: Path, state: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env_secret = {**os.environ, "FEDHARDEN_ENROLL_SECRET": secret}
    return subprocess.run([FEDHARDEN, "enroll", "--collector", c.url, "--agency", "AG1", "--root", str(root),
                           "--state-dir", str(state), *extra], capture_output=True, text=True, timeout=60,
                          env=env_secret)


def submit(root: Path, state: Path) -> subprocess.CompletedProcess[str]:
    return fh("scan", "--submit", "--root", str(root), "--state-dir", str(state), "--directive", "HARDEN-30D",
              "--format", "json")


def host_view(c: Collector, admin: str, host_id: str) -> dict[str, Any]:
    response = requests.get(f"{c.url}/api/v1/hosts/{host_id}", headers={"Authorization": f"Bearer {admin}"},
                            timeout=10)
    response.raise_for_status()
    return response.json()  # type: ignore[no-any-return]


def agent_state(state: Path) -> Any:
    loaded = StateDir(state).load_state()
    assert loaded is not None
    return loaded


def assert_in_sync(c: Collector, admin: str, state: Path) -> None:
    """The collector holds exactly the agent's state: same head, same digest, nothing queued."""
    mine = agent_state(state)
    view = host_view(c, admin, mine.host_id)
    assert view["state"]["report_id"] == mine.report_id
    assert view["state"]["state_digest"] == state_digest(mine.ordered_results())
    assert list((state / "spool").glob("*.json")) == []


def test_enroll_full_then_only_the_change_travels(collector: Collector, make_root: MakeRoot, tmp_path: Path) -> None:
    secret, admin = collector.setup()
    root, state = make_root(FILES, MODES), tmp_path / "state"
    done = enroll(collector, secret, root, state)
    assert done.returncode == 0, done.stderr
    cred = state / "credential.json"
    assert stat.S_IMODE(cred.stat().st_mode) == 0o600
    token = json.loads(cred.read_text())["token"]
    assert token not in done.stdout + done.stderr and secret not in done.stdout + done.stderr

    first = submit(root, state)
    assert first.returncode in (0, 1), first.stderr  # the fixture root fails a few requirements
    assert "submitted full report #1: 1 delivered" in first.stderr
    assert collector.reports() == [("full", 1, len(json.loads(first.stdout)["results"]))]

    (root / "etc/login.defs").write_text(WEAK)
    second = submit(root, state)
    assert second.returncode == 1, second.stderr
    assert "delta #2 (1 newly failing, 0 fixed, 0 changed, 0 waived, 0 unwaived" in second.stderr
    assert collector.reports()[-1] == ("delta", 2, 1)  # only the planted change travelled
    assert collector.query("SELECT key, old_status, new_status FROM events") == [
        ("HARDEN-30D.ACCT.4", "pass", "fail")]
    view = host_view(collector, admin, agent_state(state).host_id)
    acct4 = next(r for r in view["results"] if r["key"] == "HARDEN-30D.ACCT.4")
    assert acct4["status"] == "fail" and acct4["failing_since"]

    unchanged = submit(root, state)
    assert "delta #3 (0 newly failing, 0 fixed, 0 changed, 0 waived, 0 unwaived" in unchanged.stderr
    assert collector.reports()[-1] == ("delta", 3, 0)
    assert_in_sync(collector, admin, state)
    last = json.loads((state / "last_scan.json").read_text())
    assert last["host_id"] == agent_state(state).host_id and last["finished_at"]
    assert [d["id"] for d in last["directives"]] == ["HARDEN-30D"]


def test_outage_spools_then_delivers_in_order_once(collector: Collector, make_root: MakeRoot, tmp_path: Path) -> None:
    secret, admin = collector.setup()
    root, state = make_root(FILES, MODES), tmp_path / "state"
    assert enroll(collector, secret, root, state).returncode == 0
    assert submit(root, state).returncode in (0, 1)
    collector.stop()
    for text in (WEAK, STRONG, WEAK):
        (root / "etc/login.defs").write_text(text)
        down = submit(root, state)
        assert down.returncode in (0, 1), down.stderr
        assert "collector unavailable" in down.stderr
    assert len(list((state / "spool").glob("*.json"))) == 3
    collector.start()
    back = submit(root, state)
    assert "4 delivered" in back.stderr, back.stderr
    assert [(k, s) for k, s, _ in collector.reports()] == [("full", 1), ("delta", 2), ("delta", 3), ("delta", 4),
                                                           ("delta", 5)]
    assert [(o, n) for o, n in collector.query("SELECT old_status, new_status FROM events ORDER BY id")] == [
        ("pass", "fail"), ("fail", "pass"), ("pass", "fail")]
    assert_in_sync(collector, admin, state)


def test_database_restored_from_an_old_backup_resyncs_to_a_full(collector: Collector, make_root: MakeRoot,
                                                                tmp_path: Path) -> None:
    secret, admin = collector.setup()
    root, state = make_root(FILES, MODES), tmp_path / "state"
    assert enroll(collector, secret, root, state).returncode == 0
    collector.stop()
    backup = tmp_path / "backup.sqlite3"
    shutil.copy(collector.db_path, backup)  # hosts and tokens, no reports yet
    collector.start()
    assert submit(root, state).returncode in (0, 1)
    (root / "etc/login.defs").write_text(WEAK)
    assert submit(root, state).returncode in (0, 1)
    collector.stop()
    shutil.copy(backup, collector.db_path)
    collector.start()
    (root / "etc/login.defs").write_text(STRONG)
    again = submit(root, state)
    assert "1 resync (full snapshot sent)" in again.stderr, again.stderr
    assert [(k, s) for k, s, _ in collector.reports()] == [("full", 4)]
    assert_in_sync(collector, admin, state)


def test_agent_killed_mid_submit_loses_nothing_and_applies_nothing_twice(collector: Collector, make_root: MakeRoot,
                                                                         tmp_path: Path) -> None:
    secret, admin = collector.setup()
    root, state = make_root(FILES, MODES), tmp_path / "state"
    assert enroll(collector, secret, root, state).returncode == 0
    assert submit(root, state).returncode in (0, 1)
    (root / "etc/login.defs").write_text(WEAK)
    holder = sqlite3.connect(collector.db_path, isolation_level=None, timeout=10)
    holder.execute("BEGIN IMMEDIATE")  # the collector's next write waits for this lock
    try:
        agent = subprocess.Popen([FEDHARDEN, "scan", "--submit", "--root", str(root), "--state-dir", str(state),
                                  "--directive", "HARDEN-30D", "--format", "json"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while agent_state(state).sequence < 2:  # the delta is committed; the agent is now sending it
            assert time.monotonic() < deadline and agent.poll() is None
            time.sleep(0.05)
        while not any(c.raddr and c.raddr[1] == collector.port and c.status == psutil.CONN_ESTABLISHED
                      for c in psutil.Process(agent.pid).net_connections("tcp")):
            assert time.monotonic() < deadline and agent.poll() is None
            time.sleep(0.05)
        time.sleep(1.0)  # the request is sent; the collector has it and waits for the database
        agent.send_signal(signal.SIGKILL)
        agent.wait(10)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    # The collector applies the request of the killed agent, which never heard back.
    deadline = time.monotonic() + 20
    while len(collector.reports()) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert collector.reports() == [("full", 1, collector.reports()[0][2]), ("delta", 2, 1)]
    assert len(list((state / "spool").glob("*.json"))) == 1  # still queued on the agent's side

    again = submit(root, state)
    assert "2 delivered" in again.stderr, again.stderr  # the resend was answered "duplicate"
    assert [(k, s) for k, s, _ in collector.reports()] == [("full", 1), ("delta", 2), ("delta", 3)]
    assert collector.query("SELECT key, old_status, new_status FROM events") == [
        ("HARDEN-30D.ACCT.4", "pass", "fail")]
    assert_in_sync(collector, admin, state)


def test_agent_killed_at_random_moments(collector: Collector, make_root: MakeRoot, tmp_path: Path) -> None:
    import random

    secret, admin = collector.setup()
    root, state = make_root(FILES, MODES), tmp_path / "state"
    assert enroll(collector, secret, root, state).returncode == 0
    rng = random.Random(7)
    flips = 0
    for i in range(8):
        (root / "etc/login.defs").write_text(WEAK if i % 2 else STRONG)
        agent = subprocess.Popen([FEDHARDEN, "scan", "--submit", "--root", str(root), "--state-dir", str(state),
                                  "--directive", "HARDEN-30D", "--format", "json"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.2, 1.5))
        agent.send_signal(signal.SIGKILL)
        agent.wait(10)
        flips += 1
    final = submit(root, state)
    assert final.returncode in (0, 1), final.stderr
    assert_in_sync(collector, admin, state)
    statuses = [n for (n,) in collector.query("SELECT new_status FROM events WHERE key = 'HARDEN-30D.ACCT.4' "
                                              "ORDER BY id")]
    assert all(a != b for a, b in zip(statuses, statuses[1:]))  # no transition applied twice
    sequences = [s for _, s, _ in collector.reports()]
    assert sequences == sorted(set(sequences))


def test_clones_are_detected_not_merged(collector: Collector, make_root: MakeRoot, tmp_path: Path) -> None:
    secret, admin = collector.setup()
    root, state = make_root(FILES, MODES), tmp_path / "state"
    assert enroll(collector, secret, root, state).returncode == 0
    assert submit(root, state).returncode in (0, 1)

    # An image cloned with its machine-id and its state directory: both machines report.
    clone_root, clone_state = tmp_path / "clone-root", tmp_path / "clone-state"
    shutil.copytree(root, clone_root, symlinks=True)
    shutil.copytree(state, clone_state, symlinks=True)
    (root / "etc/login.defs").write_text(WEAK)
    assert submit(root, state).returncode in (0, 1)
    clone = submit(clone_root, clone_state)
    assert clone.returncode == 2
    assert "another agent" in clone.stderr and "machine-id" in clone.stderr
    assert_in_sync(collector, admin, state)  # the original's state, untouched by the clone

    # The same state directory used for a machine with another machine-id: refused before sending.
    other = make_root(dict(FILES, **{"/etc/machine-id": "fedcba9876543210fedcba9876543210\n"}), MODES)
    moved = submit(other, state)
    assert moved.returncode == 2 and "not the one that enrolled" in moved.stderr

    # The clone, given a fresh state directory, enrolls with the same machine-id: another install
    # claims a host that is enrolled, so the collector refuses it and the original keeps reporting.
    fresh = tmp_path / "fresh-state"
    refused = enroll(collector, secret, clone_root, fresh)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
    assert "another install with the same machine-id" in refused.stderr
    assert not (fresh / "credential.json").exists()
    assert submit(root, state).returncode in (0, 1)
    assert_in_sync(collector, admin, state)

    # After a reinstall that really lost its state, an admin releases the host; the new install
    # enrolls and the old install's token stops working.
    host_id = json.loads((state / "credential.json").read_text())["host_id"]
    assert collector.admin("host", "release", host_id) == f"host {host_id} released: the next enrollment claims it"
    assert enroll(collector, secret, clone_root, fresh).returncode == 0
    newcomer = submit(clone_root, fresh)  # its chain continues after the old install's head: not a clone
    assert newcomer.returncode in (0, 1) and "submitted full report" in newcomer.stderr, newcomer.stderr
    assert "1 delivered" in newcomer.stderr and "resync" not in newcomer.stderr
    assert_in_sync(collector, admin, fresh)
    collector.stop()  # a revoked token is refused at once by a fresh process (a running one caches for 10 s)
    collector.start()
    original = submit(root, state)
    assert original.returncode == 2 and "unknown or revoked" in original.stderr
    token = json.loads((fresh / "credential.json").read_text())["token"]
    assert token not in original.stderr


def test_not_enrolled_and_bad_urls_are_one_line_errors(make_root: MakeRoot, tmp_path: Path) -> None:
    root = make_root(FILES, MODES)
    done = submit(root, tmp_path / "nowhere")
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "not enrolled" in done.stderr
    bad = fh("enroll", "--collector", "http://collector.example:8600", "--secret", "x", "--root", str(root),
             "--state-dir", str(tmp_path / "s"))
    assert bad.returncode == 2 and "plain http is only allowed on loopback" in bad.stderr


@pytest.fixture
def tls_collector(tmp_path: Path) -> Iterator[Collector]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                    "/CN=collector.test", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key),
                    "-out", str(cert)], check=True, capture_output=True, timeout=60)
    c = Collector(tmp_path, tls=(cert, key))
    c.start()
    try:
        yield c
    finally:
        c.stop()


def test_tls_is_verified_with_a_ca_file_or_a_pin(tls_collector: Collector, make_root: MakeRoot,
                                                 tmp_path: Path) -> None:
    c = tls_collector
    secret, admin = c.setup()
    root = make_root(FILES, MODES)
    assert c.tls is not None
    cert = c.tls[0]
    untrusted = enroll(c, secret, root, tmp_path / "s0")
    assert untrusted.returncode == 2 and "TLS verification" in untrusted.stderr
    assert not (tmp_path / "s0" / "credential.json").exists()

    der = subprocess.run(["openssl", "x509", "-in", str(cert), "-outform", "DER"], capture_output=True,
                         check=True).stdout
    pin = hashlib.sha256(der).hexdigest()
    wrong = enroll(c, secret, root, tmp_path / "s1", "--pin-sha256", "00" * 32)
    assert wrong.returncode == 2 and "does not match the pin" in wrong.stderr

    pinned = enroll(c, secret, root, tmp_path / "s2", "--pin-sha256", ":".join(pin[i:i + 2] for i in range(0, 64, 2)))
    assert pinned.returncode == 0, pinned.stderr
    done = submit(root, tmp_path / "s2")
    assert done.returncode in (0, 1) and "1 delivered" in done.stderr, done.stderr

    other = make_root(dict(FILES, **{"/etc/machine-id": "fedcba9876543210fedcba9876543210\n"}), MODES)
    with_ca = enroll(c, secret, other, tmp_path / "s3", "--ca-file", str(cert))
    assert with_ca.returncode == 0, with_ca.stderr
    done = submit(other, tmp_path / "s3")
    assert done.returncode in (0, 1) and "1 delivered" in done.stderr, done.stderr


def test_run_mode_scans_on_start_repeats_and_stops_on_sigterm(collector: Collector, make_root: MakeRoot,
                                                              tmp_path: Path) -> None:
    secret, admin = collector.setup()
    root, state = make_root(FILES, MODES), tmp_path / "state"
    assert enroll(collector, secret, root, state).returncode == 0
    log = tmp_path / "run.log"
    with open(log, "wb") as out:
        runner = subprocess.Popen([FEDHARDEN, "run", "--interval", "1", "--splay", "0.5", "--root", str(root),
                                   "--directive", "HARDEN-30D", "--state-dir", str(state)], stdout=out, stderr=out)
    try:
        deadline = time.monotonic() + 60
        while len(collector.reports()) < 3:
            assert time.monotonic() < deadline and runner.poll() is None, log.read_text()
            time.sleep(0.2)
        rss_kb = int(next(line.split()[1] for line in Path(f"/proc/{runner.pid}/status").read_text().splitlines()
                          if line.startswith("VmRSS:")))
        runner.send_signal(signal.SIGTERM)
        assert runner.wait(30) == 0
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait(10)
    text = log.read_text()
    assert "scanning now" in text and "SIGTERM: stopping" in text and text.rstrip().endswith("stopped")
    kinds = [k for k, _, _ in collector.reports()]
    assert kinds[0] == "full" and set(kinds[1:]) == {"delta"}
    assert rss_kb < 100_000  # the scheduler stays small: each scan runs in its own process
    assert_in_sync(collector, admin, state)

"""The delivery fault matrix: the agent (``fedharden scan --submit``) against the real
collector (``fedharden collector serve``, SQLite) on loopback, under each fault in turn:

- the collector down for several scans;
- the collector killed -9 while it ingests a report (held mid-transaction), and at random
  moments of a submission;
- the agent killed -9 at random moments of a scan and its submission;
- the state directory full (a small tmpfs in a private mount namespace, filled to several
  levels so the failure hits each write in turn) and read-only (a read-only bind mount);
- the agent's clock a year ahead and a year behind the collector's (faketime).

Every scenario ends with the fault healed and one more scan, then counts, from the agent's
state (the ids of the reports it made) and the collector's database (the ids it stored, the
transitions it recorded): reports made, acknowledged, stored, superseded (folded into a
later full snapshot that was stored), lost and duplicated. Lost and duplicated must be 0,
the collector's state must equal the agent's, and its history must hold each transition
once. Each loop is bounded in count and each process in time.
"""
from __future__ import annotations

import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

pytest.importorskip("collectors.app", reason="needs the collector and its extra")
requests = pytest.importorskip("requests")

from agent.contract import state_digest  # noqa: E402
from agent.state import StateDir  # noqa: E402

pytestmark = pytest.mark.slow  # end to end: agent processes against a faulty collector

FEDHARDEN = str(Path(sys.executable).with_name("fedharden"))
Collector = sys.modules["fedharden_tests_collector"].Collector  # tests/collector.py, via tests/agent/conftest.py
MakeRoot = Callable[..., Path]
KEY = "HARDEN-30D.ACCT.4"  # PASS_MAX_DAYS: the planted flip
FILES = {
    "/etc/os-release": 'ID=debian\nVERSION_ID="12"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n',
    "/etc/machine-id": "0123456789abcdef0123456789abcdef\n",
    "/etc/hostname": "web1\n",
    "/etc/passwd": "root:x:0:0:root:/root:/bin/bash\n",
    "/etc/group": "root:x:0:\nshadow:x:42:\n",
    "/etc/shadow": "root:$y$j9T$x:19000:1:90:7:::\n",
    "/etc/login.defs": "PASS_MAX_DAYS 90\nPASS_MIN_DAYS 1\nUMASK 027\n",
}
MODES = {"/etc/shadow": 0o640}
STRONG, WEAK = "PASS_MAX_DAYS 90\nPASS_MIN_DAYS 1\nUMASK 027\n", "PASS_MAX_DAYS 99999\nPASS_MIN_DAYS 1\nUMASK 027\n"
STATUS_OF = {STRONG: "pass", WEAK: "fail"}
AGENT_TIMEOUT = 90.0  # one scan and its delivery, retries and backoff included
ARTIFACTS = Path(__file__).resolve().parents[1] / ".artifacts"
FIGURES: dict[str, dict[str, Any]] = {}


@dataclass
class Ledger:
    made: int = 0  # reports the agent committed (its state's history of report ids)
    acknowledged: int = 0  # reports the agent heard the collector accept ("N delivered"), resends included
    stored: int = 0  # reports in the collector's database
    superseded: int = 0  # made, never sent: folded into a later full snapshot that was stored
    lost: int = 0  # made, neither stored nor superseded; or the collector's state differs from the agent's
    duplicated: int = 0  # a transition recorded twice, or two stored reports with one sequence
    runs: int = 0  # agent processes started
    faulted: int = 0  # of which met the fault (killed, refused, spooled)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


@dataclass
class Fleet:
    """One enrolled agent (a fixture root and a state directory) and the collector."""

    collector: Any
    admin: str
    root: Path
    state: Path
    ledger: Ledger
    wrap: list[str] = field(default_factory=list)  # argv prefix: a mount namespace, faketime
    planted: list[str] = field(default_factory=list)  # the ACCT.4 status of each report known to be made
    seen: Path | None = None  # the state directory as this process sees it (inside a mount namespace)

    @property
    def view(self) -> Path:
        return self.seen or self.state

    def argv(self) -> list[str]:
        return [*self.wrap, FEDHARDEN, "scan", "--submit", "--root", str(self.root), "--state-dir", str(self.state),
                "--directive", "HARDEN-30D", "--format", "json"]

    def plant(self, text: str) -> str:
        (self.root / "etc/login.defs").write_text(text)
        return STATUS_OF[text]

    def submit(self, text: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """A scan that runs to its end; counts what it says was acknowledged."""
        status = self.plant(text)
        before = self.sequence()
        self.ledger.runs += 1
        done = subprocess.run(self.argv(), capture_output=True, text=True, timeout=AGENT_TIMEOUT,
                              env={**os.environ, **(env or {})})
        assert "Traceback" not in done.stderr and "internal error" not in done.stderr, done.stderr
        self.ledger.acknowledged += sum(int(n) for n in re.findall(r": (\d+) delivered", done.stderr))
        if self.sequence() > before:
            self.planted.append(status)
        return done

    def start(self, text: str) -> subprocess.Popen[bytes]:
        """A scan to be interrupted; what it made is read from the state afterwards."""
        self.plant(text)
        self.ledger.runs += 1
        return subprocess.Popen(self.argv(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def finish(self, agent: subprocess.Popen[bytes]) -> int:
        """Wait for a started scan; counts what it says was acknowledged if it lived to say it."""
        _, err = agent.communicate(timeout=AGENT_TIMEOUT)
        text = err.decode("utf-8", "replace")
        assert "Traceback" not in text and "internal error" not in text, text
        self.ledger.acknowledged += sum(int(n) for n in re.findall(r": (\d+) delivered", text))
        return agent.returncode

    def sequence(self) -> int:
        loaded = StateDir(self.view).load_state()
        return loaded.sequence if loaded else 0

    def spooled(self) -> list[Path]:
        return sorted((self.view / "spool").glob("*.json"))


def enroll(c: Any, secret: str, root: Path, state: Path, wrap: list[str]) -> None:
    done = subprocess.run([*wrap, FEDHARDEN, "enroll", "--collector", c.url, "--agency", "AG1", "--root", str(root),
                           "--state-dir", str(state)], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "FEDHARDEN_ENROLL_SECRET": secret})
    assert done.returncode == 0, done.stderr


def settle(fleet: Fleet, name: str, started: float) -> Ledger:
    """Heal, one more scan, then count; asserts 0 lost, 0 duplicated and an exact history."""
    final = fleet.submit(STRONG)
    assert final.returncode in (0, 1), final.stderr
    assert "delivered" in final.stderr and "spooled" not in final.stderr, final.stderr
    c, ledger = fleet.collector, fleet.ledger
    mine = StateDir(fleet.view).load_state()
    assert mine is not None and len(mine.history) == mine.sequence or mine.sequence > 256
    made = list(mine.history)
    stored = {rid: (kind, seq) for rid, kind, seq in c.query("SELECT report_id, kind, sequence FROM reports")}
    sequences = [seq for _, seq in stored.values()]
    full_sequences = [seq for kind, seq in stored.values() if kind == "full"]
    ledger.made, ledger.stored = len(made), len(stored)
    for number, rid in enumerate(made, mine.sequence - len(made) + 1):
        if rid in stored:
            continue
        if any(seq > number for seq in full_sequences):
            ledger.superseded += 1
        else:
            ledger.lost += 1
            ledger.notes.append(f"report #{number} {rid} made, never stored")
    ledger.lost += len(set(stored) - set(made))  # stored but not the agent's: cannot be, counted as a fault
    ledger.duplicated = len(sequences) - len(set(sequences))
    view = requests.get(f"{c.url}/api/v1/hosts/{mine.host_id}", headers={"Authorization": f"Bearer {fleet.admin}"},
                        timeout=10).json()
    if view["state"]["report_id"] != mine.report_id or view["state"]["state_digest"] != state_digest(
            mine.ordered_results()):
        ledger.lost += 1
        ledger.notes.append("the collector's state differs from the agent's")
    transitions = [n for (n,) in c.query("SELECT new_status FROM events WHERE key = ? ORDER BY id", KEY)]
    ledger.duplicated += sum(1 for a, b in zip(transitions, transitions[1:]) if a == b)
    ledger.seconds = round(time.monotonic() - started, 1)
    FIGURES[name] = asdict(ledger)
    assert fleet.spooled() == []
    assert (ledger.lost, ledger.duplicated) == (0, 0), ledger.notes
    assert ledger.stored + ledger.superseded == ledger.made
    return ledger


def expected_transitions(planted: list[str]) -> list[str]:
    """The ACCT.4 statuses the collector's history must record, from the reports made: the
    first report establishes the status (no event), each change after it is one event."""
    out: list[str] = []
    last = planted[0] if planted else None
    for status in planted[1:]:
        if status != last:
            out.append(status)
        last = status
    return out


def history(c: Any) -> list[str]:
    return [n for (n,) in c.query("SELECT new_status FROM events WHERE key = ? ORDER BY id", KEY)]


@pytest.fixture(scope="module", autouse=True)
def figures() -> Iterator[None]:
    yield
    if FIGURES:
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "delivery_faults.json").write_text(json.dumps(FIGURES, indent=1, sort_keys=True) + "\n")


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[Any]:
    c = Collector(tmp_path)
    c.start()
    try:
        yield c
    finally:
        c.stop()


def new_fleet(collector: Any, make_root: MakeRoot, state: Path, wrap: list[str] | None = None) -> Fleet:
    secret, admin = collector.setup()
    root = make_root(FILES, MODES)
    enroll(collector, secret, root, state, wrap or [])
    seen = Path(f"/proc/{wrap[2]}/root{state}") if wrap else None  # nsenter -t PID: that namespace's view
    fleet = Fleet(collector, admin, root, state, Ledger(), wrap or [], seen=seen)
    first = fleet.submit(STRONG)
    assert first.returncode in (0, 1) and "1 delivered" in first.stderr, first.stderr
    return fleet


# Scenarios -----------------------------------------------------------------------------------------

def test_collector_down(collector: Any, make_root: MakeRoot, tmp_path: Path) -> None:
    started = time.monotonic()
    fleet = new_fleet(collector, make_root, tmp_path / "state")
    collector.stop()
    for text in (WEAK, STRONG, WEAK):
        down = fleet.submit(text)
        assert down.returncode in (0, 1) and "collector unavailable" in down.stderr, down.stderr
        fleet.ledger.faulted += 1
    assert len(fleet.spooled()) == 3
    collector.start()
    settle(fleet, "collector_down", started)
    assert history(collector) == expected_transitions(fleet.planted)


def wait_for_connection(agent: subprocess.Popen[bytes], port: int, deadline: float) -> None:
    import psutil

    while not any(c.raddr and c.raddr[1] == port and c.status == psutil.CONN_ESTABLISHED
                  for c in psutil.Process(agent.pid).net_connections("tcp")):
        assert time.monotonic() < deadline and agent.poll() is None
        time.sleep(0.02)


def test_collector_killed_mid_submit(collector: Any, make_root: MakeRoot, tmp_path: Path) -> None:
    """Killed while it holds the report (its write waits on a held database lock), then at
    random moments of a submission; restarted each time."""
    started = time.monotonic()
    fleet = new_fleet(collector, make_root, tmp_path / "state")
    for i in range(3):
        holder = sqlite3.connect(collector.db_path, isolation_level=None, timeout=10)
        holder.execute("BEGIN IMMEDIATE")
        try:
            agent = fleet.start(WEAK if i % 2 == 0 else STRONG)
            wait_for_connection(agent, collector.port, time.monotonic() + 30)
            time.sleep(0.5)  # the request is in; the collector waits for the database
            assert collector.proc is not None
            collector.proc.send_signal(signal.SIGKILL)
            collector.proc.wait(10)
            collector.proc = None
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert fleet.finish(agent) in (0, 1)  # retried, then spooled
        fleet.ledger.faulted += 1
        collector.start()
    rng = random.Random(18)
    for i in range(5):
        agent = fleet.start(WEAK if i % 2 == 0 else STRONG)
        time.sleep(rng.uniform(0.3, 1.5))
        assert collector.proc is not None
        collector.proc.send_signal(signal.SIGKILL)
        collector.proc.wait(10)
        collector.proc = None
        collector.start()  # the agent's retries may find it back
        assert fleet.finish(agent) in (0, 1)
        fleet.ledger.faulted += 1
    settle(fleet, "collector_killed_9", started)


def test_agent_killed_mid_submit(collector: Any, make_root: MakeRoot, tmp_path: Path) -> None:
    started = time.monotonic()
    fleet = new_fleet(collector, make_root, tmp_path / "state")
    rng = random.Random(1818)
    for i in range(8):
        before = fleet.sequence()
        agent = fleet.start(WEAK if i % 2 == 0 else STRONG)
        if i % 2:
            time.sleep(rng.uniform(0.2, 1.2))  # anywhere: scanning, recording or sending
        else:
            deadline = time.monotonic() + 30
            while fleet.sequence() == before:  # committed: from here on it records and sends
                assert time.monotonic() < deadline and agent.poll() is None
                time.sleep(0.01)
            time.sleep(rng.uniform(0.0, 0.15))
        agent.send_signal(signal.SIGKILL)
        fleet.finish(agent)
        fleet.ledger.faulted += 1
    settle(fleet, "agent_killed_9", started)


@pytest.fixture
def namespace() -> Iterator[list[str]]:
    """A private mount namespace held open by a sleeping process; commands enter it with nsenter."""
    if os.geteuid() != 0:
        pytest.fail("mount namespaces need root: run the suite through tests/run")
    holder = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sleep", "600"])
    wrap = ["nsenter", "-t", str(holder.pid), "-m", "--"]
    deadline = time.monotonic() + 10
    while os.readlink(f"/proc/{holder.pid}/ns/mnt") == os.readlink("/proc/self/ns/mnt"):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    try:
        yield wrap
    finally:
        holder.kill()
        holder.wait(10)


def inside(wrap: list[str], *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*wrap, *argv], capture_output=True, text=True, timeout=60)


LEVELS = (0, 4, 16, 64, 128, 160, 256, 512)  # KiB left free


def test_state_directory_full(collector: Any, make_root: MakeRoot, tmp_path: Path, namespace: list[str]) -> None:
    """A 2 MiB tmpfs as the state directory, filled so that 0 to 512 KiB stay free: the levels
    fail different writes of a record (the spool entry; state.json, about 130 KiB, written
    beside the old one; last_scan.json), and the largest lets it through."""
    started = time.monotonic()
    state = tmp_path / "state"
    state.mkdir()
    assert inside(namespace, "mount", "-t", "tmpfs", "-o", "size=2m,mode=0700", "tmpfs", str(state)).returncode == 0
    fleet = new_fleet(collector, make_root, state, namespace)
    refusals = 0
    for i, free_kib in enumerate(LEVELS):
        filler = state / "filler"
        fill = inside(namespace, "sh", "-c", 'dd if=/dev/zero of="$1" bs=1k 2>/dev/null; '
                      'truncate -s "-$2K" "$1"; sync', "fill", str(filler), str(free_kib))
        assert fill.returncode == 0, fill.stderr
        done = fleet.submit(WEAK if i % 2 == 0 else STRONG)
        if done.returncode not in (0, 1):
            # One line naming the cause; nothing half-made (the next scan goes on from the last commit).
            assert done.returncode == 3, done.stderr
            assert [line for line in done.stderr.splitlines() if line] == [
                next(line for line in done.stderr.splitlines() if "No space left on device" in line)]
            refusals += 1
        fleet.ledger.faulted += 1
        assert inside(namespace, "rm", "-f", str(filler)).returncode == 0
    assert 1 <= refusals < len(LEVELS)
    fleet.ledger.notes.append(f"{refusals} of {len(LEVELS)} scans refused for want of space")
    settle(fleet, "state_dir_full", started)
    assert history(collector) == expected_transitions(fleet.planted)


def test_state_directory_read_only(collector: Any, make_root: MakeRoot, tmp_path: Path,
                                   namespace: list[str]) -> None:
    started = time.monotonic()
    state = tmp_path / "state"
    fleet = new_fleet(collector, make_root, state, namespace)
    for how in ("bind", "remount,bind,ro"):
        assert inside(namespace, "mount", "-o", how, *((str(state), str(state)) if how == "bind" else (str(state),))
                      ).returncode == 0
    for text in (WEAK, STRONG):
        done = fleet.submit(text)
        assert done.returncode in (2, 3), done.stderr
        lines = [line for line in done.stderr.splitlines() if line]
        assert lines == [f"fedharden: state directory {state}: on a read-only file system (nothing recorded)"]
        fleet.ledger.faulted += 1
    assert inside(namespace, "umount", str(state)).returncode == 0
    settle(fleet, "state_dir_read_only", started)
    assert history(collector) == expected_transitions(fleet.planted)


def test_clock_skew(collector: Any, make_root: MakeRoot, tmp_path: Path) -> None:
    """The agent's clock a year ahead, then a year behind: reports are applied by sequence, not
    by the time they claim; the collector clamps a time ahead of its own."""
    started = time.monotonic()
    fleet = new_fleet(collector, make_root, tmp_path / "state")
    real = ["env", "FAKETIME_DONT_FAKE_MONOTONIC=1"]
    for offset, text in (("+365d", WEAK), ("-365d", STRONG), ("+3650d", WEAK), ("-3650d", STRONG)):
        fleet.wrap = [*real, "faketime", "-f", offset]
        done = fleet.submit(text)
        assert done.returncode in (0, 1) and "1 delivered" in done.stderr, done.stderr
        fleet.ledger.faulted += 1
    fleet.wrap = []
    ledger = settle(fleet, "clock_skew", started)
    assert history(collector) == expected_transitions(fleet.planted)
    stamps = collector.query("SELECT generated_at, received_at FROM reports ORDER BY sequence")
    assert len(stamps) == ledger.stored
    for generated, received in stamps:  # none claims a time after it was received
        assert str(generated) <= str(received)

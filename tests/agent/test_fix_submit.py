"""fix --apply --submit: the re-scan after an apply reaches the collector like a scan (a delta
naming what was fixed), from the failures the last scan --submit recorded."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Callable, Iterator

import pytest

pytest.importorskip("collectors.app", reason="needs the collector and its extra")

pytestmark = pytest.mark.slow  # a real collector on loopback

FEDHARDEN = str(Path(sys.executable).with_name("fedharden"))
Collector = sys.modules["fedharden_tests_collector"].Collector
FILES = {
    "/etc/os-release": 'ID=debian\nVERSION_ID="12"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n',
    "/etc/machine-id": "0123456789abcdef0123456789abcdef\n",
    "/etc/hostname": "web1\n",
    "/etc/passwd": "root:x:0:0:root:/root:/bin/bash\n",
    "/etc/group": "root:x:0:\nshadow:x:42:\n",
    "/etc/login.defs": "PASS_MAX_DAYS 99999\nPASS_MIN_DAYS 1\nUMASK 027\n",
}


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[Collector]:
    c = Collector(tmp_path)
    c.start()
    try:
        yield c
    finally:
        c.stop()


def fh(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([FEDHARDEN, *args], capture_output=True, text=True, timeout=120, check=False,
                          env={**os.environ, **(env or {})})


def test_an_apply_is_reported_like_a_scan(collector: Collector, make_root: Callable[..., Path],
                                          tmp_path: Path) -> None:
    secret, _ = collector.setup()
    root, state = make_root(FILES), str(tmp_path / "state")
    enrolled = fh("enroll", "--collector", collector.url, "--agency", "AG1", "--root", str(root), "--state-dir", state,
                  env={"FEDHARDEN_ENROLL_SECRET": secret})
    assert enrolled.returncode == 0, enrolled.stderr
    first = fh("scan", "--submit", "--root", str(root), "--state-dir", state, "--directive", "HARDEN-30D", "-q")
    assert "submitted full report #1" in first.stderr, first.stderr
    applied = fh("fix", "--apply", "--submit", "--root", str(root), "--state-dir", state,
                 "--requirement", "HARDEN-30D.ACCT.4", "--directive", "HARDEN-30D")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "1 fixed, 0 still failing" in applied.stdout
    assert "delta #2 (0 newly failing, 1 fixed" in applied.stderr, applied.stderr
    assert collector.query("SELECT key, old_status, new_status FROM events") == [
        ("HARDEN-30D.ACCT.4", "fail", "pass")]
    assert json.loads((Path(state) / "state.json").read_text())["sequence"] == 2

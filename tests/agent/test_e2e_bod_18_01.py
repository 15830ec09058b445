"""BOD 18-01 end to end: real web and mail servers on their well-known ports (443, 80, 25) in a
network namespace made for the test, and `fedharden scan` run inside it, so the socket table
comes from psutil and the probes from LocalHost.connect. No packet leaves the namespace."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable

import pytest

pytestmark = pytest.mark.slow  # end to end: real web and mail servers

MakeNetns = Callable[..., str]
NetnsScan = Callable[..., dict[str, str]]

ROOT = Path(__file__).resolve().parents[2]
SERVERS = """
import sys, threading, time
sys.path.insert(0, sys.argv[1])
from tests.directives.servers import Server, certificate
certificate()
for spec in sys.argv[2:]:
    port, kind = spec.split("=")
    server = Server(kind, ("0.0.0.0", int(port)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
print("ready", flush=True)
time.sleep(120)
"""


def scan_with_servers(netns: MakeNetns, netns_scan: NetnsScan,
                      *specs: str) -> dict[str, str]:
    return netns_scan(netns(), [sys.executable, "-c", SERVERS, str(ROOT), *specs], "--directive", "BOD-18-01")


def test_legacy_web_and_mail_servers_fail(netns: MakeNetns, netns_scan: NetnsScan) -> None:
    got = scan_with_servers(netns, netns_scan, "443=https_legacy", "80=http_plain", "25=smtp_plain")
    assert got == {"BOD-18-01.1": "fail", "BOD-18-01.2": "pass", "BOD-18-01.3": "fail", "BOD-18-01.4": "fail",
                   "BOD-18-01.5": "fail"}


def test_hardened_web_and_mail_servers_pass(netns: MakeNetns, netns_scan: NetnsScan) -> None:
    got = scan_with_servers(netns, netns_scan, "443=https_hsts", "80=http_redirect", "25=smtp_starttls")
    assert got == dict.fromkeys([f"BOD-18-01.{i}" for i in range(1, 6)], "pass")


def test_nothing_listening_is_not_applicable(netns: MakeNetns, netns_scan: NetnsScan) -> None:
    assert set(scan_with_servers(netns, netns_scan).values()) == {"not_applicable"}

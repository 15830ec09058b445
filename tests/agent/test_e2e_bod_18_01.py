"""BOD 18-01 end to end: real web and mail servers on their well-known ports (443, 80, 25) in a
network namespace made for the test, and `fedharden scan` run inside it, so the socket table
comes from psutil and the probes from LocalHost.connect. No packet leaves the namespace."""
from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Iterator

import pytest

ROOT = Path(__file__).resolve().parents[2]
FEDHARDEN = str(Path(sys.executable).with_name("fedharden"))
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


@pytest.fixture
def netns() -> Iterator[str]:
    name = f"fh18-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True, timeout=10)
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True, timeout=10)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False, timeout=10)


def scan_with_servers(ns: str, *specs: str) -> dict[str, str]:
    servers = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-c", SERVERS, str(ROOT), *specs],
                               stdout=subprocess.PIPE, text=True)
    try:
        assert servers.stdout is not None and servers.stdout.readline().strip() == "ready"
        proc = subprocess.run(["ip", "netns", "exec", ns, FEDHARDEN, "scan", "--directive", "BOD-18-01",
                               "--format", "json"], capture_output=True, text=True, timeout=120, check=False)
        assert proc.returncode in (0, 1), proc.stderr
        return {r["key"]: r["status"] for r in json.loads(proc.stdout)["results"]}
    finally:
        servers.kill()
        servers.wait(timeout=10)


def test_legacy_web_and_mail_servers_fail(netns: str) -> None:
    got = scan_with_servers(netns, "443=https_legacy", "80=http_plain", "25=smtp_plain")
    assert got == {"BOD-18-01.1": "fail", "BOD-18-01.2": "pass", "BOD-18-01.3": "fail", "BOD-18-01.4": "fail",
                   "BOD-18-01.5": "fail"}


def test_hardened_web_and_mail_servers_pass(netns: str) -> None:
    got = scan_with_servers(netns, "443=https_hsts", "80=http_redirect", "25=smtp_starttls")
    assert got == dict.fromkeys([f"BOD-18-01.{i}" for i in range(1, 6)], "pass")


def test_nothing_listening_is_not_applicable(netns: str) -> None:
    assert set(scan_with_servers(netns).values()) == {"not_applicable"}

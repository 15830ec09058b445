"""BOD 23-02 against real listening sockets, in a network namespace made for the test: a
"public" address and a private one live on the namespace's own loopback device, so no packet
ever leaves it."""
from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Iterator

import pytest

FEDHARDEN = str(Path(sys.executable).with_name("fedharden"))
PUBLIC, PRIVATE = "8.8.4.4", "10.1.2.3"

LISTENERS = """
import socket, sys, time
socks = []
for spec in sys.argv[1:]:
    proto, addr, port = spec.split(",")
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    s = socket.socket(socket.AF_INET, kind)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, int(port)))
    if proto == "tcp":
        s.listen()
    socks.append(s)
print("ready", flush=True)
time.sleep(120)
"""


@pytest.fixture
def netns() -> Iterator[str]:
    name = f"fh-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True, timeout=10)
    try:
        for argv in (["link", "set", "lo", "up"], ["addr", "add", f"{PUBLIC}/32", "dev", "lo"],
                     ["addr", "add", f"{PRIVATE}/32", "dev", "lo"]):
            subprocess.run(["ip", "-n", name, *argv], check=True, timeout=10)
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False, timeout=10)


def scan_with_listeners(ns: str, *specs: str) -> dict[str, str]:
    listener = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-c", LISTENERS, *specs],
                                stdout=subprocess.PIPE, text=True)
    try:
        assert listener.stdout is not None and listener.stdout.readline().strip() == "ready"
        proc = subprocess.run(["ip", "netns", "exec", ns, FEDHARDEN, "scan", "--format", "json"],
                              capture_output=True, text=True, timeout=120, check=False)
        assert proc.returncode in (0, 1), proc.stderr
        return {r["key"]: r["status"] for r in json.loads(proc.stdout)["results"]}
    finally:
        listener.kill()
        listener.wait(timeout=10)


def test_bod_23_02_and_local_only_mta(netns: str) -> None:
    got = scan_with_listeners(
        netns,
        f"tcp,{PUBLIC},22",        # SSH on a public address: fail
        f"tcp,{PRIVATE},23",       # Telnet on a private address only: a human must confirm
        f"udp,{PRIVATE},161",      # SNMP likewise
        "tcp,0.0.0.0,445",         # SMB on every address, and one of them is public: fail
        "tcp,127.0.0.1,5900",      # VNC on loopback: fine
        "tcp,127.0.0.1,25",        # the MTA listens locally only
    )
    bod = {k: v for k, v in got.items() if k.startswith("BOD-23-02.")}
    assert bod == {
        "BOD-23-02.1": "fail", "BOD-23-02.2": "manual", "BOD-23-02.3": "pass", "BOD-23-02.4": "manual",
        "BOD-23-02.5": "pass", "BOD-23-02.6": "pass", "BOD-23-02.7": "fail", "BOD-23-02.8": "pass",
        "BOD-23-02.9": "pass", "BOD-23-02.10": "pass",
    }
    assert got["HARDEN-30D.SVC.8"] == "pass"


def test_mta_on_a_network_address_fails(netns: str) -> None:
    got = scan_with_listeners(netns, f"tcp,{PRIVATE},25")
    assert got["HARDEN-30D.SVC.8"] == "fail"
    assert got["BOD-23-02.1"] == "pass"

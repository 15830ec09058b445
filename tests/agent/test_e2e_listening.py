"""BOD 23-02 against real listening sockets, in a network namespace made for the test: a
"public" address and a private one live on the namespace's own loopback device, so no packet
ever leaves it."""
from __future__ import annotations

import sys
from typing import Callable

import pytest

pytestmark = pytest.mark.slow  # end to end: real listeners in a network namespace

MakeNetns = Callable[..., str]
NetnsScan = Callable[..., dict[str, str]]

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


def scan_with_listeners(netns: MakeNetns, netns_scan: NetnsScan, *specs: str,
                        tags: tuple[str, ...] = ("role:firewall",)) -> dict[str, str]:
    """Scan a namespace holding these listeners; by default the host is declared a firewall,
    one of the roles BOD 23-02 is scoped to."""
    args = [arg for tag in tags for arg in ("--tag", tag)]
    return netns_scan(netns(PUBLIC, PRIVATE), [sys.executable, "-c", LISTENERS, *specs], *args)


def test_bod_23_02_and_local_only_mta(netns: MakeNetns, netns_scan: NetnsScan) -> None:
    got = scan_with_listeners(
        netns, netns_scan,
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


def test_mta_on_a_network_address_fails(netns: MakeNetns, netns_scan: NetnsScan) -> None:
    got = scan_with_listeners(netns, netns_scan, f"tcp,{PRIVATE},25")
    assert got["HARDEN-30D.SVC.8"] == "fail"
    assert got["BOD-23-02.1"] == "pass"


def test_a_server_in_no_network_role_is_judged_by_the_baseline_not_bod_23_02(
        netns: MakeNetns, netns_scan: NetnsScan) -> None:
    got = scan_with_listeners(netns, netns_scan, f"tcp,{PUBLIC},22", tags=())
    assert {k: v for k, v in got.items() if k.startswith("BOD-23-02.")} == {
        f"BOD-23-02.{i}": "not_applicable" for i in range(1, 11)}
    assert got["HARDEN-30D.MGMT.1"] == "fail"

"""listening: which sockets listen on given ports, and on which addresses.

``allow`` states where a listener may be bound:

- ``loopback``: only 127.0.0.0/8 or ::1 passes; anything else fails.
- ``private`` (BOD 23-02): a globally routable address fails; private or link-local
  addresses only are ``manual``, because whether they are reachable from the internet is
  for a human or the network side to say; loopback passes.
- ``none``: any listener fails.

A wildcard bind (0.0.0.0, ::) is judged by every address the host has.
"""
from __future__ import annotations

import ipaddress
from typing import Any, Mapping

from checks.facts import FactKey, Facts, Socket
from checks.model import Evidence, Outcome, Status, Verdict

SOCKETS = FactKey("sockets")
ADDRESSES = FactKey("addresses")

LOOPBACK, PRIVATE, PUBLIC = "loopback", "private", "public"


def exposure(address: str) -> str:
    ip = ipaddress.ip_address(address.split("%")[0])
    if ip.is_loopback:
        return LOOPBACK
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        return exposure(str(ip.ipv4_mapped))
    return PUBLIC if ip.is_global else PRIVATE


def effective_addresses(sock: Socket, host_addresses: tuple[str, ...] | None) -> list[str]:
    """The addresses a socket is reachable on: itself, or all of the host's for a wildcard."""
    ip = ipaddress.ip_address(sock.address.split("%")[0])
    if not ip.is_unspecified:
        return [sock.address]
    if host_addresses is None:
        return []
    v6 = isinstance(ip, ipaddress.IPv6Address)
    # An IPv6 wildcard usually also accepts IPv4 (bindv6only=0), so it counts both.
    return [a for a in host_addresses if v6 or ":" not in a]


class ListeningCheck:
    name = "listening"
    schema: Mapping[str, Any] = {
        "type": "object",
        "properties": {
            "type": {"const": "listening"},
            "ports": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "properties": {
                        "port": {"type": "integer", "minimum": 1, "maximum": 65535},
                        "proto": {"enum": ["tcp", "udp"]},
                        "service": {"type": "string"},
                    },
                    "required": ["port", "proto"],
                    "additionalProperties": False,
                },
            },
            "allow": {"enum": ["loopback", "private", "none"]},
        },
        "required": ["type", "ports", "allow"],
        "additionalProperties": False,
    }

    def needs(self, params: Mapping[str, Any]) -> set[FactKey]:
        return {SOCKETS, ADDRESSES}

    def evaluate(self, params: Mapping[str, Any], facts: Facts) -> Outcome:
        sockets = facts.need(SOCKETS)
        assert isinstance(sockets, tuple)
        addresses = facts.get(ADDRESSES)
        host_addresses: tuple[str, ...] | None = None
        if isinstance(addresses, tuple):
            host_addresses = addresses
        wanted = {(p["proto"], p["port"]): p.get("service", "") for p in params["ports"]}
        allow = params["allow"]
        expected = {"loopback": "bound to loopback only", "private": "not bound to a public address",
                    "none": "not listening"}[allow]

        evidence: list[Evidence] = []
        worst = Status.PASS
        for sock in sorted(sockets, key=lambda s: (s.port, s.proto, s.address)):
            proto = sock.proto.rstrip("6")
            if (proto, sock.port) not in wanted:
                continue
            service = wanted[(proto, sock.port)] or f"{proto}/{sock.port}"
            reach = effective_addresses(sock, host_addresses)
            classes = {exposure(a) for a in reach} if reach else {PUBLIC if allow != "private" else PRIVATE}
            shown_where = ", ".join(reach) if reach and reach != [sock.address] else sock.address
            who = f" by {sock.process}" if sock.process else ""
            actual = f"{service} listening on {sock.address}:{sock.port}{who}"
            if reach != [sock.address]:
                actual += f" (all addresses: {shown_where or 'unknown'})"
            if allow == "none":
                status = Status.FAIL
            elif classes <= {LOOPBACK}:
                status = Status.PASS
            elif allow == "loopback" or PUBLIC in classes:
                status = Status.FAIL
            else:
                status = Status.MANUAL
            if status is Status.FAIL or (status is Status.MANUAL and worst is Status.PASS):
                worst = status
            verdict = {Status.PASS: Verdict.OK, Status.FAIL: Verdict.VIOLATION}.get(status, Verdict.INFO)
            evidence.append(Evidence(expected, actual, f"{sock.proto} socket", verdict))
        if not evidence:
            ports = ", ".join(f"{p}/{n}" for p, n in sorted(wanted))
            return Outcome(Status.PASS, (Evidence(expected, f"nothing listening on {ports}", "sockets"),))
        message = ""
        if worst is Status.MANUAL:
            message = "listening on private or link-local addresses only: confirm they are not reachable from the internet"
        return Outcome(worst, tuple(evidence), message)


CHECK = ListeningCheck()

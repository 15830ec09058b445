"""Listening sockets and the host's own addresses (runtime only)."""
from __future__ import annotations

from agent.facts.context import Context, unavailable
from agent.hosts import procfs
from agent.hosts.base import HostError
from checks.facts import Socket


def gather_sockets(ctx: Context, args: list[str]) -> dict[str, object]:
    try:
        found = ctx.memo("host:sockets", ctx.host.sockets)  # one socket table per scan, shared with the probes
    except HostError as exc:
        return {"": unavailable(exc)}
    return {"": tuple(sorted({Socket(*s) for s in found}, key=lambda s: (s.port, s.proto, s.address)))}


def gather_addresses(ctx: Context, args: list[str]) -> dict[str, object]:
    try:
        return {"": tuple(ctx.host.addresses())}
    except HostError as exc:
        return {"": unavailable(exc)}


FAMILIES = {"sockets": gather_sockets, "addresses": gather_addresses}
# /proc is listed for the processes that own the listening sockets
PREFETCH = {"sockets": lambda args: [*(path for _, path in procfs.NET_FILES), "/proc"],
            "addresses": lambda args: list(procfs.ADDRESS_FILES)}

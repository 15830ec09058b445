"""Wireless network interfaces of a running host: those with a /sys/class/net/IFACE/wireless
directory (cfg80211 creates it), with their operstate. An image has no interfaces."""
from __future__ import annotations

from agent.facts.context import Context, unavailable
from agent.hosts.base import HostError, NotFound
from checks.facts import Unavailable

NET = "/sys/class/net"


def gather_wireless(ctx: Context, args: list[str]) -> dict[str, object]:
    if not ctx.host.live:
        reason = "network interfaces exist only on a running system (an image has none to disable)"
        return {a: Unavailable(reason, not_applicable=True) for a in args}
    try:
        names = sorted(ctx.host.listdir(NET))
        ctx.host.prefetch([p for n in names for p in (f"{NET}/{n}/wireless", f"{NET}/{n}/operstate")])
        found = []
        for name in names:
            try:
                if ctx.host.stat(f"{NET}/{name}/wireless").kind != "dir":
                    continue
            except NotFound:
                continue
            try:
                state = ctx.text(f"{NET}/{name}/operstate").strip()
            except NotFound:
                state = "unknown"
            found.append((name, state))
    except NotFound:
        found = []
    except HostError as exc:
        return {a: unavailable(exc) for a in args}
    return {a: tuple(found) for a in args}


FAMILIES = {"wireless": gather_wireless}
PREFETCH = {"wireless": lambda args: [NET]}

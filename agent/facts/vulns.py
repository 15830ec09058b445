"""Vulnerability facts: the feeds' view of the target's release, and the running kernel.

``vulns`` comes from the scan's feed store (``Context.feeds``), chosen for the target's own
release from os-release. A missing or corrupt feed raises FeedError (exit 2, naming the
file) rather than becoming a fact: the user must fix it, and no result would be right.
``kernel_release`` is what ``uname -r`` prints, read from /proc/sys/kernel/osrelease on a
running system; an offline image has no running kernel.
"""
from __future__ import annotations

from agent.facts.context import Context, unavailable
from agent.facts.osinfo import os_release
from agent.hosts.base import HostError
from checks.facts import OsRelease, Unavailable


def gather_vulns(ctx: Context, args: list[str]) -> dict[str, object]:
    from agent.feeds.store import FeedStore

    release = os_release(ctx)
    if not isinstance(release, OsRelease):
        return {"": release}
    store = ctx.feeds if ctx.feeds is not None else FeedStore.configured(None)
    assert isinstance(store, FeedStore)
    return {"": store.vuln_data(release)}


def gather_kernel_release(ctx: Context, args: list[str]) -> dict[str, object]:
    if not ctx.host.live:
        return {"": Unavailable("an offline image has no running kernel", not_applicable=True)}
    try:
        return {"": ctx.text("/proc/sys/kernel/osrelease").strip()}
    except HostError as exc:
        return {"": unavailable(exc)}


FAMILIES = {"vulns": gather_vulns, "kernel_release": gather_kernel_release}
PREFETCH = {"kernel_release": lambda args: ["/proc/sys/kernel/osrelease"]}

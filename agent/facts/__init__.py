"""Fact gathering: turn Host primitives into the typed facts checks judge.

``gather(host, keys)`` groups the requested keys by family and calls each family's
gatherer once, with every argument asked for, so a remote host can batch its reads.
Each family module exports ``FAMILIES: dict[str, Gatherer]``, and may export
``PREFETCH: dict[str, Hinter]``: the paths a family will read for given arguments. They are
handed to ``host.prefetch`` in one batch before any gatherer runs, so a remote host fetches
the first level of everything in a few round trips (gatherers prefetch deeper levels).
"""
from __future__ import annotations

from typing import Callable, Iterable

from agent.facts.context import Context
from checks.facts import FactKey, Facts, Unavailable

Gatherer = Callable[[Context, list[str]], dict[str, object]]
Hinter = Callable[[list[str]], list[str]]


def _families() -> tuple[dict[str, Gatherer], dict[str, Hinter]]:
    from agent.facts import accounts, agentstate, apparmor, apt, audit, config, dconf, files, filetree, fswalk
    from agent.facts import grub, iptables, lifecycle, modules, mounts, network, nftables, osinfo, packages, pam, rootpath
    from agent.facts import sshd, sudoers, sysctl, systemd, text, tlsprobe, vulns, wireless

    table: dict[str, Gatherer] = {}
    hints: dict[str, Hinter] = {}
    for module in (accounts, agentstate, apparmor, apt, audit, config, dconf, files, filetree, fswalk, grub, iptables,
                   lifecycle, modules, mounts, network, nftables, osinfo, packages, pam, rootpath, sshd, sudoers, sysctl, systemd,
                   text, tlsprobe, vulns, wireless):
        table.update(module.FAMILIES)
        hints.update(getattr(module, "PREFETCH", {}))
    return table, hints


FAMILIES, PREFETCH = _families()


def gather(ctx: Context, keys: Iterable[FactKey], also: Iterable[str] = ()) -> Facts:
    """Gather every requested fact once. Failures become ``Unavailable`` with the reason.

    ``also``: more paths the caller will read afterwards, prefetched with the rest."""
    by_family: dict[str, list[str]] = {}
    for key in sorted(set(keys)):
        by_family.setdefault(key.family, []).append(key.arg)
    paths = [p for family, args in by_family.items() if family in PREFETCH for p in PREFETCH[family](args)]
    ctx.host.prefetch([*paths, *also])
    values: dict[FactKey, object] = {}
    for family, args in by_family.items():
        gatherer = FAMILIES.get(family)
        if gatherer is None:
            got: dict[str, object] = {a: Unavailable(f"no gatherer for fact family {family!r}") for a in args}
        else:
            got = gatherer(ctx, args)
        for arg in args:
            values[FactKey(family, arg)] = got.get(arg, Unavailable(f"{family} {arg}: not gathered"))
    return Facts(values)

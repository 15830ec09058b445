"""Fact gathering: turn Host primitives into the typed facts checks judge.

``gather(host, keys)`` groups the requested keys by family and calls each family's
gatherer once, with every argument asked for, so a remote host can batch its reads.
Each family module exports ``FAMILIES: dict[str, Gatherer]``, and may export
``PREFETCH: dict[str, Hinter]``: the paths a family will read for given arguments,
``PREFETCH_METADATA: dict[str, Hinter]``: the paths of which it only asks the kind, size or
link target (a binary that must exist, a link to resolve: fetching their contents would be a
waste), and ``PREFETCH_CONTENTS: dict[str, Hinter]``: the drop-in folders whose files it
reads (listed and read in the same batch, instead of one more batch per family). They are
handed to ``host.prefetch`` in one batch before any gatherer runs, so a remote
host fetches the first level of everything in a few round trips. ``PREFETCH_NEXT:
dict[str, NextHinter]`` names the second level from what the first batch brought (the homes
of the accounts /etc/passwd lists, the folders below a tree's top): every family's second
level is fetched in one more batch. Gatherers prefetch deeper levels, each level in one call.
"""
from __future__ import annotations

from typing import Callable, Iterable

from agent.facts.context import Context
from checks.facts import FactKey, Facts, Unavailable

Gatherer = Callable[[Context, list[str]], dict[str, object]]
Hinter = Callable[[list[str]], list[str]]
# The next level: (paths to read or list, paths only stat-ed), from what the first batch fetched.
NextHinter = Callable[[Context, list[str]], tuple[list[str], list[str]]]


def _families() -> tuple[dict[str, Gatherer], dict[str, Hinter], dict[str, Hinter], dict[str, Hinter],
                         dict[str, NextHinter]]:
    from agent.facts import accounts, agentstate, apparmor, apt, audit, config, dconf, files, filetree, fswalk
    from agent.facts import grub, iptables, lifecycle, modules, mounts, network, nftables, osinfo, packages, pam, rootpath
    from agent.facts import sshd, sudoers, sysctl, systemd, text, tlsprobe, vulns, wireless

    table: dict[str, Gatherer] = {}
    hints: dict[str, Hinter] = {}
    metadata: dict[str, Hinter] = {}
    contents: dict[str, Hinter] = {}
    deeper: dict[str, NextHinter] = {}
    for module in (accounts, agentstate, apparmor, apt, audit, config, dconf, files, filetree, fswalk, grub, iptables,
                   lifecycle, modules, mounts, network, nftables, osinfo, packages, pam, rootpath, sshd, sudoers, sysctl, systemd,
                   text, tlsprobe, vulns, wireless):
        table.update(module.FAMILIES)
        hints.update(getattr(module, "PREFETCH", {}))
        metadata.update(getattr(module, "PREFETCH_METADATA", {}))
        contents.update(getattr(module, "PREFETCH_CONTENTS", {}))
        deeper.update(getattr(module, "PREFETCH_NEXT", {}))
    return table, hints, metadata, contents, deeper


FAMILIES, PREFETCH, PREFETCH_METADATA, PREFETCH_CONTENTS, PREFETCH_NEXT = _families()


def _hints(table: dict[str, Hinter], by_family: dict[str, list[str]]) -> list[str]:
    return [p for family, args in by_family.items() if family in table for p in table[family](args)]


def gather(ctx: Context, keys: Iterable[FactKey], also: Iterable[str] = ()) -> Facts:
    """Gather every requested fact once. Failures become ``Unavailable`` with the reason.

    ``also``: more paths the caller will read afterwards, prefetched with the rest."""
    by_family: dict[str, list[str]] = {}
    for key in sorted(set(keys)):
        by_family.setdefault(key.family, []).append(key.arg)
    ctx.host.prefetch([*_hints(PREFETCH, by_family), *also], _hints(PREFETCH_METADATA, by_family),
                      _hints(PREFETCH_CONTENTS, by_family))
    paths: list[str] = []
    metadata: list[str] = []
    for family, args in by_family.items():
        if family in PREFETCH_NEXT:
            more, more_metadata = PREFETCH_NEXT[family](ctx, args)
            paths += more
            metadata += more_metadata
    ctx.host.prefetch(paths, metadata)
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

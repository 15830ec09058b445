"""Fact gathering: turn Host primitives into the typed facts checks judge.

``gather(host, keys)`` groups the requested keys by family and calls each family's
gatherer once, with every argument asked for, so a remote host can batch its reads.
Each family module exports ``FAMILIES: dict[str, Gatherer]``.
"""
from __future__ import annotations

from typing import Callable, Iterable

from agent.facts.context import Context
from checks.facts import FactKey, Facts, Unavailable

Gatherer = Callable[[Context, list[str]], dict[str, object]]


def _families() -> dict[str, Gatherer]:
    from agent.facts import accounts, agentstate, config, files, fswalk, lifecycle, modules, mounts, network
    from agent.facts import osinfo, packages, sysctl, systemd, text, tlsprobe, vulns

    table: dict[str, Gatherer] = {}
    for module in (accounts, agentstate, config, files, fswalk, lifecycle, modules, mounts, network, osinfo, packages,
                   sysctl, systemd, text, tlsprobe, vulns):
        table.update(module.FAMILIES)
    return table


FAMILIES: dict[str, Gatherer] = _families()


def gather(ctx: Context, keys: Iterable[FactKey]) -> Facts:
    """Gather every requested fact once. Failures become ``Unavailable`` with the reason."""
    by_family: dict[str, list[str]] = {}
    for key in sorted(set(keys)):
        by_family.setdefault(key.family, []).append(key.arg)
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

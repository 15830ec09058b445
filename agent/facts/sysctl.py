"""Kernel parameters: running values from /proc/sys, persisted ones from sysctl.d."""
from __future__ import annotations

import re

from agent.facts.context import Context, unavailable
from agent.hosts.base import HostError, NotFound
from checks.facts import SysctlSetting, Unavailable

# systemd-sysctl's search path (sysctl.d(5)), earliest first; a file name found earlier shadows
# later ones. /etc/sysctl.conf is not on it: Debian links it in as /etc/sysctl.d/99-sysctl.conf.
SYSCTL_DIRS = ("/etc/sysctl.d", "/run/sysctl.d", "/usr/local/lib/sysctl.d", "/usr/lib/sysctl.d", "/lib/sysctl.d")
LINE_END = re.compile(r"\r\n|[\r\n\0]")  # read_line()'s line ends
WHITESPACE = " \t\n\r"  # strstrip()'s


def parse_sysctl(text: str, path: str) -> list[SysctlSetting]:
    """Assignments in file order, as systemd-sysctl's parse_file reads them: ``#`` and ``;``
    comment lines, ``-key = value`` (failure ignored), ``-key`` alone (an exclusion, value None);
    any other line without ``=`` is ignored with a warning."""
    out = []
    for number, line in enumerate(LINE_END.split(text), 1):
        stripped = line.strip(WHITESPACE)
        if not stripped or stripped[0] in "#;":
            continue
        key, sep, value = stripped.partition("=")
        if key.startswith("-"):
            key = key[1:]
        elif not sep:
            continue
        key = key.strip(WHITESPACE)
        out.append(SysctlSetting(key, value.strip(WHITESPACE) if sep else None, path, number))
    return out


def dropin_texts(ctx: Context, dirs: tuple[str, ...], suffix: str) -> list[tuple[str, str]]:
    """(path, text) of each drop-in as systemd's conf_files_list and libkmod pick them: a name in
    an earlier folder shadows later ones, even when it is masked (a link to /dev/null) or its
    link dangles; those are then skipped. Only regular files (or links to them) are read."""
    out = []
    for _, path in ctx.config_dir_files(dirs, suffix):
        try:
            if ctx.host.stat(path, follow=False).kind == "link" and ctx.host.readlink(path) == "/dev/null":
                continue
            if ctx.host.stat(path).kind != "file":
                continue
            out.append((path, ctx.text(path)))
        except NotFound:
            continue
    return out


def gather_persisted(ctx: Context, args: list[str]) -> dict[str, object]:
    settings: list[SysctlSetting] = []
    try:
        for path, text in dropin_texts(ctx, SYSCTL_DIRS, ".conf"):
            settings.extend(parse_sysctl(text, path))
    except HostError as exc:
        return {"": unavailable(exc)}
    return {"": tuple(settings)}


def gather_runtime(ctx: Context, keys: list[str]) -> dict[str, object]:
    if not ctx.host.live:
        reason = "running kernel parameters exist only on a running system; persisted values judged instead"
        return {k: Unavailable(reason, not_applicable=True) for k in keys}
    out: dict[str, object] = {}
    ctx.host.prefetch(["/proc/sys/" + k.replace(".", "/") for k in keys])
    for key in keys:
        try:
            out[key] = " ".join(ctx.text("/proc/sys/" + key.replace(".", "/")).split())
        except NotFound:
            out[key] = None
        except HostError as exc:
            out[key] = unavailable(exc)
    return out


def gather_interfaces(ctx: Context, patterns: list[str]) -> dict[str, object]:
    """``net/ipv4/conf/*/rp_filter`` -> ((interface, running value), ...) for every interface
    (``all`` and ``default`` included), or None when the kernel has no such family. Every
    value of every pattern is fetched in one batch (one round trip over SSH)."""
    if not ctx.host.live:
        reason = "running kernel parameters exist only on a running system; persisted values judged instead"
        return {p: Unavailable(reason, not_applicable=True) for p in patterns}
    out: dict[str, object] = {}
    wanted: dict[str, list[tuple[str, str]]] = {}
    ctx.host.prefetch(["/proc/sys/" + p.partition("/*/")[0] for p in patterns])
    for pattern in patterns:
        family, _, parameter = pattern.partition("/*/")
        try:
            names = sorted(ctx.host.listdir("/proc/sys/" + family))
        except NotFound:
            out[pattern] = None
            continue
        except HostError as exc:
            out[pattern] = unavailable(exc)
            continue
        wanted[pattern] = [(name, f"/proc/sys/{family}/{name}/{parameter}") for name in names]
    ctx.host.prefetch([path for pairs in wanted.values() for _, path in pairs])
    for pattern, pairs in wanted.items():
        values = []
        try:
            for name, path in pairs:
                try:
                    values.append((name, " ".join(ctx.text(path).split())))
                except NotFound:  # an interface that went away meanwhile
                    continue
        except HostError as exc:
            out[pattern] = unavailable(exc)
            continue
        out[pattern] = tuple(values) if values else None
    return out


FAMILIES = {"sysctl": gather_runtime, "sysctl_persisted": gather_persisted, "sysctl_interfaces": gather_interfaces}
PREFETCH = {"sysctl": lambda keys: ["/proc/sys/" + k.replace(".", "/") for k in keys],
            "sysctl_interfaces": lambda patterns: ["/proc/sys/" + p.partition("/*/")[0] for p in patterns]}
PREFETCH_CONTENTS = {"sysctl_persisted": lambda args: list(SYSCTL_DIRS)}


def next_interfaces(ctx: Context, patterns: list[str]) -> tuple[list[str], list[str]]:
    """Each interface's file, from the listing the first batch brought."""
    paths: list[str] = []
    for pattern in patterns if ctx.host.live else []:
        family, _, parameter = pattern.partition("/*/")
        try:
            paths += [f"/proc/sys/{family}/{name}/{parameter}" for name in ctx.host.listdir("/proc/sys/" + family)]
        except HostError:
            continue  # gather_interfaces says why
    return paths, []


PREFETCH_NEXT = {"sysctl_interfaces": next_interfaces}

"""systemd unit-file state from the unit directories, and activity from systemctl.

The unit-file state is derived as ``systemctl is-enabled`` does, from files alone, so it
works on offline images: masked (linked to /dev/null), enabled (linked from a .wants or
.requires directory, under its own name or an alias; a runtime link in /run counts, as it
does until reboot), static (no [Install] section), disabled, or not-found. Presets are not
read: a preset only says what ``systemctl preset`` would do, not what is enabled.

A ``NAME.service`` with no unit file but an executable /etc/init.d/NAME is the unit
systemd-sysv-generator makes of that script at boot (Debian still ships some daemons so:
slapd, isc-dhcp-server, tftpd-hpa, xinetd): enabled when an ``S??NAME`` start link is in one of
/etc/rc[2345S].d (the runlevels the generator and update-rc.d use), disabled otherwise.
"""
from __future__ import annotations

import re

from agent.facts.context import Context, unavailable
from agent.hosts.base import HostError, NotFound
from checks.facts import UnitFile

UNIT_DIRS = (
    "/etc/systemd/system",
    "/run/systemd/system",
    "/usr/local/lib/systemd/system",
    "/usr/lib/systemd/system",
    "/lib/systemd/system",
)
ENABLE_DIRS = ("/etc/systemd/system", "/run/systemd/system", "/usr/local/lib/systemd/system",
               "/usr/lib/systemd/system", "/lib/systemd/system")
INIT_D = "/etc/init.d"
RC_DIRS = tuple(f"/etc/rc{level}.d" for level in "2345S")


def _wants_dirs(ctx: Context) -> list[str]:
    return [f"{base}/{sub}" for base in ENABLE_DIRS for sub in ctx.listdir(base) if sub.endswith((".wants", ".requires"))]


def _wanted(ctx: Context) -> dict[str, str]:
    """Unit name -> the link that enables it, from every *.wants/*.requires directory."""

    def load() -> dict[str, str]:
        found: dict[str, str] = {}
        ctx.host.prefetch(_wants_dirs(ctx))
        for base in ENABLE_DIRS:
            for sub in ctx.listdir(base):
                if sub.endswith((".wants", ".requires")):
                    for name in ctx.listdir(f"{base}/{sub}"):
                        found.setdefault(name, f"{base}/{sub}/{name}")
        return found

    return ctx.memo("systemd:wanted", load)


def _listings(ctx: Context) -> dict[str, frozenset[str] | None]:
    """The names in each unit directory (None: it could not be listed), so that a unit is looked
    up only where it is: a stat per directory and unit was most of a root scan's gathering."""

    def load() -> dict[str, frozenset[str] | None]:
        out: dict[str, frozenset[str] | None] = {}
        for directory in UNIT_DIRS:
            try:
                out[directory] = frozenset(ctx.listdir(directory))
            except HostError:
                out[directory] = None  # unreadable: stat each name there, as before
        return out

    return ctx.memo("systemd:listings", load)


def _locate(ctx: Context, name: str) -> tuple[str, str] | None:
    """(path, link target) of the first unit file of that name on the search path."""
    listings = _listings(ctx) if "/" not in name else {}
    for directory in UNIT_DIRS:
        listing = listings.get(directory)
        if listing is not None and name not in listing:
            continue
        path = f"{directory}/{name}"
        try:
            kind = ctx.host.stat(path, follow=False).kind
        except NotFound:
            continue
        return path, ctx.host.readlink(path) if kind == "link" else ""
    return None


def _sysv_state(ctx: Context, name: str) -> UnitFile:
    """The generated unit of an init script, or not-found when there is no such script."""
    script = name.removesuffix(".service")
    path = f"{INIT_D}/{script}"
    if not name.endswith(".service") or "@" in script:
        return UnitFile(name, "not-found")
    try:
        info = ctx.host.stat(path)
    except NotFound:
        return UnitFile(name, "not-found")
    if info.kind != "file" or not info.mode & 0o100:  # the generator skips a script it cannot run
        return UnitFile(name, "not-found")
    started = any(re.fullmatch(rf"S\d\d{re.escape(script)}", link) for rc in RC_DIRS for link in ctx.listdir(rc))
    return UnitFile(name, "enabled" if started else "disabled", path)


def unit_state(ctx: Context, name: str) -> UnitFile:
    located = _locate(ctx, name)
    if located is None:
        return _sysv_state(ctx, name)
    path, target = located
    if target == "/dev/null":
        return UnitFile(name, "masked", path)
    names = {name}
    real = path
    if target:
        names.add(target.rsplit("/", 1)[-1])  # an alias: enabling either name counts
        located_real = _locate(ctx, target.rsplit("/", 1)[-1]) if not target.startswith("/") else (target, "")
        real = located_real[0] if located_real else path
    if any(n in _wanted(ctx) for n in names):
        return UnitFile(name, "enabled", path)
    try:
        text = ctx.text(real)
    except HostError:
        return UnitFile(name, "disabled", path)
    if "[Install]" not in text:
        return UnitFile(name, "static", path)
    return UnitFile(name, "disabled", path)


def _active(ctx: Context, names: list[str]) -> dict[str, str]:
    """ActiveState of each unit from one systemctl call; empty when systemd is not running."""
    if not ctx.host.live:
        return {}
    try:
        result = ctx.host.run(["systemctl", "show", "--property=Id,ActiveState", "--", *names], timeout=15)
    except HostError:
        return {}
    if result.returncode != 0:
        return {}
    states: dict[str, str] = {}
    for block, name in zip(result.stdout.strip().split("\n\n"), names):
        props = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        states[name] = props.get("ActiveState", "")
    return states


def _unit_files(ctx: Context, names: list[str]) -> list[str]:
    """The files unit_state will read for these names (to fetch them in one batch)."""
    paths = []
    for name in names:
        try:
            located = _locate(ctx, name)
            if located and located[1] and not located[1].startswith("/"):
                located = _locate(ctx, located[1].rsplit("/", 1)[-1]) or located
        except HostError:
            continue
        if located:
            paths.append(located[1] if located[1].startswith("/") else located[0])
    return paths


def gather_units(ctx: Context, names: list[str]) -> dict[str, object]:
    active = _active(ctx, names)
    _wanted(ctx)
    ctx.host.prefetch(_unit_files(ctx, names))
    out: dict[str, object] = {}
    for name in names:
        try:
            unit = unit_state(ctx, name)
        except HostError as exc:
            out[name] = unavailable(exc)
            continue
        if active.get(name):
            unit = UnitFile(unit.name, unit.state, unit.path, active[name])
        out[name] = unit
    return out


FAMILIES = {"unit": gather_units}
PREFETCH = {"unit": lambda names: list(dict.fromkeys([*UNIT_DIRS, *ENABLE_DIRS, INIT_D, *RC_DIRS]))}


def next_units(ctx: Context, names: list[str]) -> tuple[list[str], list[str]]:
    """The .wants folders and the unit files, both found in the listings of the first batch."""
    return [*_wants_dirs(ctx), *_unit_files(ctx, names)], []


PREFETCH_NEXT = {"unit": next_units}

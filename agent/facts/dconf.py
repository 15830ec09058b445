"""dconf profiles and the system databases they stack, read from the keyfiles ``dconf update``
compiles (dconf(7), dconf 0.40).

- A profile is /etc/dconf/profile/NAME, else /usr/share/dconf/profile/NAME (the data directory);
  its lines name databases, the first the highest priority: ``user-db:NAME`` (the user's own,
  in their home: not read), ``system-db:NAME`` (/etc/dconf/db/NAME, compiled from the keyfiles
  of /etc/dconf/db/NAME.d), ``file-db:PATH`` and ``service-db:NAME`` (binary or run-time:
  not read). ``#`` starts a comment; blank lines are skipped.
- Keyfiles (GKeyFile): ``[org/gnome/desktop/screensaver]`` groups, ``key=value`` lines with
  a GVariant text value, ``#`` comment lines. Every file of NAME.d is read in name order and a
  key set twice keeps the value of the later file. Locks: each file of NAME.d/locks lists key
  paths, one per line.
"""
from __future__ import annotations

import re

from agent.facts.context import Context, unavailable
from agent.hosts.base import HostError, NotFound
from checks.facts import DconfProfile, DconfSource, DconfValue

PROFILE_DIRS = ("/etc/dconf/profile", "/usr/share/dconf/profile")
DB_DIR = "/etc/dconf/db"
_GROUP = re.compile(r"^\[([^\]]*)\]\s*$")


def keyfile(text: str, path: str, into: dict[str, DconfValue]) -> None:
    group = ""
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        found = _GROUP.match(stripped)
        if found:
            group = found.group(1).strip("/")
            continue
        key, sep, value = line.partition("=")
        if sep and group:
            into[f"/{group}/{key.strip()}"] = DconfValue(value.strip(), f"{path}:{number}")


def system_db(ctx: Context, name: str) -> DconfSource:
    directory = f"{DB_DIR}/{name}.d"
    values: dict[str, DconfValue] = {}
    locks: dict[str, str] = {}
    names = sorted(n for n in ctx.listdir(directory) if not n.startswith("."))
    ctx.host.prefetch([f"{directory}/{n}" for n in names] + [f"{directory}/locks"])
    for entry in names:
        path = f"{directory}/{entry}"
        try:
            if ctx.host.stat(path).kind != "file":
                continue
        except NotFound:
            continue
        keyfile(ctx.text(path), path, values)
    lock_names = sorted(n for n in ctx.listdir(f"{directory}/locks") if not n.startswith("."))
    ctx.host.prefetch([f"{directory}/locks/{n}" for n in lock_names])
    for entry in lock_names:
        path = f"{directory}/locks/{entry}"
        try:
            if ctx.host.stat(path).kind != "file":
                continue
        except NotFound:
            continue
        for number, line in enumerate(ctx.text(path).splitlines(), 1):
            if line.strip().startswith("/"):
                locks[line.strip()] = f"{path}:{number}"
    return DconfSource("system-db", name, True, values, locks)


def load(ctx: Context, name: str) -> DconfProfile:
    """Raises HostError when a file exists but cannot be read."""
    for directory in PROFILE_DIRS:
        path = f"{directory}/{name}"
        text = ctx.text_or_none(path)
        if text is None:
            continue
        sources = []
        for line in text.splitlines():
            line = line.split("#", 1)[0].strip()
            kind, sep, arg = line.partition(":")
            if not sep:
                continue
            if kind == "system-db":
                sources.append(system_db(ctx, arg))
            else:
                sources.append(DconfSource(kind, arg, False))
        return DconfProfile(name, path, tuple(sources))
    # No profile file: dconf uses the user's database alone.
    return DconfProfile(name, "", (DconfSource("user-db", "user", False),))


def gather_dconf(ctx: Context, names: list[str]) -> dict[str, object]:
    out: dict[str, object] = {}
    for name in names:
        try:
            out[name] = load(ctx, name)
        except HostError as exc:
            out[name] = unavailable(exc)
    return out


FAMILIES = {"dconf": gather_dconf}
PREFETCH = {"dconf": lambda names: [f"{d}/{n}" for n in names for d in PROFILE_DIRS] + [DB_DIR]}

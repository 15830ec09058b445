"""AppArmor profiles loaded in the running kernel (``apparmor_profiles``).

/sys/kernel/security/apparmor/profiles lists one ``NAME (MODE)`` per line (MODE: enforce,
complain, kill, unconfined, prompt). Loaded profiles exist only on a running system: on an
image the fact is not applicable, with the reason. A kernel without AppArmor has no
/sys/kernel/security/apparmor directory.
"""
from __future__ import annotations

import re

from agent.facts.context import Context, unavailable
from agent.hosts.base import HostError, NotFound
from checks.facts import AppArmorProfiles, Unavailable

DIRECTORY = "/sys/kernel/security/apparmor"
PROFILES = f"{DIRECTORY}/profiles"
_LINE = re.compile(r"^(?P<name>.*\S)\s+\((?P<mode>[a-z_]+)\)$")


def parse(text: str) -> tuple[tuple[str, str], ...]:
    out = []
    for line in text.splitlines():
        found = _LINE.match(line.strip())
        if found:
            out.append((found["name"], found["mode"]))
        elif line.strip():
            out.append((line.strip(), "unknown"))
    return tuple(out)


def gather_apparmor(ctx: Context, args: list[str]) -> dict[str, object]:
    if not ctx.host.live:
        return {"": Unavailable("loaded AppArmor profiles exist only on a running system", True)}
    try:
        ctx.host.stat(DIRECTORY)
    except NotFound:
        return {"": AppArmorProfiles(False)}
    except HostError as exc:
        return {"": unavailable(exc)}
    try:
        return {"": AppArmorProfiles(True, parse(ctx.text(PROFILES)))}
    except HostError as exc:
        return {"": unavailable(exc)}


FAMILIES = {"apparmor_profiles": gather_apparmor}
PREFETCH = {"apparmor_profiles": lambda args: [DIRECTORY, PROFILES]}

"""Mounts: the running table and the persisted one (/etc/fstab).

The running table is PID 1's (/proc/1/mounts): the system as booted, not the mount namespace
of this process, which a sandboxed service (PrivateTmp=, ProtectSystem=) changes. Without
the right to read it (not root), this process's own table is read instead."""
from __future__ import annotations

import re

from agent.facts.context import Context, unavailable
from agent.hosts.base import HostError
from checks.facts import Mount, Unavailable

_OCTAL = re.compile(r"\\([0-7]{3})")


def _unescape(field: str) -> str:
    """Mount tables escape space, tab, newline and backslash as \\ooo."""
    return _OCTAL.sub(lambda m: chr(int(m.group(1), 8)), field)


def parse_table(text: str, source: str, numbered: bool) -> tuple[Mount, ...]:
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        fields = line.split("#", 1)[0].split() if numbered else line.split()
        if len(fields) < 4:
            continue
        device, point, fstype, options = fields[:4]
        where = f"{source}:{number}" if numbered else source
        point = _unescape(point).rstrip("/") or "/"
        out.append(Mount(point, _unescape(device), fstype, tuple(options.split(",")), where))
    return tuple(out)


def gather_runtime(ctx: Context, args: list[str]) -> dict[str, object]:
    if not ctx.host.live:
        return {"": Unavailable("mounted filesystems exist only on a running system; /etc/fstab judged instead", True)}
    problem: HostError | None = None
    for path in ("/proc/1/mounts", "/proc/self/mounts"):
        try:
            return {"": parse_table(ctx.text(path), path, numbered=False)}
        except HostError as exc:
            problem = exc
    assert problem is not None
    return {"": unavailable(problem)}


def gather_fstab(ctx: Context, args: list[str]) -> dict[str, object]:
    try:
        text = ctx.text_or_none("/etc/fstab")
    except HostError as exc:
        return {"": unavailable(exc)}
    return {"": parse_table(text or "", "/etc/fstab", numbered=True)}


FAMILIES = {"mounts": gather_runtime, "fstab": gather_fstab}
PREFETCH = {"mounts": lambda args: ["/proc/self/mounts"], "fstab": lambda args: ["/etc/fstab"]}

"""Account databases: /etc/passwd, /etc/shadow, /etc/group of the target itself."""
from __future__ import annotations

from agent.facts.context import Context, unavailable
from agent.hosts.base import HostError
from checks.facts import Account, ShadowEntry


def _int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


def parse_passwd(text: str) -> tuple[Account, ...]:
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        fields = line.split(":")
        if len(fields) < 7 or line.startswith(("#", "+", "-")):
            continue
        uid, gid = _int(fields[2]), _int(fields[3])
        if uid is None or gid is None:
            continue
        out.append(Account(fields[0], uid, gid, fields[5], fields[6], number))
    return tuple(out)


def parse_shadow(text: str) -> tuple[ShadowEntry, ...]:
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        f = line.split(":")
        if len(f) < 8 or line.startswith("#"):
            continue
        out.append(ShadowEntry(f[0], f[1], _int(f[2]), _int(f[3]), _int(f[4]), _int(f[5]), _int(f[6]), number))
    return tuple(out)


def names_by_id(text: str) -> dict[int, str]:
    """uid -> name from passwd text, or gid -> name from group text (first entry wins)."""
    out: dict[int, str] = {}
    for line in text.splitlines():
        fields = line.split(":")
        if len(fields) >= 3 and (number := _int(fields[2])) is not None:
            out.setdefault(number, fields[0])
    return out


def passwd(ctx: Context) -> tuple[Account, ...]:
    return ctx.memo("passwd", lambda: parse_passwd(ctx.text("/etc/passwd")))


def gather_passwd(ctx: Context, args: list[str]) -> dict[str, object]:
    try:
        return {"": passwd(ctx)}
    except HostError as exc:
        return {"": unavailable(exc)}


def gather_shadow(ctx: Context, args: list[str]) -> dict[str, object]:
    try:
        return {"": parse_shadow(ctx.text("/etc/shadow"))}
    except HostError as exc:
        return {"": unavailable(exc)}


FAMILIES = {"passwd": gather_passwd, "shadow": gather_shadow}
PREFETCH = {"passwd": lambda args: ["/etc/passwd"], "shadow": lambda args: ["/etc/shadow"]}

"""Operating system identity from os-release."""
from __future__ import annotations

import shlex

from agent.facts.context import Context, unavailable
from agent.hosts.base import HostError
from checks.facts import OsRelease, Unavailable


def parse_os_release(text: str) -> OsRelease:
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, raw = line.partition("=")
        if not sep or line.lstrip().startswith("#"):
            continue
        try:
            parts = shlex.split(raw)  # parses the file's own quoting; nothing is executed
        except ValueError:
            parts = [raw.strip("\"'")]
        values[key.strip()] = parts[0] if parts else ""
    return OsRelease(
        id=values.get("ID", "linux"),
        version_id=values.get("VERSION_ID", ""),
        id_like=tuple(values.get("ID_LIKE", "").split()),
        pretty_name=values.get("PRETTY_NAME", ""),
        codename=values.get("VERSION_CODENAME", ""),
    )


def os_release(ctx: Context) -> OsRelease | Unavailable:
    def load() -> OsRelease | Unavailable:
        for path in ("/etc/os-release", "/usr/lib/os-release"):
            try:
                text = ctx.text_or_none(path)
            except HostError as exc:
                return unavailable(exc)
            if text is not None:
                return parse_os_release(text)
        return Unavailable("no /etc/os-release or /usr/lib/os-release")

    return ctx.memo("os_release", load)


def gather_os_release(ctx: Context, args: list[str]) -> dict[str, object]:
    return {"": os_release(ctx)}


FAMILIES = {"os_release": gather_os_release}
PATHS = ("/etc/os-release", "/usr/lib/os-release")
PREFETCH = {"os_release": lambda args: list(PATHS)}

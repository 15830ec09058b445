"""File metadata, owners resolved through the target's own passwd and group files."""
from __future__ import annotations

from agent.facts.accounts import names_by_id
from agent.facts.context import Context, unavailable
from agent.hosts.base import HostError, NotFound
from checks.facts import FileInfo


def _names(ctx: Context, path: str) -> dict[int, str]:
    def load() -> dict[int, str]:
        try:
            return names_by_id(ctx.text(path))
        except HostError:
            return {}

    return ctx.memo(f"names:{path}", load)


def gather_files(ctx: Context, paths: list[str]) -> dict[str, object]:
    out: dict[str, object] = {}
    users, groups = _names(ctx, "/etc/passwd"), _names(ctx, "/etc/group")
    for path in paths:
        try:
            s = ctx.host.stat(path)
        except NotFound:
            out[path] = FileInfo(path, exists=False)
            continue
        except HostError as exc:
            out[path] = unavailable(exc)
            continue
        out[path] = FileInfo(path, True, s.kind, s.mode, s.uid, s.gid, users.get(s.uid, ""), groups.get(s.gid, ""))
    return out


FAMILIES = {"file": gather_files}
PREFETCH = {"file": lambda paths: ["/etc/passwd", "/etc/group", *paths]}

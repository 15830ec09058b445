"""File metadata, owners resolved through the target's own passwd and group files."""
from __future__ import annotations

from agent.facts.accounts import names
from agent.facts.context import Context, unavailable
from agent.hosts.base import HostError, NotFound
from checks.facts import FileInfo


def gather_files(ctx: Context, paths: list[str]) -> dict[str, object]:
    out: dict[str, object] = {}
    users, groups = names(ctx, "/etc/passwd"), names(ctx, "/etc/group")
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

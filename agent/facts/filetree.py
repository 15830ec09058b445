"""Every regular file under a directory, with its owner, group and mode (``file_tree``).

As ``find -P DIR -type f`` lists them: symbolic links are neither followed nor listed, and a
directory that is a link is not entered. The walk stops at ``MAX_FILES`` files or ``MAX_DIRS`` directories and says so;
a directory that cannot be listed is named, and the fact is then an error, since a file in it
could be the one that fails.
"""
from __future__ import annotations

from agent.facts.accounts import names_by_id
from agent.facts.context import Context, unavailable
from agent.hosts.base import HostError, NotFound
from checks.facts import FileTree, WalkEntry

MAX_FILES = 20000
MAX_DIRS = 5000  # a tree of empty directories is bounded too


def _names(ctx: Context, path: str) -> dict[int, str]:
    try:
        return names_by_id(ctx.text(path))
    except HostError:
        return {}


def walk(ctx: Context, top: str) -> FileTree:
    users, groups = _names(ctx, "/etc/passwd"), _names(ctx, "/etc/group")
    try:
        if ctx.host.stat(top).kind != "dir":  # find -P DIR/ enters a top that is a link
            return FileTree(top, exists=False)
    except NotFound:
        return FileTree(top, exists=False)
    entries: list[WalkEntry] = []
    unreadable: list[str] = []
    level = [top]  # one depth at a time, so a remote host lists each level's directories at once
    visited = 0

    def result(truncated: bool = False) -> FileTree:
        return FileTree(top, True, tuple(sorted(entries, key=lambda e: e.path)), tuple(unreadable), truncated)

    while level:
        ctx.host.prefetch(level)
        deeper: list[str] = []
        for directory in level:
            if visited >= MAX_DIRS:
                return result(truncated=True)
            visited += 1
            try:
                names = sorted(ctx.host.listdir(directory))
            except HostError as exc:
                unreadable.append(f"{directory}: {exc.reason}")
                continue
            for name in names:
                path = f"{directory.rstrip('/')}/{name}"
                try:
                    st = ctx.host.stat(path, follow=False)  # known from the listing on a remote host
                except HostError as exc:
                    unreadable.append(f"{path}: {exc.reason}")
                    continue
                if st.kind == "dir":
                    deeper.append(path)
                elif st.kind == "file":
                    if len(entries) >= MAX_FILES:
                        return result(truncated=True)
                    entries.append(WalkEntry(path, "file", st.mode, st.uid, st.gid,
                                             users.get(st.uid, ""), groups.get(st.gid, "")))
        level = deeper
    return result()


def gather_file_tree(ctx: Context, tops: list[str]) -> dict[str, object]:
    out: dict[str, object] = {}
    for top in tops:
        try:
            out[top] = walk(ctx, top)
        except HostError as exc:
            out[top] = unavailable(exc)
    return out


FAMILIES = {"file_tree": gather_file_tree}
PREFETCH = {"file_tree": lambda tops: ["/etc/passwd", "/etc/group", *tops]}

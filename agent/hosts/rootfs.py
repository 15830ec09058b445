"""A root filesystem at a path: every path, symlink targets included, resolves under it."""
from __future__ import annotations

import errno
import os
import stat as st
from typing import Iterator, Sequence

from agent.hosts.base import (
    MAX_READ, CommandResult, HostError, HostUnreachable, NotFound, NotSupported, PathStat, PermissionDenied, kind_of,
    not_regular, too_large, type_name,
)

CHUNK = 64 * 1024
MAX_LINKS = 40  # as the kernel's ELOOP limit


def _host_error(exc: OSError, path: str) -> HostError:
    if exc.errno in (errno.ENOENT, errno.ENOTDIR):
        return NotFound(f"{path}: no such file")
    if exc.errno in (errno.EACCES, errno.EPERM):
        return PermissionDenied(f"{path}: permission denied (run as root to read it)")
    return HostError(f"{path}: {exc.strerror or exc}")


class RootfsHost:
    """An offline image: files only. ``live`` is False; runtime primitives say NotSupported."""

    live = False

    def __init__(self, root: str) -> None:
        root = os.path.abspath(root)
        if not os.path.isdir(root):
            raise HostUnreachable(f"{root}: not a directory")
        self.root = root
        self.name = f"rootfs:{root}"

    # Paths -------------------------------------------------------------------------------

    def resolve(self, path: str, follow: bool = True) -> str:
        """The local path of ``path`` on the target, resolving symlinks inside the root."""
        if self.root == "/":
            return os.path.normpath(path) if follow else path
        parts = [p for p in path.split("/") if p not in ("", ".")]
        done: list[str] = []
        prefix = self.root  # the root joined with ``done``, kept as it changes (no component holds "/")
        links = 0
        while parts:
            part = parts.pop(0)
            if part == "..":
                if done:
                    done.pop()
                    prefix = prefix.rpartition("/")[0]
                continue
            local = f"{prefix}/{part}"
            if (parts or follow) and os.path.islink(local):
                links += 1
                if links > MAX_LINKS:
                    raise HostError(f"{path}: too many levels of symbolic links")
                target = os.readlink(local)
                if target.startswith("/"):
                    done = []
                    prefix = self.root
                parts = [p for p in target.split("/") if p not in ("", ".")] + parts
                continue
            done.append(part)
            prefix = local
        return prefix

    # Primitives --------------------------------------------------------------------------

    def read(self, path: str) -> bytes:
        """A regular file's bytes, at most MAX_READ of them. Anything else is refused before it
        is opened (a FIFO would block, a device node would hand over a disk); the open itself
        cannot block or follow a link swapped in meanwhile, and fstat confirms what was opened."""
        local = self.resolve(path)
        inside = self.root != "/"  # resolve() followed every link within the root already
        flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC | (os.O_NOFOLLOW if inside else 0)
        try:
            before = os.lstat(local) if inside else os.stat(local)
            if not st.S_ISREG(before.st_mode):
                raise not_regular(path, type_name(before.st_mode))
            if before.st_size > MAX_READ:
                raise too_large(path, before.st_size)
            fd = os.open(local, flags)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise HostError(f"{path}: is a symbolic link, not a regular file") from None
            raise _host_error(exc, path) from None
        chunks: list[bytes] = []
        size = 0
        try:
            with os.fdopen(fd, "rb", buffering=0) as fh:
                opened = os.fstat(fh.fileno())
                if not st.S_ISREG(opened.st_mode):
                    raise not_regular(path, type_name(opened.st_mode))
                # Small reads: /proc/sys handlers allocate a kernel buffer of the size asked for.
                while size <= MAX_READ and (chunk := fh.read(CHUNK)):
                    chunks.append(chunk)
                    size += len(chunk)
        except OSError as exc:
            raise _host_error(exc, path) from None
        if size > MAX_READ:
            raise too_large(path)
        return b"".join(chunks)

    def stat(self, path: str, follow: bool = True) -> PathStat:
        local = self.resolve(path, follow=follow)
        try:
            s = os.stat(local) if follow else os.lstat(local)
        except OSError as exc:
            raise _host_error(exc, path) from None
        return PathStat(kind_of(s.st_mode), st.S_IMODE(s.st_mode), s.st_uid, s.st_gid, s.st_size, type_name(s.st_mode))

    def listdir(self, path: str) -> list[str]:
        try:
            return sorted(os.listdir(self.resolve(path)))
        except OSError as exc:
            raise _host_error(exc, path) from None

    def readlink(self, path: str) -> str:
        try:
            return os.readlink(self.resolve(path, follow=False))
        except OSError as exc:
            raise _host_error(exc, path) from None

    def walk(self, top: str, prune: Sequence[str], errors: list[str]) -> Iterator[tuple[str, str, int, int, int]]:
        """Every entry under ``top`` as (path, kind, mode, uid, gid): symbolic links skipped,
        never followed; directories in ``prune`` reported but not entered; directories that
        cannot be read are appended to ``errors``. Paths are paths on the target."""
        pruned = set(prune)
        strip = 0 if self.root == "/" else len(self.root)
        stack = [self.resolve(top)]
        while stack:
            local = stack.pop()
            try:
                entries = os.scandir(local)
            except OSError as exc:
                errors.append(f"{local[strip:] or '/'}: {exc.strerror or exc}")
                continue
            with entries:
                for entry in entries:
                    try:
                        if entry.is_symlink():
                            continue
                        s = entry.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    path = entry.path[strip:] if strip else entry.path
                    mode = s.st_mode
                    if st.S_ISDIR(mode):
                        yield path, "dir", st.S_IMODE(mode), s.st_uid, s.st_gid
                        if path not in pruned:
                            stack.append(entry.path)
                    else:
                        yield path, "file" if st.S_ISREG(mode) else "other", st.S_IMODE(mode), s.st_uid, s.st_gid

    def prefetch(self, paths: Sequence[str], metadata: Sequence[str] = (), contents: Sequence[str] = ()) -> None:
        """Local reads are cheap; nothing to batch."""

    def run(self, argv: Sequence[str], timeout: float = 10.0) -> CommandResult:
        raise NotSupported(f"commands do not run on an offline image ({self.root})")

    def sockets(self) -> list[tuple[str, str, int, str, int]]:
        raise NotSupported("listening sockets exist only on a running system")

    def addresses(self) -> list[str]:
        raise NotSupported("interface addresses exist only on a running system")

    def close(self) -> None:
        pass

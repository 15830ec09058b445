"""A root filesystem at a path: every path, symlink targets included, resolves under it."""
from __future__ import annotations

import errno
import os
import stat as st
from typing import Iterator, Sequence

from agent.hosts.base import (
    CommandResult, HostError, HostUnreachable, NotFound, NotSupported, PathStat, PermissionDenied, kind_of,
)

MAX_READ = 16 * 1024 * 1024  # configuration files are small; refuse to slurp a disk image
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
        links = 0
        while parts:
            part = parts.pop(0)
            if part == "..":
                if done:
                    done.pop()
                continue
            local = os.path.join(self.root, *done, part)
            if (parts or follow) and os.path.islink(local):
                links += 1
                if links > MAX_LINKS:
                    raise HostError(f"{path}: too many levels of symbolic links")
                target = os.readlink(local)
                if target.startswith("/"):
                    done = []
                parts = [p for p in target.split("/") if p not in ("", ".")] + parts
                continue
            done.append(part)
        return os.path.join(self.root, *done)

    # Primitives --------------------------------------------------------------------------

    def read(self, path: str) -> bytes:
        local = self.resolve(path)
        chunks: list[bytes] = []
        size = 0
        try:
            with open(local, "rb") as fh:
                # Small reads: /proc/sys handlers allocate a kernel buffer of the size asked for.
                while size <= MAX_READ and (chunk := fh.read(CHUNK)):
                    chunks.append(chunk)
                    size += len(chunk)
        except IsADirectoryError:
            raise HostError(f"{path}: is a directory") from None
        except OSError as exc:
            raise _host_error(exc, path) from None
        if size > MAX_READ:
            raise HostError(f"{path}: larger than {MAX_READ} bytes")
        return b"".join(chunks)

    def stat(self, path: str, follow: bool = True) -> PathStat:
        local = self.resolve(path, follow=follow)
        try:
            s = os.stat(local) if follow else os.lstat(local)
        except OSError as exc:
            raise _host_error(exc, path) from None
        return PathStat(kind_of(s.st_mode), st.S_IMODE(s.st_mode), s.st_uid, s.st_gid, s.st_size)

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

    def prefetch(self, paths: Sequence[str]) -> None:
        """Local reads are cheap; nothing to batch."""

    def run(self, argv: Sequence[str], timeout: float = 10.0) -> CommandResult:
        raise NotSupported(f"commands do not run on an offline image ({self.root})")

    def sockets(self) -> list[tuple[str, str, int, str, int]]:
        raise NotSupported("listening sockets exist only on a running system")

    def addresses(self) -> list[str]:
        raise NotSupported("interface addresses exist only on a running system")

    def close(self) -> None:
        pass

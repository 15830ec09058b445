"""The files of the target a fix changes: this host (root ``/``) or an image (``--root``).

Every path is resolved inside the root as the image sees it (an absolute symlink points into
the image). A write never goes through a symlink whose target the host would read outside the
root, nor onto a device, FIFO, socket or directory; each write is a temporary file in the same
directory, fsync'd and renamed over the target, so a reader sees the old file or the new one.
"""
from __future__ import annotations

import contextlib
import glob
import os
import stat
import tempfile
from typing import Iterable, Iterator

from checks.fixes.model import FileState, Files

MAX_READ = 16 * 1024 * 1024
MAX_LINKS = 40
TMP_PREFIX = ".fedharden-"


class Refused(Exception):
    """A path a fix must not write (outside the root, a device, ...); the message says why."""


def _names(path: str, index: int) -> dict[int, str]:
    """id -> name from an /etc/passwd or /etc/group of the target."""
    names: dict[int, str] = {}
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                fields = line.rstrip("\n").split(":")
                if len(fields) > index and fields[index].isdigit():
                    names.setdefault(int(fields[index]), fields[0])
    except OSError:
        pass
    return names


class TargetFS:
    def __init__(self, root: str = "/") -> None:
        self.root = os.path.abspath(root)
        self.live = self.root == "/"
        self.users: dict[int, str] = {}
        self.groups: dict[int, str] = {}
        self.refresh()

    def refresh(self) -> None:
        """Read the target's user and group names again (a package may have added some)."""
        self.users = _names(self.local("/etc/passwd"), 2)
        self.groups = _names(self.local("/etc/group"), 2)

    # Paths -------------------------------------------------------------------------------

    def local(self, path: str, follow: bool = True) -> str:
        """The local path of ``path`` on the target, symlinks resolved inside the root."""
        if self.live:
            return os.path.normpath(path)
        parts = [p for p in path.split("/") if p not in ("", ".")]
        done: list[str] = []
        links = 0
        while parts:
            part = parts.pop(0)
            if part == "..":
                if done:
                    done.pop()
                continue
            here = os.path.join(self.root, *done, part)
            if (parts or follow) and os.path.islink(here):
                links += 1
                if links > MAX_LINKS:
                    raise Refused(f"{path}: too many levels of symbolic links")
                target = os.readlink(here)
                if target.startswith("/"):
                    done = []
                parts = [p for p in target.split("/") if p not in ("", ".")] + parts
                continue
            done.append(part)
        return os.path.join(self.root, *done)

    def writable(self, path: str, directory_ok: bool = False) -> str:
        """Where a write of ``path`` lands; Refused when it would leave the root or hit a special
        file (``directory_ok``: a change of attributes may reach a directory)."""
        if not path.startswith("/") or "\0" in path or ".." in path.split("/"):
            raise Refused(f"{path}: not an absolute path inside the target")
        local = self.local(path)
        if not self.live:
            seen_by_host = os.path.realpath(os.path.join(self.root, path.lstrip("/")))
            inside = self.root.rstrip("/") + "/"
            if not (seen_by_host + "/").startswith(inside) or not (local + "/").startswith(inside):
                raise Refused(f"{path} is a symbolic link out of the root (to {seen_by_host})")
        try:
            st = os.lstat(local)
        except FileNotFoundError:
            return local
        except OSError as exc:
            raise Refused(f"{path}: {exc.strerror}") from None
        if not (stat.S_ISREG(st.st_mode) or directory_ok and stat.S_ISDIR(st.st_mode)):
            raise Refused(f"{path} is {kind_of(st.st_mode)}, not a regular file")
        return local

    # Reading -----------------------------------------------------------------------------

    def expand(self, patterns: Iterable[str]) -> list[str]:
        """Target paths: each plain path as given, each glob's matches inside the root."""
        out: list[str] = []
        for pattern in patterns:
            if not glob.has_magic(pattern):
                out.append(pattern)
                continue
            base = self.root.rstrip("/")
            for match in sorted(glob.glob(base + pattern)):
                out.append(match[len(base):] if base else match)
        return list(dict.fromkeys(out))

    def state(self, path: str) -> FileState:
        try:
            lst = os.lstat(self.local(path, follow=False))
        except (OSError, Refused):
            return FileState(path)
        link = None
        if stat.S_ISLNK(lst.st_mode):
            link = os.readlink(self.local(path, follow=False))
            try:
                st = os.stat(self.local(path))
            except (OSError, Refused):
                return FileState(path, "symlink", link=link)
        else:
            st = lst
        content = None
        if stat.S_ISREG(st.st_mode) and st.st_size <= MAX_READ:
            try:
                with open(self.local(path), "rb") as fh:
                    content = fh.read(MAX_READ).decode("utf-8", "surrogateescape")
            except OSError:
                content = None
        kind = "symlink" if link is not None else "file" if stat.S_ISREG(st.st_mode) else \
            "dir" if stat.S_ISDIR(st.st_mode) else "other"
        return FileState(path, kind, content, stat.S_IMODE(st.st_mode), self.users.get(st.st_uid, str(st.st_uid)),
                         self.groups.get(st.st_gid, str(st.st_gid)), link)

    def files(self, patterns: Iterable[str]) -> Files:
        return Files({p: self.state(p) for p in self.expand(patterns)})

    # Writing -----------------------------------------------------------------------------

    def uid(self, name: str) -> int:
        return next((i for i, n in self.users.items() if n == name), int(name) if name.isdigit() else -1)

    def gid(self, name: str) -> int:
        return next((i for i, n in self.groups.items() if n == name), int(name) if name.isdigit() else -1)

    def ids(self, owner: str | None, group: str | None) -> tuple[int, int]:
        uid = self.uid(owner) if owner else -1
        gid = self.gid(group) if group else -1
        if owner and uid < 0 or group and gid < 0:
            self.refresh()
            uid = self.uid(owner) if owner else -1
            gid = self.gid(group) if group else -1
        if owner and uid < 0:
            raise Refused(f"no user {owner} on the target")
        if group and gid < 0:
            raise Refused(f"no group {group} on the target")
        return uid, gid

    def write(self, local: str, data: bytes, mode: int, uid: int, gid: int) -> None:
        self.write_bytes(local, data, mode, uid, gid)

    @staticmethod
    def write_bytes(local: str, data: bytes, mode: int, uid: int, gid: int) -> None:
        """Replace ``local`` atomically: temporary file beside it, fsync, rename, fsync of the directory."""
        directory = os.path.dirname(local)
        fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, dir=directory)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fchmod(fh.fileno(), mode)
                if uid >= 0 or gid >= 0:
                    os.fchown(fh.fileno(), uid, gid)
                os.fsync(fh.fileno())
            os.rename(tmp, local)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        fsync_dir(directory)

    def make_dirs(self, local: str) -> list[str]:
        """Create the missing parents of ``local`` (0755); the ones created, outermost first."""
        made: list[str] = []
        parent = os.path.dirname(local)
        missing = []
        while not os.path.lexists(parent):
            missing.append(parent)
            parent = os.path.dirname(parent)
        for directory in reversed(missing):
            os.mkdir(directory, 0o755)
            made.append(directory)
        return made


POLICY_RC = "/usr/sbin/policy-rc.d"
POLICY_TEXT = b"#!/bin/sh\n# fedharden fix: no daemon starts while packages change in an image\nexit 101\n"


@contextlib.contextmanager
def no_daemons(target: TargetFS) -> Iterator[None]:
    """On an image, a policy-rc.d answering 101 while packages change, so that maintainer
    scripts start no daemon on this machine; the image's own one (if any) put back after."""
    if target.live:
        yield
        return
    local = target.writable(POLICY_RC)
    old = None
    if os.path.lexists(local):
        with open(local, "rb") as fh:
            old = fh.read(), os.lstat(local)
    target.write(local, POLICY_TEXT, 0o755, 0, 0)
    try:
        yield
    finally:
        if old is None:
            os.unlink(local)
        else:
            target.write(local, old[0], stat.S_IMODE(old[1].st_mode), old[1].st_uid, old[1].st_gid)


def fsync_dir(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def kind_of(mode: int) -> str:
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISLNK, "a symbolic link")):
        if test(mode):
            return name
    return "not a regular file"



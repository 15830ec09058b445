"""The Host seam: the few read-only primitives every fact gatherer is written against."""
from __future__ import annotations

import stat as st
from typing import Protocol, Sequence

from agent import ScanError
from checks.record import record


class HostError(Exception):
    """A primitive failed on the target; ``reason`` is shown to the user as the cause."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NotFound(HostError):
    pass


class PermissionDenied(HostError):
    pass


class NotSupported(HostError):
    """The primitive does not exist for this kind of target (runtime state of an image)."""


class HostUnreachable(ScanError):
    """The target itself cannot be opened or reached."""


MAX_READ = 16 * 1024 * 1024  # configuration files are small; a file read never goes past this

# What a path is, in words, for the errors that refuse anything but a regular file.
_TYPE_NAMES = ((st.S_ISREG, "regular file"), (st.S_ISDIR, "directory"), (st.S_ISLNK, "symbolic link"),
               (st.S_ISFIFO, "FIFO"), (st.S_ISCHR, "character device"), (st.S_ISBLK, "block device"),
               (st.S_ISSOCK, "socket"))


def type_name(mode: int) -> str:
    """"FIFO", "block device", ... from st_mode's file type bits."""
    for test, name in _TYPE_NAMES:
        if test(mode):
            return name
    return "file of unknown type"


def not_regular(path: str, what: str) -> HostError:
    """Only regular files are ever opened: a FIFO would block the scan, a device node would
    hand over a disk's contents (or rewind a tape), a socket has nothing to read.
    ``what`` is the path's type_name."""
    if what == "directory":
        return HostError(f"{path}: is a directory")
    return HostError(f"{path}: is a {what}, not a regular file")


def too_large(path: str, size: int | None = None) -> HostError:
    """A file past MAX_READ (a sparse multi-GB file, a disk image) is refused, never read whole."""
    how = f"{size} bytes, " if size is not None else ""
    return HostError(f"{path}: {how}larger than the {MAX_READ // (1024 * 1024)} MiB bound on a file read")


def kind_of(mode: int) -> str:
    """file, dir, link or other, from st_mode bits (the same on every transport)."""
    if st.S_ISLNK(mode):
        return "link"
    if st.S_ISDIR(mode):
        return "dir"
    if st.S_ISREG(mode):
        return "file"
    return "other"


@record
class PathStat:
    """What a stat of a path on the target tells."""

    kind: str  # file, dir, link, other
    mode: int
    uid: int
    gid: int
    size: int
    type: str = ""  # the type in words (base.type_name): "regular file", "FIFO", "block device", ...


@record
class CommandResult:
    """The outcome of a command run on the target."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


class Host(Protocol):
    """Read-only access to a target. Paths are absolute paths *on the target*.

    Optional primitives, looked up by the gatherers that need them (a transport without one
    yields an ``error`` with the reason): ``walk(top, prune, errors)`` yields every entry of
    the local filesystems as (path, kind, mode, uid, gid) without following links
    (agent.facts.fswalk); ``connect(address, port, timeout)`` opens a TCP connection to one of
    the host's own listeners (agent.facts.tlsprobe)."""

    name: str  # shown in reports: "local", "rootfs:/mnt/img", "ssh:admin@web1"
    live: bool  # runtime state (processes, sockets, /proc) exists

    def read(self, path: str) -> bytes:
        """File contents; raises NotFound, PermissionDenied or HostError."""
        ...

    def stat(self, path: str, follow: bool = True) -> PathStat:
        """Metadata; raises NotFound or PermissionDenied."""
        ...

    def listdir(self, path: str) -> list[str]:
        """Names in a directory, sorted; raises NotFound or PermissionDenied."""
        ...

    def readlink(self, path: str) -> str:
        ...

    def prefetch(self, paths: Sequence[str], metadata: Sequence[str] = (), contents: Sequence[str] = ()) -> None:
        """A hint that these paths will be read (files) or listed (directories), that of
        ``metadata`` only the kind, mode, size or link target will be asked, and that the
        files in the ``contents`` directories will be read (drop-in folders): a remote host
        fetches them all, with their metadata and link targets, in one batch."""
        ...

    def run(self, argv: Sequence[str], timeout: float = 10.0) -> CommandResult:
        """Run a read-only command as an argv list (never a shell); NotSupported offline."""
        ...

    def sockets(self) -> list[tuple[str, str, int, str, int]]:
        """Listening sockets as (proto, address, port, process, pid); NotSupported offline."""
        ...

    def addresses(self) -> list[str]:
        """The host's own interface addresses; NotSupported offline."""
        ...

    def close(self) -> None:
        ...

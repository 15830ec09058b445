"""Listening sockets and interface addresses read from /proc, the same way on every live host.

The local host and the SSH host both use this module, so a host gives the same facts
whether it is scanned locally or over SSH. It reads through a ``Batch`` (many paths per
call) so that a remote host answers each step in one round trip:

1. /proc/net/{tcp,tcp6,udp,udp6}: TCP sockets in LISTEN state, bound unconnected UDP sockets;
2. the owner of each socket: /proc/<pid>/fd/* links named ``socket:[inode]``; a socket
   shared by several processes (a forking server) is credited to the lowest pid;
3. the owner's name: /proc/<pid>/stat, widened from the kernel's 15 characters with the
   base name of argv[0] when that starts with it (as ps and psutil do).

Addresses: IPv6 from /proc/net/if_inet6, IPv4 from the local routing table in
/proc/net/fib_trie (every "/32 host LOCAL" entry is an address of this host).
Sockets of processes the reader may not inspect are reported with pid 0 and no name.
"""
from __future__ import annotations

import ipaddress
import os
from typing import Protocol, Sequence

from agent.hosts.base import HostError

NET_FILES = (("tcp", "/proc/net/tcp"), ("tcp6", "/proc/net/tcp6"), ("udp", "/proc/net/udp"), ("udp6", "/proc/net/udp6"))
TCP_LISTEN = "0A"

Socket = tuple[str, str, int, str, int]


class Batch(Protocol):
    """Many reads at once: ``fetch`` takes every path of one step (a remote host answers them
    together), the getters then return each result or the HostError for that path."""

    def fetch(self, read: Sequence[str] = (), listdir: Sequence[str] = (), readlink: Sequence[str] = ()) -> None: ...

    def read_many(self, paths: Sequence[str]) -> dict[str, bytes | HostError]: ...

    def listdir_many(self, paths: Sequence[str]) -> dict[str, list[str] | HostError]: ...

    def readlink_many(self, paths: Sequence[str]) -> dict[str, str | HostError]: ...


class HostBatch:
    """A Batch over a host's one-at-a-time primitives (for hosts where a call is cheap)."""

    def __init__(self, host: object) -> None:
        self.host = host

    def fetch(self, read: Sequence[str] = (), listdir: Sequence[str] = (), readlink: Sequence[str] = ()) -> None:
        """Nothing to batch: each getter reads when called."""

    def _each(self, method: str, paths: Sequence[str]) -> dict[str, object]:
        out: dict[str, object] = {}
        call = getattr(self.host, method)
        for path in paths:
            try:
                out[path] = call(path)
            except HostError as exc:
                out[path] = exc
        return out

    def read_many(self, paths: Sequence[str]) -> dict[str, bytes | HostError]:
        return self._each("read", paths)  # type: ignore[return-value]

    def listdir_many(self, paths: Sequence[str]) -> dict[str, list[str] | HostError]:
        return self._each("listdir", paths)  # type: ignore[return-value]

    def readlink_many(self, paths: Sequence[str]) -> dict[str, str | HostError]:
        return self._each("readlink", paths)  # type: ignore[return-value]


def decode_address(hexaddr: str, little_endian: bool) -> str:
    """An address as the kernel prints it in /proc/net: 32-bit words in host byte order."""
    raw = bytes.fromhex(hexaddr)
    if little_endian:
        raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    return str(ipaddress.ip_address(raw))


def parse_net(text: str, proto: str, little_endian: bool) -> list[tuple[str, str, int, str]]:
    """(proto, address, port, inode) of listening TCP and bound, unconnected UDP sockets."""
    out = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10:
            continue
        local, remote, state, inode = fields[1], fields[2], fields[3], fields[9]
        hexaddr, _, hexport = local.partition(":")
        port = int(hexport, 16)
        if port == 0:
            continue
        if proto.startswith("tcp") and state != TCP_LISTEN:
            continue
        if proto.startswith("udp") and int(remote.rpartition(":")[2], 16) != 0:
            continue  # a connected UDP socket receives only from its peer
        out.append((proto, decode_address(hexaddr, little_endian), port, inode))
    return out


def process_name(stat: bytes, cmdline: bytes | None) -> str:
    """The name ps shows: the comm field of /proc/<pid>/stat, widened from argv[0] when cut."""
    name = comm(stat).decode("utf-8", "replace")
    if len(name) >= 15 and cmdline:
        text = cmdline.decode("utf-8", "replace")
        sep = "\x00" if text.endswith("\x00") else " "
        text = text.removesuffix(sep)
        parts = text.split(sep)
        if sep == "\x00" and len(parts) == 1 and " " in text:
            parts = text.split(" ")  # a process that rewrote its argv with spaces
        first = parts[0]
        extended = os.path.basename(first)
        if extended.startswith(name):
            return extended
    return name


def is_little_endian(elf_header: bytes) -> bool:
    """Byte order of the target from an ELF header (EI_DATA: 1 little, 2 big)."""
    return len(elf_header) < 6 or elf_header[5] != 2


def sockets(batch: Batch, little_endian: bool) -> list[Socket]:
    """Three steps, each one batch: the socket tables and the process list; every process's
    open files and status line; the files' link targets and the command lines of long names."""
    tables = [path for _, path in NET_FILES]
    batch.fetch(read=tables, listdir=["/proc"])
    texts = batch.read_many(tables)
    found: list[tuple[str, str, int, str]] = []
    for proto, path in NET_FILES:
        value = texts[path]
        if isinstance(value, HostError):
            if proto.endswith("6"):
                continue  # a kernel without IPv6
            raise value
        found.extend(parse_net(value.decode("ascii", "replace"), proto, little_endian))
    if not found:
        return []
    listing = batch.listdir_many(["/proc"])["/proc"]
    pids = sorted(int(n) for n in listing if n.isdigit()) if isinstance(listing, list) else []
    batch.fetch(read=[f"/proc/{pid}/stat" for pid in pids], listdir=[f"/proc/{pid}/fd" for pid in pids])
    stats = batch.read_many([f"/proc/{pid}/stat" for pid in pids])
    long = [pid for pid in pids if isinstance(st := stats[f"/proc/{pid}/stat"], bytes) and len(comm(st)) >= 15]
    fd_dirs = batch.listdir_many([f"/proc/{pid}/fd" for pid in pids])
    links = [f"/proc/{pid}/fd/{fd}" for pid in pids if isinstance(fds := fd_dirs[f"/proc/{pid}/fd"], list) for fd in fds]
    batch.fetch(readlink=links, read=[f"/proc/{pid}/cmdline" for pid in long])
    owners = socket_owners(batch.readlink_many(links), {inode for *_, inode in found})
    cmdlines = batch.read_many([f"/proc/{pid}/cmdline" for pid in long])
    out = []
    for proto, address, port, inode in found:
        pid = owners.get(inode, 0)
        name = ""
        if pid and isinstance(stat := stats.get(f"/proc/{pid}/stat"), bytes):
            cmdline = cmdlines.get(f"/proc/{pid}/cmdline")
            name = process_name(stat, cmdline if isinstance(cmdline, bytes) else None)
        out.append((proto, address, port, name, pid))
    return out


def comm(stat: bytes) -> bytes:
    """The command name field of /proc/<pid>/stat: between the first '(' and the last ')'."""
    return stat[stat.find(b"(") + 1:stat.rfind(b")")]


def socket_owners(links: dict[str, str | HostError], inodes: set[str]) -> dict[str, int]:
    """inode -> the lowest pid holding that socket, among the processes we may inspect."""
    owners: dict[str, int] = {}
    for path, target in links.items():
        if isinstance(target, str) and target.startswith("socket:["):
            inode = target[8:-1]
            if inode in inodes:
                pid = int(path.split("/")[2])
                owners[inode] = min(pid, owners.get(inode, pid))
    return owners


def parse_if_inet6(text: str) -> list[str]:
    out = []
    for line in text.splitlines():
        fields = line.split()
        if fields and len(fields[0]) == 32:
            out.append(str(ipaddress.IPv6Address(bytes.fromhex(fields[0]))))
    return out


def parse_fib_trie(text: str) -> list[str]:
    """Addresses of this host: the prefixes the local table marks '/32 host LOCAL'."""
    out = []
    last = ""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith(("|--", "+--")):
            last = stripped[3:].split()[0].split("/")[0].strip()
        elif stripped.startswith("/32 host LOCAL") and last:
            out.append(last)
    return out


ADDRESS_FILES = ("/proc/net/fib_trie", "/proc/net/if_inet6")


def addresses(batch: Batch) -> list[str]:
    batch.fetch(read=ADDRESS_FILES)
    texts = batch.read_many(ADDRESS_FILES)
    fib = texts["/proc/net/fib_trie"]
    if isinstance(fib, HostError):
        raise fib
    found = parse_fib_trie(fib.decode("ascii", "replace"))
    v6 = texts["/proc/net/if_inet6"]
    if isinstance(v6, bytes):
        found.extend(parse_if_inet6(v6.decode("ascii", "replace")))
    return sorted(set(found))

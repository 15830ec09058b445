"""One walk of the target's local filesystems for the world-writable, sticky-bit, unowned
and set-ID requirements (fact family ``fswalk``).

Every requirement that needs it shares the one walk. Pseudo filesystems (proc, sysfs,
cgroup...) and network filesystems (NFS, CIFS, FUSE...) are pruned by their mount points,
taken from the running mount table; on an offline image /proc, /sys, /dev and /run are
pruned. Symbolic links are never followed. The Host does the walking (``Host.walk``), so a
local walk runs at the speed of ``os.scandir``; a transport without it reports why.
"""
from __future__ import annotations

import time
from typing import Iterable

from agent.facts.context import Context, unavailable
from agent.facts.accounts import names
from agent.facts.mounts import parse_table
from agent.hosts.base import HostError
from checks.facts import FsWalk, Unavailable, WalkEntry

PSEUDO = frozenset({
    "proc", "sysfs", "devtmpfs", "devpts", "cgroup", "cgroup2", "securityfs", "debugfs", "tracefs", "pstore",
    "bpf", "configfs", "fusectl", "mqueue", "hugetlbfs", "autofs", "binfmt_misc", "efivarfs", "rpc_pipefs",
    "nsfs", "selinuxfs", "ramfs",
})
NETWORK = frozenset({
    "nfs", "nfs4", "cifs", "smb3", "smbfs", "ceph", "glusterfs", "9p", "afs", "lustre", "davfs", "ncpfs", "gfs2",
    "ocfs2", "beegfs", "gpfs", "sshfs",
})
OFFLINE_PRUNE = ("/proc", "/sys", "/dev", "/run")
LIMIT = 1000  # entries kept per list; the counts are exact
MAX_ENTRIES = 20_000_000  # a bound on the walk itself


def skipped_type(fstype: str) -> bool:
    return fstype in PSEUDO or fstype in NETWORK or fstype.startswith("fuse.") or fstype == "fuse"


def prune_points(ctx: Context) -> tuple[list[str], list[str]]:
    """(mount points to prune, their descriptions) from the running mount table, or the
    fixed runtime directories of an image."""
    if not ctx.host.live:
        return list(OFFLINE_PRUNE), [f"{p} (runtime state of an image)" for p in OFFLINE_PRUNE]
    mounts = parse_table(ctx.text("/proc/self/mounts"), "/proc/self/mounts", numbered=False)
    points = {m.mountpoint: m.fstype for m in mounts if skipped_type(m.fstype)}
    # A local filesystem mounted over a pruned one is pruned with it; the walk never gets there.
    return sorted(points), [f"{p} ({t})" for p, t in sorted(points.items())]


def collect(rows: Iterable[tuple[str, str, int, int, int]], users: dict[int, str],
            groups: dict[int, str]) -> tuple[dict[str, list[WalkEntry]], dict[str, int], int]:
    """Sort walked entries into the four lists: (lists, exact counts, number examined)."""
    lists: dict[str, list[WalkEntry]] = {"world_writable": [], "sticky_missing": [], "unowned": [], "setid": []}
    counts = dict.fromkeys(lists, 0)
    examined = 0
    for path, kind, mode, uid, gid in rows:
        examined += 1
        if examined > MAX_ENTRIES:
            break
        known = uid in users and gid in groups
        if known and not mode & 0o6002:
            continue  # the common case: nothing to record
        entry = WalkEntry(path, kind, mode, uid, gid, users.get(uid, ""), groups.get(gid, ""))
        found = []
        if mode & 0o002 and kind == "file":
            found.append("world_writable")
        if mode & 0o002 and kind == "dir" and not mode & 0o1000:
            found.append("sticky_missing")
        if kind == "file" and mode & 0o6000:
            found.append("setid")
        if not known:
            found.append("unowned")
        for name in found:
            counts[name] += 1
            if len(lists[name]) < LIMIT:
                lists[name].append(entry)
    return lists, counts, examined


def walk(ctx: Context) -> FsWalk | Unavailable:
    """The walk and its wall time: the mount table, the account files that name owners, and
    every entry listed and sorted, as the scan spends it (a clock read around all of it)."""
    started = time.perf_counter()
    walker = getattr(ctx.host, "walk", None)
    if walker is None:
        return Unavailable(f"{ctx.host.name}: this transport cannot walk the filesystem")
    try:
        prune, described = prune_points(ctx)
        errors: list[str] = []
        lists, counts, examined = collect(walker("/", prune, errors), names(ctx, "/etc/passwd"),
                                          names(ctx, "/etc/group"))
    except HostError as exc:
        return unavailable(exc)
    return FsWalk(("/",), tuple(described), examined, len(errors), tuple(lists["world_writable"]),
                  tuple(lists["sticky_missing"]), tuple(lists["unowned"]), tuple(lists["setid"]),
                  counts=counts, limit=LIMIT, seconds=round(time.perf_counter() - started, 3))


def gather_fswalk(ctx: Context, args: list[str]) -> dict[str, object]:
    return {"": walk(ctx)}


FAMILIES = {"fswalk": gather_fswalk}

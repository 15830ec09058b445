"""Mounts: the running table, and what systemd mounts at the next boot.

The running table is PID 1's (/proc/1/mounts): the system as booted, not the mount namespace
of this process, which a sandboxed service (PrivateTmp=, ProtectSystem=) changes. Without
the right to read it (not root), this process's own table is read instead.

At boot (``boot_mounts``, one mount point per argument), as systemd.mount(5),
systemd-fstab-generator(8) and systemd.unit(5) describe it: a mount unit named for the path
(``tmp.mount``, ``dev-shm.mount``) in /etc/systemd/system or /run/systemd/system wins over the
unit the fstab generator makes (the generator's directory comes after them on the unit search
path), which wins over /usr/local/lib, /usr/lib and /lib; a unit linked to /dev/null is masked.
The generator makes a unit for the first fstab line of a mount point (a second one is refused
as a duplicate) and pulls it in unless ``noauto``; a unit file is mounted at boot when it is
enabled (a .wants/.requires link) or fstab pulls its name in. Its ``Options=`` is the last one
assigned in the file and then its drop-ins (``NAME.mount.d/*.conf``, sorted; an empty
assignment resets). ``Where=`` must name the unit's own path or systemd refuses the unit.
/dev/shm is mounted by systemd itself (nosuid, nodev, mode 1777: no noexec) unless fstab or an
active unit says otherwise (systemd-remount-fs applies an fstab line for it)."""
from __future__ import annotations

import re

from agent.facts.context import Context, unavailable
from agent.hosts.base import HostError, NotFound
from checks.facts import Mount, Unavailable

_OCTAL = re.compile(r"\\([0-7]{3})")


def _unescape(field: str) -> str:
    """Mount tables escape space, tab, newline and backslash as \\ooo."""
    return _OCTAL.sub(lambda m: chr(int(m.group(1), 8)), field)


def parse_table(text: str, source: str, numbered: bool) -> tuple[Mount, ...]:
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        fields = line.split("#", 1)[0].split() if numbered else line.split()
        if len(fields) < 4:
            continue
        device, point, fstype, options = fields[:4]
        where = f"{source}:{number}" if numbered else source
        point = _unescape(point).rstrip("/") or "/"
        out.append(Mount(point, _unescape(device), fstype, tuple(options.split(",")), where))
    return tuple(out)


def gather_runtime(ctx: Context, args: list[str]) -> dict[str, object]:
    if not ctx.host.live:
        return {"": Unavailable("mounted filesystems exist only on a running system; what systemd mounts at boot judged instead", True)}
    problem: HostError | None = None
    for path in ("/proc/1/mounts", "/proc/self/mounts"):
        try:
            return {"": parse_table(ctx.text(path), path, numbered=False)}
        except HostError as exc:
            problem = exc
    assert problem is not None
    return {"": unavailable(problem)}


def gather_fstab(ctx: Context, args: list[str]) -> dict[str, object]:
    try:
        text = ctx.text_or_none("/etc/fstab")
    except HostError as exc:
        return {"": unavailable(exc)}
    return {"": parse_table(text or "", "/etc/fstab", numbered=True)}


# Before the generator's directory on the unit search path, then after it.
UNIT_DIRS_FIRST = ("/etc/systemd/system", "/run/systemd/system")
UNIT_DIRS_LAST = ("/usr/local/lib/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system")
SYSTEMD_BINARIES = ("/lib/systemd/systemd", "/usr/lib/systemd/systemd")
# mount-setup.c: systemd's own /dev/shm (MS_NOSUID|MS_NODEV|MS_STRICTATIME, mode=01777).
SYSTEMD_SHM = Mount("/dev/shm", "tmpfs", "tmpfs", ("rw", "nosuid", "nodev", "strictatime", "mode=1777"),
                    "systemd's own mount of /dev/shm (no fstab line, no dev-shm.mount)")
_GENERATOR_DROPS = ("x-systemd.",)  # what the generator leaves out of Options=


def unit_name(path: str) -> str:
    """systemd-escape --path PATH, plus .mount."""
    trimmed = path.strip("/")
    if not trimmed:
        return "-.mount"
    out = []
    for i, c in enumerate(trimmed):
        if c == "/":
            out.append("-")
        elif (c.isascii() and (c.isalnum() or c in ":_")) or (c == "." and i > 0):
            out.append(c)
        else:
            out.append("".join(f"\\x{b:02x}" for b in c.encode()))
    return "".join(out) + ".mount"


def fstab_entry(fstab: tuple[Mount, ...], path: str) -> Mount | None:
    """The line systemd-fstab-generator makes the unit from: the first for the mount point."""
    return next((m for m in fstab if m.mountpoint == path and m.fstype != "swap"), None)


def generated_options(options: tuple[str, ...]) -> tuple[str, ...]:
    """Options= of the generated unit: x-systemd.* left out, and none at all for "defaults"."""
    kept = tuple(o for o in options if not o.startswith(_GENERATOR_DROPS) and o != "")
    return () if kept == ("defaults",) else kept


def _unit_options(ctx: Context, path: str, name: str) -> tuple[dict[str, str], str]:
    """The [Mount] settings in force (last assignment wins, drop-ins after the unit) and the
    file:line of the Options= in force."""
    from agent.facts.systemd import UNIT_DIRS

    dropins = [f for _, f in ctx.config_dir_files(tuple(f"{d}/{name}.d" for d in UNIT_DIRS), ".conf")]
    files = [path] + [f for f in dropins if ctx.host.stat(f).kind == "file"]  # regular files only
    settings: dict[str, str] = {}
    options_at = path
    for file in files:
        section = ""
        for number, line in enumerate(ctx.text(file).splitlines(), 1):
            stripped = line.strip()
            if stripped.startswith("[") and stripped.endswith("]"):
                section = stripped[1:-1]
            elif section == "Mount" and "=" in stripped and stripped[0] not in "#;":
                key, _, value = stripped.partition("=")
                settings[key.strip()] = value.strip()
                if key.strip() == "Options":
                    options_at = f"{file}:{number}"
    return settings, options_at


def boot_mount(ctx: Context, path: str, fstab: tuple[Mount, ...]) -> tuple[Mount, ...]:
    """What systemd mounts on ``path`` at boot: one Mount, or none."""
    from agent.facts.systemd import unit_state

    name = unit_name(path)
    entry = fstab_entry(fstab, path)
    pulled = entry is not None and "noauto" not in entry.options
    unit = unit_state(ctx, name)
    located = unit.path if unit.state != "not-found" else ""
    mounted: Mount | None = None
    if unit.state == "masked":
        mounted = None
    elif located and (located.rpartition("/")[0] in UNIT_DIRS_FIRST or entry is None):
        if unit.state == "enabled" or pulled:
            settings, at = _unit_options(ctx, located, name)
            if (settings.get("Where", "").rstrip("/") or "/") == path:
                options = tuple(o for o in settings.get("Options", "").split(",") if o)
                mounted = Mount(path, settings.get("What", ""), settings.get("Type", ""), options, at)
    elif pulled:
        assert entry is not None
        mounted = Mount(path, entry.device, entry.fstype, generated_options(entry.options), entry.where)
    if mounted is None and path == "/dev/shm" and any(_exists(ctx, b) for b in SYSTEMD_BINARIES):
        mounted = SYSTEMD_SHM
    return (mounted,) if mounted else ()


def _exists(ctx: Context, path: str) -> bool:
    try:
        ctx.host.stat(path)
        return True
    except NotFound:
        return False


def gather_boot(ctx: Context, paths: list[str]) -> dict[str, object]:
    try:
        fstab = parse_table(ctx.text_or_none("/etc/fstab") or "", "/etc/fstab", numbered=True)
    except HostError as exc:
        return {p: unavailable(exc) for p in paths}
    out: dict[str, object] = {}
    for path in paths:
        try:
            out[path] = boot_mount(ctx, path, fstab)
        except HostError as exc:
            out[path] = unavailable(exc)
    return out


FAMILIES = {"mounts": gather_runtime, "fstab": gather_fstab, "boot_mounts": gather_boot}
PREFETCH = {"mounts": lambda args: ["/proc/1/mounts", "/proc/self/mounts"], "fstab": lambda args: ["/etc/fstab"],
            "boot_mounts": lambda args: ["/etc/fstab", *UNIT_DIRS_FIRST, *UNIT_DIRS_LAST]}
PREFETCH_METADATA = {"boot_mounts": lambda args: list(SYSTEMD_BINARIES)}  # does systemd mount /dev/shm

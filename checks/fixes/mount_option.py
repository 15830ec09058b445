"""mount_option: options added to a mount point's /etc/fstab entry (a tmpfs entry for /tmp and
/dev/shm when fstab has none), remounted on a live host."""
from __future__ import annotations

from typing import Any, Mapping

from checks.fixes.model import ABSOLUTE, Action, Command, Files, FixError, WriteFile, schema

FSTAB = "/etc/fstab"
TMPFS = ("/tmp", "/dev/shm")
OPTION = {"type": "string", "pattern": "^[a-z0-9_=,-]+$"}


def _fields(line: str) -> list[str] | None:
    if not line.strip() or line.lstrip().startswith("#"):
        return None
    fields = line.split()
    return fields if len(fields) >= 4 else None


class MountOption:
    name = "mount_option"
    schema: Mapping[str, Any] = schema("mount_option", {"mount_point": ABSOLUTE,
                                     "add": {"type": "array", "minItems": 1, "items": OPTION}}, ("mount_point", "add"))
    disruptive = False

    def reads(self, params: Mapping[str, Any]) -> tuple[str, ...]:
        return (FSTAB,)

    def plan(self, params: Mapping[str, Any], files: Files) -> tuple[Action, ...]:
        point, add = params["mount_point"], list(params["add"])
        state = files.get(FSTAB)
        old = state.content or ""
        lines = old.splitlines()
        found = False
        for i, line in enumerate(lines):
            fields = _fields(line)
            if fields is None or fields[1].replace("\\040", " ") != point:
                continue
            found = True
            options = fields[3].split(",")
            missing = [o for o in add if o not in options]
            if missing:
                options = [o for o in options if o != "defaults" or not missing] + missing
                fields[3] = ",".join(options)
                lines[i] = "\t".join(fields)
        if not found:
            if point not in TMPFS:
                raise FixError(f"{FSTAB} has no entry for {point}: which filesystem it should be is for a person to decide")
            lines.append(f"tmpfs\t{point}\ttmpfs\t{','.join(['defaults', *add])}\t0\t0")
        new = "\n".join(lines) + "\n"
        if new == old:
            return ()
        return (WriteFile(FSTAB, new, state.mode or 0o644, state.owner or "root", state.group or "root"),
                Command(("systemctl", "daemon-reload"), "the fstab generator makes the mount unit again",
                        best_effort=True),
                Command(("mount", "-o", "remount", point), "the running mount gets the options", best_effort=True))

    def describe(self, params: Mapping[str, Any]) -> str:
        return (f"Add the options {','.join(params['add'])} to the {params['mount_point']} entry of {FSTAB} "
                f"(a tmpfs entry for /tmp or /dev/shm if there is none), then `mount -o remount {params['mount_point']}`.")


FIX = MountOption()

"""mount: a mount point carries the required options, now and at the next boot.

At boot means what systemd would mount there: a mount unit in /etc/systemd/system, the unit
the fstab generator makes from /etc/fstab, an enabled unit from /usr/lib, or systemd's own
/dev/shm (agent/facts/mounts.py has the rules).

When the path is not a separate filesystem the check is ``not_applicable`` unless the
directive requires it to be one (``separate: true``), then it fails.
"""
from __future__ import annotations

from typing import Any, Mapping

from checks.facts import FactKey, Facts, Mount
from checks.model import Evidence, Outcome, Status, Verdict

RUNTIME = FactKey("mounts")


def boot(path: str) -> FactKey:
    return FactKey("boot_mounts", path)


class MountCheck:
    name = "mount"
    schema: Mapping[str, Any] = {
        "type": "object",
        "properties": {
            "type": {"const": "mount"},
            "path": {"type": "string", "pattern": "^/"},
            "options": {"type": "array", "items": {"type": "string"}, "minItems": 1},
            "separate": {"type": "boolean"},
        },
        "required": ["type", "path"],
        "additionalProperties": False,
    }

    def needs(self, params: Mapping[str, Any]) -> set[FactKey]:
        return {RUNTIME, boot(params["path"].rstrip("/") or "/")}

    def evaluate(self, params: Mapping[str, Any], facts: Facts) -> Outcome:
        path = params["path"].rstrip("/") or "/"
        required = list(params.get("options", ()))
        expected = f"{path} mounted" + (f" with {','.join(required)}" if required else "")
        entries: list[Mount] = []
        notes: list[str] = []

        runtime = facts.runtime(RUNTIME, notes, "runtime mounts")
        if isinstance(runtime, tuple):
            # The last mount on a mount point is the one in effect.
            live = [m for m in runtime if m.mountpoint == path]
            entries.extend(live[-1:])
        at_boot = facts.need(boot(path))
        assert isinstance(at_boot, tuple)
        entries.extend(at_boot)

        if not entries:
            status = Status.FAIL if params.get("separate") else Status.NOT_APPLICABLE
            return Outcome(status, (Evidence(expected, "not a separate filesystem",
                                             "/etc/fstab and the mount units"),),
                           "" if status is Status.FAIL else f"{path} is not a separate filesystem")
        evidence = []
        ok = True
        for entry in entries:
            missing = [o for o in required if o not in entry.options]
            ok &= not missing
            actual = f"{entry.fstype} {','.join(entry.options)}".strip()
            if missing:
                actual += f" (missing {','.join(missing)})"
            evidence.append(Evidence(expected, actual, entry.where, Verdict.of(not missing)))
        return Outcome(Status.PASS if ok else Status.FAIL, tuple(evidence), "; ".join(notes))


CHECK = MountCheck()

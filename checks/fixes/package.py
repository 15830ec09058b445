"""package: packages installed or removed with the system's package manager (dpkg's database read)."""
from __future__ import annotations

from typing import Any, Mapping

from checks.fixes.model import NAME, Action, Files, FixError, Packages, schema

STATUS = "/var/lib/dpkg/status"
NAMES = {"type": "array", "minItems": 1, "items": NAME}


def installed(status: str) -> set[str]:
    """Packages dpkg's status file records as installed (Status: install ok installed, or
    half-configured ones that are on disk)."""
    found: set[str] = set()
    for stanza in status.split("\n\n"):
        fields = dict(line.split(":", 1) for line in stanza.splitlines() if ":" in line and not line.startswith(" "))
        state = fields.get("Status", "").split()
        if "Package" in fields and len(state) == 3 and state[2] in ("installed", "half-configured", "unpacked"):
            found.add(fields["Package"].strip())
    return found


class Package:
    name = "package"
    schema: Mapping[str, Any] = {**schema("package", {"present": NAMES, "absent": NAMES}, ()),
              "anyOf": [{"required": ["present"]}, {"required": ["absent"]}]}
    disruptive = False

    def reads(self, params: Mapping[str, Any]) -> tuple[str, ...]:
        return (STATUS,)

    def plan(self, params: Mapping[str, Any], files: Files) -> tuple[Action, ...]:
        status = files.text(STATUS)
        if status is None:
            raise FixError(f"no package database at {STATUS}: not a dpkg system")
        have = installed(status)
        install = tuple(p for p in params.get("present", ()) if p not in have)
        remove = tuple(p for p in params.get("absent", ()) if p in have)
        return (Packages(install, remove),) if install or remove else ()

    def describe(self, params: Mapping[str, Any]) -> str:
        parts = []
        if params.get("present"):
            parts.append(f"Install {', '.join(params['present'])} (`apt-get install {' '.join(params['present'])}`).")
        if params.get("absent"):
            parts.append(f"Remove {', '.join(params['absent'])} (`apt-get purge {' '.join(params['absent'])}`).")
        return "\n".join(parts)


FIX = Package()

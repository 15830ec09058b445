"""package: a package is installed (optionally at least a version) or absent.

``name`` may list alternatives (distro differences live in the data: ``[telnetd,
telnet-server]``): installed means any of them is, absent means none is. Version ordering
comes from python-debian (dpkg) and rpm-vercmp (RPM), never a comparator of our own.
"""
from __future__ import annotations

from typing import Any, Mapping

from checks.facts import FactKey, Facts, Package, PackageDB
from checks.model import Evidence, Outcome, Status

PACKAGES = FactKey("packages")


def compare_versions(fmt: str, left: str, right: str) -> int:
    """-1, 0 or 1 as ``left`` sorts before, equal to or after ``right``."""
    if fmt == "rpm":
        import rpm_vercmp

        # rpm compares epoch, then version, then release, each with rpmvercmp.
        for a, b in zip(_evr(left), _evr(right)):
            if (order := int(rpm_vercmp.vercmp(a, b))) != 0:
                return order
        return 0
    from debian.debian_support import Version

    va, vb = Version(left), Version(right)
    return (va > vb) - (va < vb)


def _evr(text: str) -> tuple[str, str, str]:
    epoch, _, rest = text.rpartition(":")
    version, sep, release = rest.rpartition("-")
    return (epoch or "0", version, release) if sep else (epoch or "0", rest, "")


def names(params: Mapping[str, Any]) -> list[str]:
    name = params["name"]
    return [name] if isinstance(name, str) else list(name)


class PackageCheck:
    name = "package"
    schema: Mapping[str, Any] = {
        "type": "object",
        "properties": {
            "type": {"const": "package"},
            "name": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}, "minItems": 1}]},
            "state": {"enum": ["installed", "absent"], "default": "installed"},
            "min_version": {"type": "string"},
        },
        "required": ["type", "name"],
        "additionalProperties": False,
    }

    def needs(self, params: Mapping[str, Any]) -> set[FactKey]:
        return {PACKAGES}

    def evaluate(self, params: Mapping[str, Any], facts: Facts) -> Outcome:
        db = facts.need(PACKAGES)
        assert isinstance(db, PackageDB)
        wanted = names(params)
        found: list[Package] = [p for n in wanted for p in db.packages.get(n, ())]
        where = f"{db.format} database"
        label = " or ".join(wanted)
        shown = ", ".join(f"{p.name} {p.version}" for p in found) or "not installed"
        if params.get("state", "installed") == "absent":
            return Outcome.of(not found, [Evidence(f"{label} absent", shown, where)])
        if not found:
            return Outcome(Status.FAIL, (Evidence(f"{label} installed", "not installed", where),))
        minimum = params.get("min_version")
        if minimum is None:
            return Outcome(Status.PASS, (Evidence(f"{label} installed", shown, where),))
        ok = any(compare_versions(db.format, p.version, minimum) >= 0 for p in found)
        return Outcome.of(ok, [Evidence(f"{label} >= {minimum}", shown, where)])


CHECK = PackageCheck()

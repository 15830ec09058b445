"""OSV advisories (the format Ubuntu, Alpine, Rocky Linux, AlmaLinux, Debian and others
publish): ``affected[].package.{ecosystem,name}`` with ECOSYSTEM ranges of
``introduced``/``fixed`` events; CVE ids in ``id``, ``aliases``, ``upstream``, ``related``.
"""
from __future__ import annotations

from typing import Any, Iterable

from checks.facts import OsRelease
from checks.vulndata import FIXED, OPEN, FixRecord


def looks_like(data: Any) -> bool:
    """One advisory, or a list of them."""
    items = data if isinstance(data, list) else [data]
    return bool(items) and all(isinstance(a, dict) and "id" in a and ("affected" in a or "modified" in a)
                               for a in items[:20])


def advisories(data: Any) -> list[dict[str, Any]]:
    return [a for a in (data if isinstance(data, list) else [data]) if isinstance(a, dict)]


def cves_of(advisory: dict[str, Any]) -> set[str]:
    ids = [advisory.get("id", "")]
    for key in ("aliases", "upstream", "related"):
        ids.extend(advisory.get(key) or [])
    return {str(i) for i in ids if str(i).startswith("CVE-")}


def ecosystems(release: OsRelease) -> tuple[set[str], str]:
    """The OSV ecosystem names of the target's release, and how its versions sort."""
    v = release.version_id
    major, minor = v.split(".")[0], ".".join(v.split(".")[:2])
    table: dict[str, tuple[set[str], str]] = {
        "debian": ({f"Debian:{major}"}, "dpkg"),
        "ubuntu": ({f"Ubuntu:{v}", f"Ubuntu:{v}:LTS", f"Ubuntu:Pro:{v}:LTS"}, "dpkg"),
        "rocky": ({f"Rocky Linux:{major}"}, "rpm"),
        "almalinux": ({f"AlmaLinux:{major}"}, "rpm"),
        "alpine": ({f"Alpine:v{minor}"}, "apk"),
        "opensuse-leap": ({f"openSUSE:Leap {v}"}, "rpm"),
    }
    return table.get(release.id, (set(), ""))


def fixes(items: Iterable[dict[str, Any]], wanted: set[str]) -> dict[str, tuple[FixRecord, ...]]:
    """Fix records for packages of the given ecosystems, by package name."""
    out: dict[str, list[FixRecord]] = {}
    for advisory in items:
        if advisory.get("withdrawn"):
            continue
        cves = sorted(cves_of(advisory))
        for affected in advisory.get("affected", []) or []:
            package = affected.get("package", {}) or {}
            if package.get("ecosystem") not in wanted or not package.get("name"):
                continue
            name = package["name"]
            for rng in affected.get("ranges", []) or []:
                if rng.get("type") != "ECOSYSTEM":
                    continue
                introduced = ""
                pending = False
                for event in rng.get("events", []):
                    if "introduced" in event:
                        introduced = "" if event["introduced"] == "0" else str(event["introduced"])
                        pending = True
                    elif "fixed" in event and pending:
                        for cve in cves:
                            out.setdefault(name, []).append(FixRecord(cve, name, FIXED, str(event["fixed"]), introduced,
                                                                      note=advisory["id"]))
                        pending = False
                if pending:  # introduced with no fix (or only last_affected): no fix released
                    for cve in cves:
                        out.setdefault(name, []).append(FixRecord(cve, name, OPEN, "", introduced, note=advisory["id"]))
    return {k: tuple(v) for k, v in out.items()}

"""The Debian security tracker's JSON export: source package -> CVE -> releases -> status.

Rules (from the tracker's own generator): a release's ``fixed_version`` "0" means
<not-affected>; with a fixed version, versions below it are affected (the stored
``status`` is computed from the archive's versions, not the host's, so it is not
trusted); without one, ``open`` means no fix is released and ``undetermined`` that the
tracker cannot tell. Only the target's own release is read: never the unstable line.
"""
from __future__ import annotations

import re
from typing import Any, Iterable

from agent.feeds import FeedError
from checks.vulndata import FIXED, NOT_AFFECTED, OPEN, UNDETERMINED, FixRecord

URL = "https://security-tracker.debian.org/tracker/data/json"
_ID = re.compile(r"^(CVE-\d{4}-\d+|TEMP-\d+-\w+)$")


def looks_like(data: Any) -> bool:
    """Top-level keys are source packages; their values map CVE/TEMP ids to records with releases."""
    if not isinstance(data, dict) or not data:
        return False
    for package in list(data.values())[:20]:
        if not isinstance(package, dict):
            return False
        for cve, record in list(package.items())[:5]:
            if not (_ID.match(str(cve)) and isinstance(record, dict) and isinstance(record.get("releases"), dict)):
                return False
    return True


def validate(data: Any, name: str) -> None:
    if not isinstance(data, dict):
        raise FeedError(f"{name}: not Debian security tracker data: the top level is not an object")
    for package, cves in data.items():
        if not isinstance(cves, dict):
            raise FeedError(f"{name}: not Debian security tracker data: $.{package} is not an object")
        for cve, record in cves.items():
            releases = record.get("releases") if isinstance(record, dict) else None
            if not isinstance(releases, dict) or not all(isinstance(r, dict) for r in releases.values()):
                raise FeedError(f"{name}: not Debian security tracker data: $.{package}.{cve}.releases is not an object")


def restrict(data: dict[str, Any], cves: Iterable[str]) -> dict[str, Any]:
    """Only the given CVEs (the KEV catalog's): the full export is tens of megabytes."""
    wanted = set(cves)
    out = {}
    for package, records in data.items():
        kept = {cve: rec for cve, rec in records.items() if cve in wanted}
        if kept:
            out[package] = kept
    return out


def cves(data: dict[str, Any]) -> set[str]:
    return {cve for records in data.values() for cve in records}


def fixes(data: dict[str, Any], codename: str) -> dict[str, tuple[FixRecord, ...]]:
    """Fix records for one release (``bookworm``), by source package."""
    out: dict[str, tuple[FixRecord, ...]] = {}
    for package, records in data.items():
        found = []
        for cve, record in records.items():
            rel = record["releases"].get(codename)
            if rel is None:
                continue
            note = "; ".join(x for x in (
                f"urgency {rel['urgency']}" if rel.get("urgency") else "",
                f"{rel.get('nodsa_reason') or 'no-dsa'}: {rel['nodsa']}" if rel.get("nodsa") else "",
            ) if x)
            fixed = rel.get("fixed_version")
            if fixed == "0":
                found.append(FixRecord(cve, package, NOT_AFFECTED, note=note))
            elif fixed:
                found.append(FixRecord(cve, package, FIXED, str(fixed), note=note))
            elif rel.get("status") == "open":
                found.append(FixRecord(cve, package, OPEN, note=note))
            else:
                found.append(FixRecord(cve, package, UNDETERMINED, note=note))
        if found:
            out[package] = tuple(found)
    return out

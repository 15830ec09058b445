"""Fact values for catalog-driven vulnerability checks (KEV): the catalog, the distro's fix
data for the target's own release, CISA's SSVC decision points, and the running kernel.

The agent builds these from its feed store (agent/feeds) and the target's facts; checks only
read them.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import field
from typing import Mapping

from checks.facts import FactKey
from checks.record import record

VULNS = FactKey("vulns")
KERNEL_RELEASE = FactKey("kernel_release")

# Fix states, normalized over the Debian tracker and OSV.
FIXED, NOT_AFFECTED, OPEN, UNDETERMINED = "fixed", "not_affected", "open", "undetermined"


@record
class KevEntry:
    """One entry of CISA's Known Exploited Vulnerabilities catalog."""

    cve: str
    vendor: str
    product: str
    name: str
    date_added: dt.date
    due_date: dt.date
    ransomware: str  # "Known" or "Unknown", as CISA writes it
    required_action: str


@record
class FixRecord:
    """What the distro says about one CVE in one of its (source) packages, for one release.

    ``state`` is fixed (versions below ``fixed`` are affected), not_affected, open (no fix
    released: every version from ``introduced`` on is affected) or undetermined.
    """

    cve: str
    package: str
    state: str
    fixed: str = ""
    introduced: str = ""
    note: str = ""  # urgency, no-dsa reason: shown as evidence


@record
class Ssvc:
    """CISA's SSVC decision points for a CVE (Vulnrichment); "unknown" when not scored."""

    exploitation: str = "unknown"
    automatable: str = "unknown"
    technical_impact: str = "unknown"


@record
class VulnData:
    """Everything a KEV check needs besides the target's packages and sockets."""

    catalog_version: str
    kev: Mapping[str, KevEntry]
    release: str  # the target's release as the fix data names it: "debian bookworm", "Ubuntu:22.04:LTS"
    fix_source: str  # "Debian security tracker", "OSV advisories"; "" when there is none for this release
    version_format: str  # dpkg or rpm: how the fix data's versions sort
    fixes: Mapping[str, tuple[FixRecord, ...]] = field(default_factory=dict)  # by source package name
    ssvc: Mapping[str, Ssvc] = field(default_factory=dict)
    fix_feed: str = ""  # the feed the fixes came from, with its version, for evidence

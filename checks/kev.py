"""kev: no vulnerability of CISA's Known Exploited Vulnerabilities catalog is present.

A KEV CVE is present when an installed source package is affected according to the fix
data of the target's own release: its version is below the release's fixed version (or
from ``introduced`` on), or no fix is released. ``not_affected`` never is. Kernel CVEs are
judged against the running kernel's package only (the image matching ``uname -r``), not
headers or tools built from the same source. Each present CVE is one finding with its
own deadline; the deadline rule is data in the directive:

- ``{rule: kev_due_date}``: CISA's dueDate for the entry (BOD 22-01).
- ``{rule: risk_table, start: date_added, table: [...]}``: the first row whose ``when``
  matches the CVE's inputs gives ``days`` after the start date, or ``defer``. Inputs:
  ``exposed`` (a listener on a globally routable address: yes, no, unknown), ``kev``
  (yes), ``automatable`` and ``technical_impact`` (CISA SSVC; unknown when not scored).
"""
from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Any, Mapping

from checks.facts import FactKey, Facts, Package, PackageDB, Socket, Unavailable
from checks.listening import ADDRESSES, SOCKETS, PUBLIC, effective_addresses, exposure
from checks.model import Evidence, Finding, Outcome, Status
from checks.package import PACKAGES, compare_versions
from checks.vulndata import FIXED, NOT_AFFECTED, OPEN, KERNEL_RELEASE, VULNS, FixRecord, KevEntry, Ssvc, VulnData
from checks.record import record

KERNEL_SOURCES = frozenset({"linux", "kernel"})
KERNEL_IMAGE_PREFIXES = ("linux-image-", "linux-modules-")
KERNEL_IMAGES_RPM = ("kernel-core", "kernel", "kernel-uek-core", "kernel-uek", "kernel-rt-core", "kernel-default")
NO_FIX = "no fix released"

_VALUE = {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}, "minItems": 1}]}
_ROW = {
    "type": "object",
    "properties": {
        "when": {
            "type": "object",
            "properties": {"exposed": _VALUE, "kev": _VALUE, "automatable": _VALUE, "technical_impact": _VALUE},
            "additionalProperties": False,
        },
        "days": {"type": "integer", "minimum": 0},
        "defer": {"const": True},
    },
    "required": ["when"],
    "oneOf": [{"required": ["days"]}, {"required": ["defer"]}],
    "additionalProperties": False,
}


def product(entry: KevEntry) -> str:
    return entry.product if entry.vendor.lower() == entry.product.lower() else f"{entry.vendor} {entry.product}"


def unsigned(source: str) -> str:
    """The source a signed kernel image is built from: linux-signed-hwe-5.15 -> linux-hwe-5.15."""
    return source.replace("-signed", "", 1)


def kernel_sources(db: PackageDB) -> frozenset[str]:
    """Source packages that build kernels: the distro's own names and the sources of every
    installed kernel image or module package (Ubuntu's linux-hwe-5.15, linux-aws, ...).
    Their other binaries (headers, linux-libc-dev, tools) never stand for the running kernel."""
    out = set(KERNEL_SOURCES)
    for name, pkgs in db.packages.items():
        if name.startswith(KERNEL_IMAGE_PREFIXES) or name in KERNEL_IMAGES_RPM:
            for p in pkgs:
                source = p.source or p.name
                out.update((source, unsigned(source)))
    return frozenset(out)


def running_kernel(db: PackageDB, release: str) -> Package | None:
    """The installed kernel image package that ``uname -r`` names."""
    if db.format == "dpkg":
        for name in (f"linux-image-{release}", f"linux-image-{release}-unsigned"):
            if db.packages.get(name):
                return db.packages[name][0]
        return None
    for name in KERNEL_IMAGES_RPM:
        for pkg in db.packages.get(name, ()):
            evr = pkg.version.split(":", 1)[-1]
            if release in (f"{evr}.{pkg.arch}", evr):
                return pkg
    return None


def host_exposure(facts: Facts) -> tuple[str, str]:
    """(yes|no|unknown, why): a listener reachable on a globally routable address."""
    sockets = facts.get(SOCKETS)
    if isinstance(sockets, Unavailable):
        return "unknown", sockets.reason
    addresses = facts.get(ADDRESSES)
    host_addresses = tuple(str(a) for a in addresses) if isinstance(addresses, tuple) else None
    assert isinstance(sockets, tuple)
    for sock in sockets:
        assert isinstance(sock, Socket)
        for address in effective_addresses(sock, host_addresses):
            if exposure(address) == PUBLIC:
                who = f" ({sock.process})" if sock.process else ""
                return "yes", f"{sock.proto} {sock.address}:{sock.port}{who} reachable on {address}"
    return "no", "no listener on a globally routable address"


@record
class Hit:
    """An installed package that a known exploited vulnerability affects."""

    package: str  # source package
    version: str  # installed source version
    binaries: tuple[str, ...]
    record: FixRecord
    affected: bool | None  # None: the distro has not determined it


@lru_cache(maxsize=8192)
def _compare(fmt: str, left: str, right: str) -> int:
    """Memoized: several requirements judge the same (installed, fixed) pairs in one scan."""
    return compare_versions(fmt, left, right)


def judge(fmt: str, version: str, record: FixRecord) -> bool | None:
    if record.state == NOT_AFFECTED:
        return False
    if record.state not in (FIXED, OPEN):
        return None
    if record.introduced and _compare(fmt, version, record.introduced) < 0:
        return False
    return record.state == OPEN or _compare(fmt, version, record.fixed) < 0


class KevCheck:
    name = "kev"
    schema: Mapping[str, Any] = {
        "type": "object",
        "properties": {
            "type": {"const": "kev"},
            "deadline": {
                "oneOf": [
                    {"type": "object", "properties": {"rule": {"const": "kev_due_date"}},
                     "required": ["rule"], "additionalProperties": False},
                    {"type": "object",
                     "properties": {"rule": {"const": "risk_table"}, "start": {"enum": ["date_added"]},
                                    "table": {"type": "array", "items": _ROW, "minItems": 1}},
                     "required": ["rule", "start", "table"], "additionalProperties": False},
                ]
            },
        },
        "required": ["type", "deadline"],
        "additionalProperties": False,
    }

    def needs(self, params: Mapping[str, Any]) -> set[FactKey]:
        keys = {VULNS, PACKAGES, KERNEL_RELEASE}
        if params["deadline"]["rule"] == "risk_table":
            keys |= {SOCKETS, ADDRESSES}
        return keys

    def evaluate(self, params: Mapping[str, Any], facts: Facts) -> Outcome:
        data = facts.need(VULNS)
        db = facts.need(PACKAGES)
        assert isinstance(data, VulnData) and isinstance(db, PackageDB)
        catalog = f"KEV {data.catalog_version}"
        if not data.fix_source:
            return Outcome(Status.ERROR, (Evidence(f"distro fix data for {data.release}", "none in the feeds", catalog),),
                           f"no fix data for {data.release}: KEV CVEs cannot be matched to installed packages "
                           f"(run `fedharden feeds update`)")
        if data.version_format != db.format:
            return Outcome(Status.ERROR, (Evidence(f"{data.version_format} versions", f"{db.format} database", catalog),),
                           f"the fix data's versions ({data.version_format}) cannot be compared with a {db.format} database")
        exposed = host_exposure(facts) if params["deadline"]["rule"] == "risk_table" else ("unknown", "")
        hits, kernel_note = self._hits(data, db, facts)
        findings = [self._finding(cve, cve_hits, data, params["deadline"], exposed)
                    for cve, cve_hits in sorted(hits.items())]
        if kernel_note is not None:
            findings.append(kernel_note)
        if not any(f.status in (Status.FAIL, Status.ERROR, Status.MANUAL) for f in findings if f.id.startswith("CVE-")):
            sources = {p.source or p.name for pkgs in db.packages.values() for p in pkgs}
            judged = sum(1 for s in data.fixes if s in sources)
            cves = {r.cve for recs in data.fixes.values() for r in recs if r.cve in data.kev}
            findings.insert(0, Finding("packages", Status.PASS, (Evidence(
                "no KEV CVE present in installed packages",
                f"none present: {len(sources)} installed source packages, {judged} of them in the fix data, "
                f"{len(cves)} KEV CVEs in the fix data for {data.release}",
                f"{catalog}; {data.fix_feed}"),)))
        return Outcome(Status.FAIL if any(f.status is Status.FAIL for f in findings) else Status.PASS,
                       findings=tuple(findings))

    # ------------------------------------------------------------------------------------

    def _hits(self, data: VulnData, db: PackageDB, facts: Facts) -> tuple[dict[str, list[Hit]], Finding | None]:
        kernels = kernel_sources(db)
        installed: dict[str, dict[str, list[str]]] = {}
        by_binary: dict[str, dict[str, list[str]]] = {}  # RPM advisories may name binary packages
        for pkgs in db.packages.values():
            for p in pkgs:
                source = p.source or p.name
                if source not in kernels and not source.startswith("linux-signed"):
                    installed.setdefault(source, {}).setdefault(p.source_version or p.version, []).append(p.name)
                    by_binary.setdefault(p.name, {}).setdefault(p.version, []).append(p.name)
        hits: dict[str, list[Hit]] = {}
        kernel_records: dict[str, list[FixRecord]] = {}
        for source, records in data.fixes.items():
            if source in kernels:
                kernel_records[source] = [r for r in records if r.cve in data.kev]
                continue
            versions = installed.get(source) or (by_binary.get(source) if db.format == "rpm" else None)
            if not versions:
                continue
            for entry in records:
                if entry.cve not in data.kev:
                    continue
                for version, binaries in versions.items():
                    verdict = judge(db.format, version, entry)
                    if verdict is not False:
                        hits.setdefault(entry.cve, []).append(Hit(source, version, tuple(sorted(binaries)), entry, verdict))
        if not any(kernel_records.values()):
            return hits, None
        count = len({r.cve for records in kernel_records.values() for r in records})
        release = facts.get(KERNEL_RELEASE)
        if isinstance(release, Unavailable):
            status = Status.NOT_APPLICABLE if release.not_applicable else Status.ERROR
            return hits, Finding("running-kernel", status, (Evidence("running kernel judged", "unavailable", "uname -r"),),
                                 f"{release.reason}: {count} KEV CVEs in the kernel are judged on the running system only")
        kernel = running_kernel(db, str(release))
        if kernel is None:
            return hits, Finding(
                "running-kernel", Status.NOT_APPLICABLE,
                (Evidence("a kernel installed from the distro's packages", f"uname -r: {release}, no matching kernel "
                          f"image package in the {db.format} database", "uname -r"),),
                f"the running kernel {release} is not installed from the distro's packages: its {count} KEV CVEs "
                f"cannot be judged from package data")
        label = f"{kernel.name} (running kernel)"
        # The fix data of the source this kernel is built from; the distro's main kernel
        # source for a signed image whose unsigned twin the data does not name.
        source = unsigned(kernel.source or kernel.name)
        mine = kernel_records.get(source) or kernel_records.get("linux") or kernel_records.get("kernel") or []
        for entry in mine:
            verdict = judge(db.format, kernel.version, entry)
            if verdict is not False:
                hits.setdefault(entry.cve, []).append(Hit(entry.package, kernel.version, (label,), entry, verdict))
        return hits, None

    def _finding(self, cve: str, hits: list[Hit], data: VulnData, deadline: Mapping[str, Any],
                 exposed: tuple[str, str]) -> Finding:
        entry = data.kev[cve]
        affected = [h for h in hits if h.affected]
        shown = affected or hits
        evidence = [self._package_evidence(h, data) for h in shown]
        kev_line = (f"{product(entry)}: {entry.name}; added to KEV {entry.date_added}, due "
                    f"{entry.due_date}; known ransomware use: {entry.ransomware}")
        evidence.append(Evidence("", kev_line, f"KEV {data.catalog_version}"))
        evidence.append(Evidence("", f"required action: {entry.required_action}", f"KEV {data.catalog_version}"))
        fields: dict[str, object] = {
            "packages": [{"package": h.package, "installed_version": h.version, "binaries": list(h.binaries),
                          "fixed_version": h.record.fixed or None,
                          "fix": f"fixed in {h.record.fixed}" if h.record.fixed else
                          (NO_FIX if h.affected else "not determined by the distro"),
                          "note": h.record.note} for h in shown],
            "kev": {"vendor": entry.vendor, "product": entry.product, "name": entry.name,
                    "date_added": entry.date_added.isoformat(), "due_date": entry.due_date.isoformat(),
                    "known_ransomware_use": entry.ransomware, "required_action": entry.required_action},
        }
        first = shown[0]
        fix_text = f"fixed in {first.record.fixed}" if first.record.fixed else NO_FIX
        if not affected:
            return Finding(cve, Status.ERROR, tuple(evidence),
                           f"{data.fix_source} has not determined whether {first.package} {first.version} is affected "
                           f"in {data.release}", None, fields)
        message = f"{product(entry)}: {first.package} {first.version} installed, {fix_text}"
        if deadline["rule"] == "kev_due_date":
            return Finding(cve, Status.FAIL, tuple(evidence), message, entry.due_date, fields)
        ssvc = data.ssvc.get(cve, Ssvc())
        inputs = {"exposed": exposed[0], "kev": "yes", "automatable": ssvc.automatable,
                  "technical_impact": ssvc.technical_impact}
        fields["inputs"] = dict(inputs)
        shown_inputs = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in inputs.items())
        row = next((r for r in deadline["table"] if _matches(r["when"], inputs)), None)
        if row is None:
            return Finding(cve, Status.ERROR, tuple(evidence), f"no row of the deadline table matches ({shown_inputs})",
                           None, fields)
        if exposed[1]:
            evidence.append(Evidence("", f"exposure {exposed[0]}: {exposed[1]}", "listening sockets"))
        if row.get("defer"):
            fields["deadline"] = "defer"
            evidence.append(Evidence("", f"deadline table: defer ({shown_inputs})", "directive"))
            return Finding(cve, Status.MANUAL, tuple(evidence),
                           f"{message}; deferred by the deadline table: no deadline, review in the normal patch cycle",
                           None, fields)
        due = entry.date_added + dt.timedelta(days=int(row["days"]))
        fields["deadline"] = {"days": row["days"], "after": "date_added"}
        evidence.append(Evidence("", f"deadline table: {row['days']} days after {entry.date_added} ({shown_inputs})",
                                 "directive"))
        return Finding(cve, Status.FAIL, tuple(evidence), message, due, fields)

    @staticmethod
    def _package_evidence(hit: Hit, data: VulnData) -> Evidence:
        rec = hit.record
        if rec.fixed:
            expected = f"{hit.package} >= {rec.fixed}"
        elif hit.affected:
            expected = f"{hit.package}: {NO_FIX}"
        else:
            expected = f"{hit.package}: not determined"
        binaries = ", ".join(hit.binaries[:4]) + (" ..." if len(hit.binaries) > 4 else "")
        note = f"; {rec.note}" if rec.note else ""
        return Evidence(expected, f"{hit.package} {hit.version} installed ({binaries})",
                        f"{data.fix_source}, {data.release}{note}")


def _matches(when: Mapping[str, Any], inputs: Mapping[str, str]) -> bool:
    for key, wanted in when.items():
        allowed = [wanted] if isinstance(wanted, str) else list(wanted)
        if inputs.get(key, "unknown") not in allowed:
            return False
    return True


CHECK = KevCheck()

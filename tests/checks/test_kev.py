"""The kev check type on facts built in the test: version judgement, kernel matching, tiers."""
from __future__ import annotations

import datetime as dt
from typing import Any, Mapping

import pytest

from checks import evaluate, needs
from checks.facts import FactKey, Facts, Package, PackageDB, Socket, Unavailable
from checks.kev import judge, running_kernel
from checks.model import Status
from checks.vulndata import FIXED, KERNEL_RELEASE, NOT_AFFECTED, OPEN, UNDETERMINED, VULNS, FixRecord, KevEntry, \
    Ssvc, VulnData

ENTRY = KevEntry("CVE-2023-4911", "GNU", "GNU C Library", "glibc Buffer Overflow Vulnerability",
                 dt.date(2023, 11, 21), dt.date(2023, 12, 12), "Unknown", "Apply mitigations per vendor instructions.")
KERNEL = KevEntry("CVE-2024-1086", "Linux", "Kernel", "Linux Kernel Use-After-Free Vulnerability",
                  dt.date(2024, 5, 30), dt.date(2024, 6, 20), "Known", "Apply mitigations per vendor instructions.")
TABLE = [
    {"when": {"exposed": ["yes", "unknown"], "automatable": ["yes", "unknown"]}, "days": 3},
    {"when": {"exposed": "yes"}, "days": 14},
    {"when": {"kev": "yes", "technical_impact": "partial"}, "defer": True},
    {"when": {"kev": "yes"}, "days": 60},
]
DUE = {"type": "kev", "deadline": {"rule": "kev_due_date"}}
TIERED = {"type": "kev", "deadline": {"rule": "risk_table", "start": "date_added", "table": TABLE}}


def facts(*pkgs: Package, fixes: Mapping[str, tuple[FixRecord, ...]] | None = None, fmt: str = "dpkg",
          kernel: object = Unavailable("offline", True), sockets: object = Unavailable("offline", True),
          ssvc: dict[str, Ssvc] | None = None) -> Facts:
    db = PackageDB(fmt, {p.name: (p,) for p in pkgs})
    data = VulnData("2025.08.25", {ENTRY.cve: ENTRY, KERNEL.cve: KERNEL}, "debian bookworm", "Debian security tracker",
                    fmt, fixes if fixes is not None else
                    {"glibc": (FixRecord(ENTRY.cve, "glibc", FIXED, "2.36-9+deb12u3"),)}, ssvc or {})
    return Facts({VULNS: data, FactKey("packages"): db, KERNEL_RELEASE: kernel, FactKey("sockets"): sockets,
                  FactKey("addresses"): ("127.0.0.1", "9.9.9.9")})


def libc(version: str) -> Package:
    return Package("libc6", version, "amd64", "glibc", version)


def rows(spec: dict[str, Any], f: Facts) -> set[tuple[str, Status, dt.date | None]]:
    return {(x.id, x.status, x.due) for x in evaluate(spec, f).findings}


@pytest.mark.parametrize(
    ("version", "record", "affected"),
    [
        ("2.36-9+deb12u2", FixRecord("C", "p", FIXED, "2.36-9+deb12u3"), True),
        ("2.36-9+deb12u3", FixRecord("C", "p", FIXED, "2.36-9+deb12u3"), False),
        ("2.36-9+deb12u10", FixRecord("C", "p", FIXED, "2.36-9+deb12u3"), False),  # not a string comparison
        ("1:1.0-1", FixRecord("C", "p", FIXED, "2.0-1"), False),  # the epoch wins
        ("1.0-1", FixRecord("C", "p", NOT_AFFECTED), False),
        ("1.0-1", FixRecord("C", "p", OPEN), True),
        ("1.0-1", FixRecord("C", "p", OPEN, introduced="2.0-1"), False),
        ("1.0-1", FixRecord("C", "p", UNDETERMINED), None),
    ],
)
def test_judge_dpkg(version: str, record: FixRecord, affected: bool | None) -> None:
    assert judge("dpkg", version, record) is affected


def test_judge_rpm_epoch_version_release() -> None:
    assert judge("rpm", "2.34-83.el9_3.7", FixRecord("C", "glibc", FIXED, "2.34-83.el9_3.12")) is True
    assert judge("rpm", "2.34-100.el9", FixRecord("C", "glibc", FIXED, "2.34-83.el9_3.12")) is False
    assert judge("rpm", "1:1.0-1", FixRecord("C", "x", FIXED, "0:2.0-1")) is False


def test_kev_due_date_and_pass() -> None:
    assert rows(DUE, facts(libc("2.36-9+deb12u2"))) == {
        ("CVE-2023-4911", Status.FAIL, dt.date(2023, 12, 12))}
    outcome = evaluate(DUE, facts(libc("2.36-9+deb12u3")))
    assert {(x.id, x.status) for x in outcome.findings} == {("packages", Status.PASS)}


def test_needs_sockets_only_for_the_risk_table() -> None:
    assert FactKey("sockets") not in needs(DUE)
    assert {FactKey("sockets"), FactKey("addresses"), VULNS, KERNEL_RELEASE} <= needs(TIERED)


@pytest.mark.parametrize(
    ("sockets", "ssvc", "expected"),
    [
        (Unavailable("offline", True), Ssvc(), (Status.FAIL, dt.date(2023, 11, 24))),  # unknown, unknown: 3 days
        ((Socket("tcp", "0.0.0.0", 443),), Ssvc("active", "yes", "total"), (Status.FAIL, dt.date(2023, 11, 24))),
        ((Socket("tcp", "0.0.0.0", 443),), Ssvc("active", "no", "total"), (Status.FAIL, dt.date(2023, 12, 5))),
        ((Socket("tcp", "127.0.0.1", 443),), Ssvc("active", "no", "partial"), (Status.MANUAL, None)),
        ((), Ssvc("active", "no", "total"), (Status.FAIL, dt.date(2024, 1, 20))),
    ],
)
def test_risk_table_rows(sockets: object, ssvc: Ssvc, expected: tuple[Status, dt.date | None]) -> None:
    f = facts(libc("2.36-9+deb12u2"), sockets=sockets, ssvc={ENTRY.cve: ssvc})
    assert rows(TIERED, f) == {("CVE-2023-4911", *expected)}


def test_no_matching_row_is_an_error() -> None:
    spec = {"type": "kev", "deadline": {"rule": "risk_table", "start": "date_added",
                                        "table": [{"when": {"exposed": "yes"}, "days": 3}]}}
    assert rows(spec, facts(libc("2.36-9+deb12u2"), sockets=())) == {("CVE-2023-4911", Status.ERROR, None)}


KFIX = {"linux": (FixRecord(KERNEL.cve, "linux", FIXED, "6.1.76-1"),)}


def test_running_kernel_dpkg_and_rpm() -> None:
    image = Package("linux-image-6.1.0-17-amd64", "6.1.69-1", "amd64", "linux-signed-amd64", "6.1.69+1")
    db = PackageDB("dpkg", {image.name: (image,)})
    assert running_kernel(db, "6.1.0-17-amd64") == image
    assert running_kernel(db, "6.1.0-18-amd64") is None
    core = Package("kernel-core", "5.14.0-362.8.1.el9_3", "x86_64", "kernel", "5.14.0-362.8.1.el9_3")
    assert running_kernel(PackageDB("rpm", {"kernel-core": (core,)}), "5.14.0-362.8.1.el9_3.x86_64") == core


def test_kernel_cves_judge_the_running_image_only() -> None:
    image = Package("linux-image-6.1.0-17-amd64", "6.1.69-1", "amd64", "linux-signed-amd64", "6.1.69+1")
    headers = Package("linux-libc-dev", "6.1.187-1", "amd64", "linux", "6.1.187-1")
    assert rows(DUE, facts(image, headers, fixes=KFIX, kernel="6.1.0-17-amd64")) == {
        ("CVE-2024-1086", Status.FAIL, dt.date(2024, 6, 20))}
    # Headers alone say nothing about the kernel that runs.
    assert rows(DUE, facts(headers, fixes=KFIX, kernel="6.18.4-custom")) == {
        ("packages", Status.PASS, None), ("running-kernel", Status.NOT_APPLICABLE, None)}
    assert rows(DUE, facts(headers, fixes=KFIX, kernel=Unavailable("cannot read", False))) == {
        ("packages", Status.PASS, None), ("running-kernel", Status.ERROR, None)}


def test_missing_fix_data_and_version_format_mismatch() -> None:
    data = VulnData("2025.08.25", {}, "ubuntu 24.04", "", "", {})
    outcome = evaluate(DUE, Facts({VULNS: data, FactKey("packages"): PackageDB("dpkg", {}),
                                   KERNEL_RELEASE: Unavailable("x", True)}))
    assert outcome.status is Status.ERROR and "feeds update" in outcome.message
    assert evaluate(DUE, facts(libc("1"), fmt="dpkg")).status is Status.FAIL
    wrong = facts(libc("1"))
    db = PackageDB("rpm", {})
    mixed = Facts({VULNS: wrong.need(VULNS), FactKey("packages"): db, KERNEL_RELEASE: Unavailable("x", True)})
    assert evaluate(DUE, mixed).status is Status.ERROR


def test_rpm_advisory_naming_a_binary_package() -> None:
    pkg = Package("bind-libs", "32:9.16.23-14.el9_3", "x86_64", "bind", "32:9.16.23-14.el9_3")
    fixes = {"bind-libs": (FixRecord(ENTRY.cve, "bind-libs", FIXED, "32:9.16.23-15.el9_3"),),
             "bind-utils": (FixRecord(ENTRY.cve, "bind-utils", FIXED, "32:9.16.23-15.el9_3"),),
             "python3-bind": (FixRecord(ENTRY.cve, "python3-bind", FIXED, "32:9.16.23-15.el9_3"),)}
    assert rows(DUE, facts(pkg, fixes=fixes, fmt="rpm")) == {("CVE-2023-4911", Status.FAIL, dt.date(2023, 12, 12))}


def test_ubuntu_hwe_kernel_is_judged_by_its_own_source() -> None:
    image = Package("linux-image-5.15.0-91-generic", "5.15.0-91.101~20.04.1", "amd64", "linux-signed-hwe-5.15",
                    "5.15.0-91.101~20.04.1")
    headers = Package("linux-headers-5.15.0-91-generic", "5.15.0-91.101~20.04.1", "amd64", "linux-hwe-5.15",
                      "5.15.0-91.101~20.04.1")
    fixes = {"linux-hwe-5.15": (FixRecord(KERNEL.cve, "linux-hwe-5.15", FIXED, "5.15.0-94.104~20.04.1"),),
             "linux": (FixRecord(KERNEL.cve, "linux", FIXED, "5.4.0-172.190"),)}
    outcome = evaluate(DUE, facts(image, headers, fixes=fixes, kernel="5.15.0-91-generic"))
    assert [(f.id, f.status) for f in outcome.findings] == [("CVE-2024-1086", Status.FAIL)]
    packages = outcome.findings[0].fields["packages"]
    assert isinstance(packages, list) and [p["package"] for p in packages] == ["linux-hwe-5.15"]
    # Offline: the headers of that kernel source are not mistaken for the kernel.
    offline = evaluate(DUE, facts(image, headers, fixes=fixes))
    assert {(f.id, f.status) for f in offline.findings} == {("packages", Status.PASS),
                                                            ("running-kernel", Status.NOT_APPLICABLE)}

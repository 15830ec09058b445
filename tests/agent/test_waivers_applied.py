"""Waivers applied in a scan: fail -> waived with the waiver as evidence; expired ones flagged;
waived never counts as pass and is counted on its own."""
from __future__ import annotations

import datetime as dt
from typing import Any, Callable

import pytest

from agent.hosts import RootfsHost
from agent.contract import validation_errors
from agent.scan import Scan
from directives import load_library
from directives.waivers import parse_waivers

SSHD = "PermitRootLogin yes\nMaxAuthTries 4\n"
NOW = dt.datetime(2026, 8, 1, tzinfo=dt.timezone.utc)


@pytest.fixture
def scan(make_root: Callable[..., Any]) -> Callable[..., dict[str, Any]]:
    library = load_library()
    known = {r.id for d in library for r in d.requirements}

    def run(waivers: str, tags: tuple[str, ...] = ()) -> dict[str, Any]:
        root = make_root({
            "/etc/os-release": "ID=debian\nVERSION_ID=12\n", "/etc/hostname": "web-01\n",
            "/etc/ssh/sshd_config": SSHD,
            "/var/lib/dpkg/status": "Package: openssh-server\nStatus: install ok installed\nVersion: 1:9.2p1-2\n"
                                    "Architecture: amd64\n\n",
        })
        report = Scan(RootfsHost(str(root)), [d for d in library if d.id == "HARDEN-30D"], now=NOW,
                      waivers=parse_waivers(waivers, "w.yaml", known), tags=tags).run()
        assert validation_errors(report) == []
        return report

    return run


def result(report: dict[str, Any], key: str) -> dict[str, Any]:
    return next(r for r in report["results"] if r["key"] == key)


ACTIVE = ("waivers:\n  - requirement: HARDEN-30D.SSH.1\n    justification: bastion rebuild\n"
          "    approver: J. Doe\n    expires: 2026-12-31\n    ticket: POAM-7\n")


def test_an_active_waiver_turns_fail_into_waived_with_the_waiver_as_evidence(scan: Any) -> None:
    plain = scan("waivers: []\n")
    assert result(plain, "HARDEN-30D.SSH.1")["status"] == "fail"
    report = scan(ACTIVE)
    r = result(report, "HARDEN-30D.SSH.1")
    assert r["status"] == "waived" and r["overdue"] is False
    assert r["evidence"][0] == {"expected": "an unexpired waiver",
                                "actual": "waived by J. Doe until 2026-12-31 (POAM-7): bastion rebuild",
                                "where": "w.yaml:2", "verdict": "info"}
    # What fails is still shown, as the violation it is.
    assert (r["evidence"][1]["actual"], r["evidence"][1]["verdict"]) == ("PermitRootLogin yes", "violation")
    assert r["waiver"]["state"] == "active" and r["waiver"]["approver"] == "J. Doe"
    # Waived is counted on its own and never as pass.
    before, after = plain["summary"]["counts"], report["summary"]["counts"]
    assert after["waived"] == before["waived"] + 1 and after["fail"] == before["fail"] - 1
    assert after["pass"] == before["pass"]
    assert report["summary"]["score"] == round(after["pass"] / (after["pass"] + after["fail"]), 4)
    assert report["scan"]["waivers"] == [{
        "requirement": "HARDEN-30D.SSH.1", "justification": "bastion rebuild", "approver": "J. Doe", "start": None,
        "expires": "2026-12-31", "ticket": "POAM-7", "state": "active", "source": "w.yaml:2"}]


def test_an_expired_waiver_is_evaluated_normally_and_flagged(scan: Any) -> None:
    report = scan(ACTIVE.replace("2026-12-31", "2026-07-31"))
    r = result(report, "HARDEN-30D.SSH.1")
    assert r["status"] == "fail" and r["overdue"] is True
    assert r["waiver"]["state"] == "expired"
    assert [w for w in report["warnings"] if w.startswith("waiver")] == [
        "waiver for HARDEN-30D.SSH.1 (w.yaml:2) expired on 2026-07-31; evaluated normally"]


def test_a_waiver_not_yet_started_leaves_the_fail(scan: Any) -> None:
    report = scan(ACTIVE.replace("    expires:", "    start: 2026-09-01\n    expires:"))
    r = result(report, "HARDEN-30D.SSH.1")
    assert (r["status"], r["waiver"]["state"]) == ("fail", "pending")


def test_a_waiver_on_a_passing_requirement_changes_nothing_but_is_shown(scan: Any) -> None:
    report = scan(ACTIVE.replace("HARDEN-30D.SSH.1", "HARDEN-30D.SSH.3"))
    r = result(report, "HARDEN-30D.SSH.3")
    assert r["status"] == "pass" and r["waiver"]["state"] == "active"


def test_scoping_by_host_and_tag(scan: Any) -> None:
    assert result(scan(ACTIVE + "    hosts: [db-*]\n"), "HARDEN-30D.SSH.1")["status"] == "fail"
    assert result(scan(ACTIVE + "    hosts: [web-*]\n"), "HARDEN-30D.SSH.1")["status"] == "waived"
    assert result(scan(ACTIVE + "    tags: [dmz]\n"), "HARDEN-30D.SSH.1")["status"] == "fail"
    scoped = scan(ACTIVE + "    tags: [dmz]\n", tags=("dmz",))
    assert result(scoped, "HARDEN-30D.SSH.1")["status"] == "waived"
    assert scan(ACTIVE + "    hosts: [db-*]\n")["scan"]["waivers"] == []  # other hosts' waivers stay out


def test_a_waiver_for_one_finding_covers_only_that_finding() -> None:
    from agent.report import Result
    from agent.waivers import apply
    from checks.model import Evidence, Status
    from directives.waivers import Waiver

    def finding(cve: str) -> Result:
        return Result(key=f"BOD-22-01.1#{cve}", directive="BOD-22-01", requirement="BOD-22-01.1", title="KEV",
                      severity="critical", status=Status.FAIL, evidence=(Evidence("fixed", "vulnerable", "dpkg"),),
                      due=dt.date(2026, 7, 1), overdue=True, days_left=-31, references={}, finding=cve, cve=cve)

    waiver = Waiver("BOD-22-01.1", "vendor appliance, isolated", expires=dt.date(2026, 12, 31),
                    finding="CVE-2024-3094", source="w.yaml:2")
    out, warnings = apply([finding("CVE-2024-3094"), finding("CVE-2021-44228")], [waiver], dt.date(2026, 8, 1))
    assert [(r.key, r.status, r.overdue) for r in out] == [
        ("BOD-22-01.1#CVE-2024-3094", Status.WAIVED, False), ("BOD-22-01.1#CVE-2021-44228", Status.FAIL, True)]
    assert warnings == []

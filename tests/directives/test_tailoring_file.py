"""The tailoring file: select/deselect requirements and override tunable parameters, with
file:line errors; and a scan with it, which the report records."""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Callable

import pytest

from agent.hosts import RootfsHost
from agent.contract import validation_errors
from agent.scan import Scan
from directives import TailoringError, load_library
from directives.tailoring import parse_tailoring

DATA = Path(__file__).resolve().parents[1] / "data" / "formats"


@pytest.fixture(scope="module")
def library() -> list[Any]:
    return load_library()


def problems(text: str, library: list[Any]) -> list[str]:
    with pytest.raises(TailoringError) as exc:
        parse_tailoring(text, "t.yaml", library)
    return exc.value.problems


def test_apply_selects_deselects_and_overrides(library: list[Any]) -> None:
    tailoring = parse_tailoring("title: web\nselect: [HARDEN-30D]\n"
                                "deselect: [{id: HARDEN-30D.SSH.7, reason: grace}]\n"
                                "parameters: [{id: HARDEN-30D.ssh_idle_timeout, value: 300}]\n", "t.yaml", library)
    tailored = tailoring.apply(library)
    ids = {r.id for d in tailored for r in d.requirements}
    assert "HARDEN-30D.SSH.7" not in ids and "HARDEN-30D.SSH.6" in ids
    assert not any(i.startswith("BOD-23-02") for i in ids)
    ssh6 = next(r for d in tailored for r in d.requirements if r.id == "HARDEN-30D.SSH.6")
    assert ssh6.check["all"][0]["at_most"] == 300 and ssh6.title == "Idle SSH sessions are ended within 300 seconds"
    assert "ClientAliveInterval 300" in ssh6.remediation
    # The loaded directives themselves are untouched.
    original = next(r for d in library for r in d.requirements if r.id == "HARDEN-30D.SSH.6")
    assert original.check["all"][0]["at_most"] == 900


def test_select_by_requirement_id(library: list[Any]) -> None:
    tailoring = parse_tailoring("title: two\nselect: [HARDEN-30D.SSH.1, BOD-23-02.2]\n", "t.yaml", library)
    assert {r.id for d in tailoring.apply(library) for r in d.requirements} == {"HARDEN-30D.SSH.1", "BOD-23-02.2"}


@pytest.mark.parametrize("text, expected", [
    ("title: t\nselect: [HARDEN-30D.SSH.99]\n",
     "t.yaml:2: $.select[0]: unknown directive or requirement id HARDEN-30D.SSH.99 (did you mean "),
    ("title: t\ndeselect:\n  - id: HARDEN-30D.SSH.7\n",
     "t.yaml:3: $.deselect[0]: 'reason' is a required property"),
    ("title: t\nparameters:\n  - id: HARDEN-30D.ssh_idle_timout\n    value: 300\n",
     "t.yaml:3: $.parameters[0].id: unknown parameter HARDEN-30D.ssh_idle_timout (did you mean HARDEN-30D.ssh_idle_timeout?)"),
    ("title: t\nparameters:\n  - id: BOD-23-02.timeout\n    value: 300\n",
     "t.yaml:3: $.parameters[0].id: BOD-23-02 declares no tunable parameters"),
    ("title: t\nparameters:\n  - id: HARDEN-30D.ssh_idle_timeout\n    value: 7200\n",
     "t.yaml:4: $.parameters[0].value: 7200 is greater than the maximum of 3600 "
     "(HARDEN-30D.ssh_idle_timeout: Seconds an idle SSH session may last before the server ends it)"),
    ("title: t\nparameters:\n  - id: HARDEN-30D.ssh_idle_timeout\n    value: '300'\n",
     "t.yaml:4: $.parameters[0].value: '300' is not of type 'integer' "
     "(HARDEN-30D.ssh_idle_timeout: Seconds an idle SSH session may last before the server ends it)"),
    ("select: [HARDEN-30D]\n", "t.yaml:1: $: 'title' is a required property"),
])
def test_invalid_tailoring(library: list[Any], text: str, expected: str) -> None:
    found = problems(text, library)
    assert len(found) == 1 and found[0].startswith(expected), found


def test_a_tailored_scan_records_the_tailoring(library: list[Any], make_root: Callable[..., Path]) -> None:
    root = make_root({
        "/etc/os-release": "ID=debian\nVERSION_ID=12\n",
        "/etc/ssh/sshd_config": "ClientAliveInterval 600\n",
        "/var/lib/dpkg/status": "Package: openssh-server\nStatus: install ok installed\nVersion: 1:9.2p1-2\n\n",
    })
    tailoring = parse_tailoring((DATA / "tailoring.yaml").read_text(), "tailoring.yaml", library)
    now = dt.datetime(2026, 8, 1, tzinfo=dt.timezone.utc)
    harden = [d for d in library if d.id == "HARDEN-30D"]
    plain = Scan(RootfsHost(str(root)), harden, now=now).run()
    report = Scan(RootfsHost(str(root)), harden, now=now, tailoring=tailoring).run()
    assert validation_errors(report) == []

    def status(r: dict[str, Any], key: str) -> str | None:
        return next((x["status"] for x in r["results"] if x["key"] == key), None)

    assert status(plain, "HARDEN-30D.SSH.6") == "pass"      # 600 <= 900
    assert status(report, "HARDEN-30D.SSH.6") == "fail"     # 600 > 300
    assert status(plain, "HARDEN-30D.SSH.7") is not None and status(report, "HARDEN-30D.SSH.7") is None
    ssh6 = next(x for x in report["results"] if x["key"] == "HARDEN-30D.SSH.6")
    assert ssh6["title"] == "Idle SSH sessions are ended within 300 seconds"
    assert ssh6["evidence"][0]["expected"] == "ClientAliveInterval at least 1 and at most 300"
    recorded = report["scan"]["tailoring"]
    assert recorded["title"] == "Agency web-server profile" and recorded["digest"].startswith("sha256:")
    assert recorded["deselect"] == [{"id": "HARDEN-30D.SSH.7",
                                     "reason": "The load balancer's health checks need the default grace time."}]
    assert recorded["parameters"] == [{"id": "HARDEN-30D.ssh_idle_timeout", "value": 300, "default": 900,
                                       "reason": "Agency policy AC-12 is 5 minutes."}]

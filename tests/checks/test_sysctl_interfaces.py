"""Per-interface kernel parameters: ``all`` combined with each interface as the kernel does."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent.facts.context import Context
from agent.facts.sysctl import gather_interfaces
from agent.hosts.local import LocalHost
from checks import evaluate, needs
from checks.facts import FactKey, Facts, SysctlSetting, Unavailable
from checks.model import Status

PERSIST = FactKey("sysctl_persisted")
REDIRECTS = {"type": "sysctl", "key": "net.ipv4.conf.all.accept_redirects", "interfaces": "or", "default": 1, "equals": 0}
RP = {"type": "sysctl", "key": "net.ipv4.conf.all.rp_filter", "interfaces": "max", "default": 0, "equals": 1}
RUNNING = FactKey("sysctl_interfaces", "net/ipv4/conf/*/accept_redirects")
IMAGE = Unavailable("offline image", not_applicable=True)


def saved(*lines: tuple[str, str | None]) -> tuple[SysctlSetting, ...]:
    return tuple(SysctlSetting(k, v, "/etc/sysctl.d/60-net.conf", i + 1) for i, (k, v) in enumerate(lines))


def judge(spec: dict[str, Any], values: dict[FactKey, object]) -> Status:
    assert needs(spec) == set(values)
    return evaluate(spec, Facts(values)).status


BOTH = saved(("net.ipv4.conf.all.accept_redirects", "0"), ("net.ipv4.conf.default.accept_redirects", "0"))


@pytest.mark.parametrize(
    ("running", "persisted", "status"),
    [
        (IMAGE, BOTH, Status.PASS),
        (IMAGE, BOTH[:1], Status.FAIL),  # default keeps 1: a new interface ORs to 1
        (IMAGE, (*BOTH, *saved(("net/ipv4/conf/eth0/accept_redirects", "1"))), Status.FAIL),  # a named interface
        (IMAGE, (*BOTH, *saved(("net.ipv4.conf.en*.accept_redirects", "1"))), Status.FAIL),  # a glob reaches ens3
        (IMAGE, saved(("net.ipv4.conf.*.accept_redirects", "0")), Status.PASS),
        (IMAGE, (*saved(("net.ipv4.conf.*.accept_redirects", "0")), *saved(("net.ipv4.conf.default.accept_redirects", None))),
         Status.FAIL),  # "-key" keeps the glob off default, which keeps the kernel's 1
        ((("all", "0"), ("default", "0"), ("eth0", "1"), ("lo", "0")), BOTH, Status.FAIL),  # eth0 came up before sysctl
        ((("all", "0"), ("default", "0"), ("eth0", "0"), ("lo", "0")), BOTH, Status.PASS),
        ((("all", "0"), ("default", "0"), ("eth0", "0"), ("lo", "1")), BOTH, Status.PASS),  # only the host's own packets
        (None, BOTH, Status.NOT_APPLICABLE),
        (Unavailable("permission denied"), BOTH, Status.ERROR),
    ],
)
def test_redirects_or_rule(running: object, persisted: tuple[SysctlSetting, ...], status: Status) -> None:
    assert judge(REDIRECTS, {RUNNING: running, PERSIST: persisted}) is status


@pytest.mark.parametrize(
    ("persisted", "status"),
    [
        (saved(("net.ipv4.conf.all.rp_filter", "1")), Status.PASS),  # max(1, 0) on every interface
        (saved(("net.ipv4.conf.all.rp_filter", "1"), ("net.ipv4.conf.default.rp_filter", "2")), Status.FAIL),
        (saved(("net.ipv4.conf.default.rp_filter", "1")), Status.PASS),
        (saved(("net.ipv4.conf.*.rp_filter", "2"), ("net.ipv4.conf.all.rp_filter", "1"),
               ("net.ipv4.conf.default.rp_filter", "1")), Status.FAIL),  # the glob still sets other interfaces to 2
    ],
)
def test_rp_filter_max_rule(persisted: tuple[SysctlSetting, ...], status: Status) -> None:
    running = FactKey("sysctl_interfaces", "net/ipv4/conf/*/rp_filter")
    assert judge(RP, {running: IMAGE, PERSIST: persisted}) is status


def test_interfaces_gathered_from_this_kernel() -> None:
    pattern = "net/ipv4/conf/*/rp_filter"
    got = gather_interfaces(Context(LocalHost()), [pattern])[pattern]
    assert isinstance(got, tuple)
    names = {name for name, _ in got}
    assert {"all", "default", "lo"} <= names
    assert all(value.isdigit() for _, value in got)


def test_a_per_interface_check_must_name_the_all_parameter(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from agent.cli import main

    directive = tmp_path / "d.yaml"
    directive.write_text(
        "id: X-1\ntitle: t\nissuer: CISA\nkind: baseline\nissued: 2026-06-02\napplies_to: {os_family: [debian]}\n"
        "requirements:\n  - id: X-1.1\n    title: t\n    severity: low\n    due: {days_after_issued: 30}\n"
        "    rationale: r\n    remediation: r\n    references: {nist_800_53: [CM-7]}\n"
        "    check: {type: sysctl, key: net.ipv4.conf.default.rp_filter, interfaces: max, equals: 1}\n")
    result = CliRunner().invoke(main, ["directives", "validate", str(directive)])
    assert result.exit_code == 2
    assert f"{directive}:15: $.requirements[0].check.key: 'net.ipv4.conf.default.rp_filter' does not match" in result.output

"""Evidence a sysadmin can act on: every line says whether it satisfied the check (ok),
violated it (violation) or is context (info); a FAIL lists its violations first, a PASS what
satisfied it, and a compound check the branch that decided it."""
from __future__ import annotations

from typing import Any

import pytest

from checks import evaluate
from checks.facts import ConfigFile, ConfigSetting, FactKey, Facts, FileInfo, TextFile, TextFiles, Unavailable
from checks.model import Evidence, Status, Verdict, settle

SSHD = FactKey("config", "sshd:/etc/ssh/sshd_config")
LINES = FactKey("lines", "/etc/ssh/sshd_config")


def facts(permit: str = "no", lines: tuple[str, ...] = ("PermitRootLogin no", "MaxAuthTries 6")) -> Facts:
    conf = ConfigFile("/etc/ssh/sshd_config", "sshd", True,
                      (ConfigSetting("permitrootlogin", permit, "/etc/ssh/sshd_config", 1),), first_wins=True)
    text = TextFiles("/etc/ssh/sshd_config",
                     (TextFile("/etc/ssh/sshd_config", tuple((i + 1, t) for i, t in enumerate(lines))),))
    shadow = FileInfo("/etc/shadow", True, "file", 0o644, 0, 42, "root", "shadow")
    return Facts({SSHD: conf, LINES: text, FactKey("file", "/etc/shadow"): shadow})


PERMIT = {"type": "config", "path": "/etc/ssh/sshd_config", "dialect": "sshd", "key": "PermitRootLogin",
          "equals": "no"}


def line(regex: str) -> dict[str, Any]:
    return {"type": "lines", "path": "/etc/ssh/sshd_config", "contains": [regex]}


def seen(spec: dict[str, Any], f: Facts) -> tuple[Status, list[tuple[str, str]]]:
    outcome = evaluate(spec, f)
    return outcome.status, [(e.verdict.value, e.actual) for e in outcome.evidence]


def test_the_constructor_stays_positional_and_the_verdict_is_said_by_evaluate() -> None:
    old = Evidence("expected", "actual", "where")
    assert old.verdict is Verdict.UNSAID and old.to_json()["verdict"] == "info"
    assert settle(Status.FAIL, (old,))[0].verdict is Verdict.VIOLATION
    assert settle(Status.PASS, (old,))[0].verdict is Verdict.OK
    assert settle(Status.ERROR, (old,))[0].verdict is Verdict.INFO
    assert settle(Status.FAIL, (Evidence("", "KEV entry", "catalog"),))[0].verdict is Verdict.INFO


def test_a_fail_lists_its_violations_first() -> None:
    ok, bad = Evidence("a", "fine", "", Verdict.OK), Evidence("b", "wrong", "", Verdict.VIOLATION)
    note = Evidence("", "context", "")
    assert [e.actual for e in settle(Status.FAIL, (ok, note, bad))] == ["wrong", "fine", "context"]  # then as given
    assert [e.actual for e in settle(Status.PASS, (note, ok))] == ["fine", "context"]


def test_file_check_marks_each_attribute() -> None:
    spec = {"type": "file", "path": "/etc/shadow", "owner": "root", "max_mode": "0640"}
    assert seen(spec, facts()) == (Status.FAIL, [("violation", "mode 0644"), ("ok", "owner root")])


def test_any_that_passes_shows_the_branch_that_passed() -> None:
    spec = {"any": [line("^DenyUsers root$"), PERMIT]}
    assert seen(spec, facts()) == (Status.PASS, [("ok", "PermitRootLogin no"), ("info", "no such line")])


def test_any_that_fails_shows_every_violation() -> None:
    spec = {"any": [line("^DenyUsers root$"), PERMIT]}
    assert seen(spec, facts(permit="yes")) == (
        Status.FAIL, [("violation", "no such line"), ("violation", "PermitRootLogin yes")])


def test_none_reads_its_children_inverted() -> None:
    absent = {"none": [line("^PermitEmptyPasswords yes")]}
    assert seen(absent, facts()) == (Status.PASS, [("ok", "no such line")])
    present = {"none": [line("^MaxAuthTries"), line("^MaxSessions")]}
    assert seen(present, facts()) == (Status.FAIL, [("violation", "MaxAuthTries 6"), ("info", "no such line")])


def test_all_keeps_each_childs_verdicts() -> None:
    spec = {"all": [PERMIT, line("^MaxSessions")]}
    assert seen(spec, facts()) == (Status.FAIL, [("violation", "no such line"), ("ok", "PermitRootLogin no")])


@pytest.mark.parametrize("compound", ["any", "all", "none"])
def test_an_unknown_child_keeps_the_compound_unknown_and_its_lines_context(compound: str) -> None:
    f = Facts({SSHD: Unavailable("permission denied"), LINES: facts().get(LINES)})
    status, lines = seen({compound: [PERMIT]}, f)
    assert status is Status.ERROR and lines == [("info", "unavailable")]

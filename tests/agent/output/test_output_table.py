"""The table: evidence marked ok / violation / info, the deciding branch of a compound check
under PASS, violations first and the first lines of the remediation under FAIL, each
directive's and the host's status, and nothing from the host that a terminal would act on."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import pytest

from agent.output import FORMATS
from agent.contract import summarize

COMPOUND = Path(__file__).resolve().parents[2] / "data" / "formats" / "compound.yaml"


@pytest.fixture(autouse=True)
def width(monkeypatch: pytest.MonkeyPatch) -> None:
    """The table fits the terminal; the golden files are 120 columns wide."""
    monkeypatch.setenv("COLUMNS", "120")


@pytest.fixture
def compound_report(scan_fixture: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    return scan_fixture(directive_file=COMPOUND, waivers=None)


def rows(text: str, key: str) -> list[str]:
    """The lines of one result: its row and what is indented under it."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split()[1:2] == [key])
    block = [lines[start]]
    for line in lines[start + 1:]:
        if not line.startswith(" " * 10):
            break
        block.append(line.strip())
    return block


def test_compound_checks_show_what_decided_them(compound_report: dict[str, Any], golden: Any) -> None:
    statuses = {r["key"]: r["status"] for r in compound_report["results"]}
    assert statuses == {"COMPOUND.1": "pass", "COMPOUND.2": "pass", "COMPOUND.3": "fail"}
    text = FORMATS["table"](compound_report, False)
    # any: the branch that passed, not the alternative it did not need.
    assert rows(text, "COMPOUND.1")[1:] == [
        "ok         expected PermitRootLogin equals no; found PermitRootLogin no  [/etc/ssh/sshd_config:1]"]
    # none: the forbidden line is absent, which is what satisfies it.
    assert rows(text, "COMPOUND.2")[1:] == [
        "ok         expected a line matching ^PermitEmptyPasswords yes; found no such line  [/etc/ssh/sshd_config]"]
    # A FAIL: the violation first, the branch that decided nothing as context, then how to fix it.
    assert rows(text, "COMPOUND.3")[1:] == [
        "violation  expected a line matching ^MaxAuthTries; found MaxAuthTries 6  [/etc/ssh/sshd_config:2]",
        "info       expected a line matching ^MaxSessions; found no such line  [/etc/ssh/sshd_config]",
        "fix: Remove MaxAuthTries from /etc/ssh/sshd_config:",
        "sed -i '/^MaxAuthTries/d' /etc/ssh/sshd_config",
        "Then check the configuration:",
        "full text (continued): fedharden directives show COMPOUND",
    ]
    assert "  non compliant: 2 pass, 1 fail; score 67%" in text.splitlines()
    assert text.splitlines()[-1] == "Status: NON COMPLIANT - at least one requirement fails"
    golden("compound.txt", text)


def test_the_fixture_table(fixture_report: dict[str, Any], golden: Any) -> None:
    text = FORMATS["table"](fixture_report, False)
    assert "expected , found" not in text and "expected ; found" not in text
    assert rows(text, "FIXTURE.6")[1] == "info       found unavailable  [shadow]"  # nothing expected: no "expected"
    # The waived result keeps its violation, after the waiver that covers it.
    assert rows(text, "FIXTURE.2")[1:3] == [
        "info       expected an unexpired waiver; found waived by Jane Doe, ISSO until 2026-12-31 (POAM-2026-017):",
        "Legacy jump host needs 6 tries until the <smartcard> rollout & PIV cut-over.  [waivers.yaml:2]"]
    assert rows(text, "FIXTURE.4")[-2:] == ["fix: In /etc/ssh/sshd_config: ClientAliveInterval 900",
                                            "full text: fedharden directives show FIXTURE"]
    golden("report.txt", text)


def test_a_pass_shows_what_satisfied_it(fixture_report: dict[str, Any]) -> None:
    text = FORMATS["table"](fixture_report, False)
    assert rows(text, "FIXTURE.1")[1:] == [
        "ok         expected PermitRootLogin equals no; found PermitRootLogin no  [/etc/ssh/sshd_config:1]"]


def test_color_marks_verdicts_and_statuses(compound_report: dict[str, Any]) -> None:
    text = FORMATS["table"](compound_report, True)
    import click

    assert click.style("violation ", fg="red", bold=True) in text and click.style("ok        ", fg="green") in text
    assert "Status: " + click.style("NON COMPLIANT", fg="red", bold=True) in text


def test_when_nothing_could_be_judged_the_status_says_so(scan_fixture: Callable[..., dict[str, Any]]) -> None:
    report = scan_fixture(waivers=None)
    report["results"] = [r for r in report["results"] if r["status"] == "error"]
    report["summary"] = summarize(report["results"])
    text = FORMATS["table"](report, False)
    assert text.splitlines()[-1].startswith("Status: INCOMPLETE - nothing fails, but some requirements could not")

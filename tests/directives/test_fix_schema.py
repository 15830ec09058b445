"""`fix:` beside a requirement's check: validated per fix type like checks (file:line: $.path),
and the remediation text generated from a structured fix, never written beside one."""
from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from agent.cli import main
from checks.fixes import FIX_TYPES, describe
from directives import DirectiveError, load_file

HEAD = ("id: AGENCY-X\ntitle: Agency rules\nissuer: Agency\nkind: agency\nissued: 2026-06-02\n"
        "parameters:\n  - {id: tries, title: Tries, type: integer, default: 4, minimum: 1}\n")
REQ = """\
  - id: AGENCY-X.1
    title: Root login is disabled
    severity: high
    due: 2026-07-01
    rationale: r
    references: {nist_800_53: [AC-6(2)]}
    check: {type: config, path: /etc/ssh/sshd_config, dialect: sshd, key: PermitRootLogin, equals: "no"}
"""
FIX = "    fix: {type: sshd_option, set: {PermitRootLogin: 'no', MaxAuthTries: {param: tries}}, note: On RHEL the unit is sshd.}\n"


def load(tmp_path: Path, text: str) -> object:
    path = tmp_path / "d.yaml"
    path.write_text(HEAD + "requirements:\n" + text)
    return load_file(str(path))


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(DirectiveError) as info:
        load(tmp_path, text)
    return [p.replace(str(tmp_path / "d.yaml"), "d.yaml") for p in info.value.problems]


def test_structured_fix_generates_the_remediation(tmp_path: Path) -> None:
    directive = load(tmp_path, REQ + FIX)
    req = directive.requirements[0]  # type: ignore[attr-defined]
    assert req.fix == {"type": "sshd_option", "set": {"PermitRootLogin": "no", "MaxAuthTries": 4},
                       "note": "On RHEL the unit is sshd."}
    assert req.remediation == describe(req.fix, "AGENCY-X.1")
    assert "  PermitRootLogin no\n  MaxAuthTries 4\n" in req.remediation
    assert "Note: On RHEL the unit is sshd." in req.remediation
    assert req.parameters == ("tries",)


def test_remediation_beside_a_structured_fix_is_an_error(tmp_path: Path) -> None:
    assert problems(tmp_path, REQ + "    remediation: edit it\n" + FIX) == [
        "d.yaml:16: $.requirements[0].remediation: remove it: a requirement with a structured fix has its "
        "remediation text generated from the fix"]


def test_no_fix_needs_a_remediation_and_a_manual_fix_keeps_its_own(tmp_path: Path) -> None:
    assert problems(tmp_path, REQ) == [
        "d.yaml:9: $.requirements[0]: remediation is required (unless a structured fix: generates it)"]
    manual = REQ + "    remediation: Decide who may log in.\n    fix: {type: manual, question: Which users need root?}\n"
    req = load(tmp_path, manual).requirements[0]  # type: ignore[attr-defined]
    assert req.remediation == "Decide who may log in."
    assert req.fix == {"type": "manual", "question": "Which users need root?"}


def test_fix_parameters_are_validated_by_the_type_schema(tmp_path: Path) -> None:
    bad = REQ + "    fix:\n      all:\n        - {type: sysctl, set: {net.ipv4.ip_forward: 0}}\n" \
        "        - {type: file_mode, paths: [etc/shadow], mode: '0999'}\n        - {type: nosuch}\n"
    assert problems(tmp_path, bad) == [
        "d.yaml:19: $.requirements[0].fix.all[1].mode: '0999' does not match '^0?[0-7]{3,4}$'",
        "d.yaml:19: $.requirements[0].fix.all[1].paths[0]: 'etc/shadow' does not match '^/[^\\\\0]*$'",
        "d.yaml:20: $.requirements[0].fix.all[2].type: unknown fix type 'nosuch' (known: "
        + ", ".join(sorted(FIX_TYPES)) + "; or all)",
    ]


def test_directives_show_prints_the_generated_text_and_the_fix(tmp_path: Path) -> None:
    load(tmp_path, REQ + FIX)
    out = CliRunner().invoke(main, ["directives", "show", "AGENCY-X", "--directives", str(tmp_path / "d.yaml")])
    assert out.exit_code == 0, out.output
    assert "    Set in /etc/ssh/sshd_config.d/00-fedharden.conf" in out.output
    assert "  fix: sshd_option (disruptive)" in out.output


def test_a_manual_part_inside_all_is_refused(tmp_path: Path) -> None:
    text = REQ + "    remediation: m\n    fix: {all: [{type: sysctl, set: {a.b: 1}}, {type: manual, question: q}]}\n"
    assert problems(tmp_path, text) == [
        "d.yaml:17: $.requirements[0].fix.all[1]: a manual fix stands alone (fix: {type: manual, question: ...}), "
        "never as a part of an all",
        "d.yaml:16: $.requirements[0].remediation: remove it: a requirement with a structured fix has its "
        "remediation text generated from the fix"]

"""Tunable parameters declared by a directive: {param: ID} in checks, {{ID}} in text."""
from __future__ import annotations

import pytest

from directives import DirectiveError, load_library
from directives.loader import parse

HEAD = """id: AGENCY-X
title: Agency baseline
issuer: Agency X
kind: agency
issued: 2026-06-01
parameters:
  - id: idle_timeout
    title: Seconds an idle session may last
    type: integer
    default: 600
    minimum: 60
    maximum: 3600
requirements:
  - id: AGENCY-X.1
    title: Idle sessions end within {{idle_timeout}} seconds
    severity: medium
    due: 2026-09-01
    rationale: Unattended sessions are open doors.
    remediation: "ClientAliveInterval {{ idle_timeout }}"
    references: {nist_800_53: [AC-12]}
"""
CHECK = ("    check: {type: config, path: /etc/ssh/sshd_config, dialect: sshd, key: ClientAliveInterval, "
         "default: 0, at_least: 1, at_most: %s}\n")


def problems(text: str) -> list[str]:
    with pytest.raises(DirectiveError) as exc:
        parse(text, "d.yaml")
    return exc.value.problems


def test_defaults_are_substituted_and_the_template_kept() -> None:
    d = parse(HEAD + CHECK % "{param: idle_timeout}", "d.yaml")
    (r,) = d.requirements
    assert r.check["at_most"] == 600
    assert r.title == "Idle sessions end within 600 seconds" and r.remediation == "ClientAliveInterval 600"
    assert r.parameters == ("idle_timeout",)
    assert r.template is not None and r.template["check"]["at_most"] == {"param": "idle_timeout"}
    (p,) = d.parameters
    assert (p.id, p.type, p.default, dict(p.bounds)) == ("idle_timeout", "integer", 600, {"minimum": 60, "maximum": 3600})


def test_a_requirement_without_parameters_keeps_no_template() -> None:
    (r,) = parse(HEAD.replace("{{idle_timeout}}", "600").replace("{{ idle_timeout }}", "600") + CHECK % "600",
                 "d.yaml").requirements
    assert r.parameters == () and r.template is None


def test_unknown_references_are_problems_at_their_line() -> None:
    assert problems(HEAD + CHECK % "{param: idle_timeot}") == [
        "d.yaml:21: $.requirements[0].check.at_most.param: unknown parameter 'idle_timeot' (parameters: idle_timeout)"]
    text = HEAD.replace("within {{idle_timeout}}", "within {{timeout}}") + CHECK % "{param: idle_timeout}"
    assert problems(text) == [
        "d.yaml:15: $.requirements[0].title: unknown parameter {{timeout}} (parameters: idle_timeout)"]


def test_a_default_outside_its_bounds_is_a_problem() -> None:
    assert problems(HEAD.replace("default: 600", "default: 30") + CHECK % "{param: idle_timeout}") == [
        "d.yaml:10: $.parameters[0].default: 30 is less than the minimum of 60"]


def test_the_substituted_value_is_checked_against_the_check_type() -> None:
    text = HEAD.replace("type: integer", "type: string").replace("default: 600", "default: soon").replace(
        "    minimum: 60\n    maximum: 3600\n", "") + CHECK % "{param: idle_timeout}"
    assert problems(text) == ["d.yaml:19: $.requirements[0].check.at_most: 'soon' is not of type 'integer'"]


def test_the_shipped_idle_timeout_is_tunable() -> None:
    harden = next(d for d in load_library() if d.id == "HARDEN-30D")
    assert harden.parameter("ssh_idle_timeout") is not None
    ssh6 = next(r for r in harden.requirements if r.id == "HARDEN-30D.SSH.6")
    assert ssh6.check["all"][0]["at_most"] == 900 and "900 seconds" in ssh6.title

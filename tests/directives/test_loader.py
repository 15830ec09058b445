"""Directive validation: every problem on its own line as file:line: $.json.path: message."""
from __future__ import annotations

from pathlib import Path

import pytest

from directives import DirectiveError, library_paths, load_file, load_library, load_paths

HEAD = "id: AGENCY-X\ntitle: Agency rules\nissuer: Agency\nkind: agency\nissued: 2026-06-02\n"
GOOD_REQ = """\
  - id: AGENCY-X.1
    title: Root login is disabled
    severity: high
    due: 2026-07-01
    rationale: r
    remediation: m
    references: {nist_800_53: [AC-6(2)]}
    check: {type: config, path: /etc/ssh/sshd_config, dialect: sshd, key: PermitRootLogin, equals: "no"}
"""


def problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "d.yaml"
    path.write_text(text)
    with pytest.raises(DirectiveError) as info:
        load_file(str(path))
    return [p.replace(str(path), "d.yaml") for p in info.value.problems]


def test_shipped_library_is_valid() -> None:
    loaded = load_library()
    assert {d.id for d in loaded} >= {"BOD-23-02", "HARDEN-30D"}
    assert len(library_paths()) == len(loaded)
    assert all(d.digest.startswith("sha256:") for d in loaded)


def test_good_file_loads_with_due_dates(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text(HEAD + "requirements:\n" + GOOD_REQ + GOOD_REQ.replace("X.1", "X.2").replace(
        "due: 2026-07-01", "due: {days_after_issued: 10}"))
    directive = load_file(str(path))
    assert [str(r.due_date()) for r in directive.requirements] == ["2026-07-01", "2026-06-12"]


def test_duplicate_key_is_an_error_not_an_overwrite(tmp_path: Path) -> None:
    text = HEAD + "requirements:\n" + GOOD_REQ.replace("    severity: high\n", "    severity: high\n    severity: low\n")
    assert problems(tmp_path, text) == ["d.yaml:10: $.requirements[0].severity: duplicate key 'severity' (first at line 9)"]


def test_schema_and_check_parameter_errors_name_line_and_path(tmp_path: Path) -> None:
    text = HEAD + "requirements:\n" + GOOD_REQ.replace("severity: high", "severity: urgent").replace(
        "key: PermitRootLogin,", "key: PermitRootLogin, equal: x,")
    assert problems(tmp_path, text) == [
        "d.yaml:9: $.requirements[0].severity: 'urgent' is not one of ['critical', 'high', 'medium', 'low']",
        "d.yaml:14: $.requirements[0].check: Additional properties are not allowed ('equal' was unexpected)",
    ]


def test_unknown_check_type_and_nested_compound(tmp_path: Path) -> None:
    req = GOOD_REQ.replace(
        "    check: {type: config, path: /etc/ssh/sshd_config, dialect: sshd, key: PermitRootLogin, equals: \"no\"}\n",
        "    check:\n      all:\n        - {type: registry, key: x}\n        - {type: file, path: relative}\n")
    assert problems(tmp_path, HEAD + "requirements:\n" + req) == [
        "d.yaml:16: $.requirements[0].check.all[0].type: unknown check type 'registry' (known: accounts, audit_rules, config, "
        "end_of_support, file, fswalk, kernel_cmdline, kernel_module, kev, lines, listening, mount, nftables, package, scan_cadence, service, "
        "sysctl, tls; or all/any/none)",
        "d.yaml:17: $.requirements[0].check.all[1].path: 'relative' does not match '^/'",
    ]


def test_requirement_ids_unique_and_prefixed(tmp_path: Path) -> None:
    text = HEAD + "requirements:\n" + GOOD_REQ + GOOD_REQ.replace("AGENCY-X.1", "OTHER.1") + GOOD_REQ
    assert problems(tmp_path, text) == [
        "d.yaml:15: $.requirements[1].id: requirement id OTHER.1 must start with AGENCY-X.",
        "d.yaml:23: $.requirements[2].id: duplicate requirement id AGENCY-X.1 (also requirements[0])",
    ]


def test_broken_yaml_and_bytes(tmp_path: Path) -> None:
    assert problems(tmp_path, HEAD + "requirements: [\n") [0].startswith("d.yaml:7: $: invalid YAML:")
    path = tmp_path / "bin.yaml"
    path.write_bytes(b"id: \xff\n")
    with pytest.raises(DirectiveError) as info:
        load_file(str(path))
    assert info.value.problems == [f"{path}:1: $: not UTF-8 text (invalid start byte at byte 4)"]
    with pytest.raises(DirectiveError) as info:
        load_file(str(tmp_path / "absent.yaml"))
    assert info.value.problems == [f"{tmp_path / 'absent.yaml'}: cannot read: No such file or directory"]


def test_ids_unique_across_files(tmp_path: Path) -> None:
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    a.write_text(HEAD + "requirements:\n" + GOOD_REQ)
    b.write_text(HEAD + "requirements:\n" + GOOD_REQ)
    with pytest.raises(DirectiveError) as info:
        load_paths([str(a), str(b)])
    assert f"{b}:1: $.id: id AGENCY-X is already used by {a}" in info.value.problems

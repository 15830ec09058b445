"""Directive validation: every problem on its own line as file:line: $.json.path: message."""
from __future__ import annotations

from pathlib import Path

import pytest

from checks.registry import CHECK_TYPES, COMPOUND_KEYS
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


def test_a_declared_version_is_loaded_and_named_in_reports(tmp_path: Path) -> None:
    from agent.scan import directive_ref

    path = tmp_path / "v.yaml"
    path.write_text(HEAD + "version: 2\nrequirements:\n" + GOOD_REQ)
    directive = load_file(str(path))
    assert directive.version == "2" and directive_ref(directive)["version"] == "2"
    path.write_text(HEAD + "requirements:\n" + GOOD_REQ)
    assert "version" not in directive_ref(load_file(str(path)))
    assert problems(tmp_path, HEAD + "version: 'two words'\nrequirements:\n" + GOOD_REQ)[0].startswith(
        "d.yaml:6: $.version:")


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
        "d.yaml:16: $.requirements[0].check.all[0].type: unknown check type 'registry' (known: "
        f"{', '.join(sorted(n for n in CHECK_TYPES if n not in COMPOUND_KEYS))}; or all/any/none)",
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


def folder(tmp_path: Path, sections: dict[str, str], listed: list[str] | None = None) -> Path:
    """A directive folder: directive.yaml listing ``listed`` (default: the sections given)."""
    root = tmp_path / "agency-x"
    root.mkdir()
    stems = list(sections) if listed is None else listed
    (root / "directive.yaml").write_text(HEAD + "sections:\n" + "".join(f"  - {s}\n" for s in stems))
    for stem, body in sections.items():
        (root / f"{stem}.yaml").write_text(f"# section {stem}\nrequirements:\n" + body)
    return root


def folder_problems(path: Path, root: Path) -> list[str]:
    with pytest.raises(DirectiveError) as info:
        load_file(str(path))
    return [p.replace(str(root) + "/", "") for p in info.value.problems]


def test_a_folder_is_one_directive_in_section_order(tmp_path: Path) -> None:
    root = folder(tmp_path, {"b": GOOD_REQ.replace("X.1", "X.2"), "a": GOOD_REQ})
    directive = load_file(str(root))
    assert (directive.id, [r.id for r in directive.requirements]) == ("AGENCY-X", ["AGENCY-X.2", "AGENCY-X.1"])
    assert load_file(str(root / "directive.yaml")).digest == directive.digest
    # the digest covers the whole folder: reordering the sections changes it
    (root / "directive.yaml").write_text(HEAD + "sections:\n  - a\n  - b\n")
    assert load_file(str(root)).digest != directive.digest


def test_folder_files_and_sections_agree(tmp_path: Path) -> None:
    root = folder(tmp_path, {"a": GOOD_REQ, "stray": GOOD_REQ.replace("X.1", "X.2")}, listed=["a", "gone"])
    assert folder_problems(root, tmp_path) == [
        "agency-x/stray.yaml: not a section of agency-x/directive.yaml (list its stem in sections: or remove it)",
        "agency-x/directive.yaml:8: $.sections[1]: section file agency-x/gone.yaml does not exist",
    ]
    (root / "directive.yaml").write_text(HEAD + "sections:\n  - a\n  - ../a\n  - a\n")
    assert folder_problems(root, tmp_path) == [
        "agency-x/directive.yaml:8: $.sections[1]: '../a' is not a section stem (lower-case letters, digits, '-' and '_')",
        "agency-x/directive.yaml:9: $.sections[2]: section a is listed twice",
    ]


def test_section_problems_name_their_file_and_line(tmp_path: Path) -> None:
    root = folder(tmp_path, {"a": GOOD_REQ, "b": GOOD_REQ.replace("severity: high", "severity: urgent").replace("X.1", "X.2") + GOOD_REQ})
    assert folder_problems(root, tmp_path) == [
        "agency-x/b.yaml:5: $.requirements[0].severity: 'urgent' is not one of ['critical', 'high', 'medium', 'low']",
        "agency-x/b.yaml:11: $.requirements[1].id: duplicate requirement id AGENCY-X.1 (also agency-x/a.yaml:3)",
    ]
    (root / "b.yaml").write_text("requirements: [\n")
    assert folder_problems(root, tmp_path)[0].startswith("agency-x/b.yaml:2: $: invalid YAML:")
    (root / "b.yaml").write_text("id: AGENCY-X\nrequirements:\n" + GOOD_REQ.replace("X.1", "X.2"))
    assert folder_problems(root, tmp_path) == ["agency-x/b.yaml:1: $: Additional properties are not allowed ('id' was unexpected)"]


def test_a_section_file_alone_is_not_a_directive(tmp_path: Path) -> None:
    root = folder(tmp_path, {"a": GOOD_REQ})
    assert folder_problems(root / "a.yaml", tmp_path) == ["agency-x/a.yaml: a section of the directive folder agency-x; load the folder"]
    (root / "directive.yaml").write_text(HEAD + "sections: [a]\nrequirements:\n" + GOOD_REQ)
    assert folder_problems(root, tmp_path)[0] == (
        "agency-x/directive.yaml:8: $.requirements: a directive folder keeps its requirements in section files (list them in sections:)")


def test_sections_only_in_a_folder(tmp_path: Path) -> None:
    assert problems(tmp_path, HEAD + "sections: [a]\nrequirements:\n" + GOOD_REQ) == [
        "d.yaml:6: $.sections: sections belong in a directive folder's directive.yaml (this file holds requirements)"]


def test_directories_hold_files_and_folders(tmp_path: Path) -> None:
    from directives.loader import directory_files

    root = folder(tmp_path, {"a": GOOD_REQ})
    (tmp_path / "other.yaml").write_text(HEAD.replace("AGENCY-X", "AGENCY-Y") + "requirements:\n"
                                         + GOOD_REQ.replace("AGENCY-X", "AGENCY-Y"))
    (tmp_path / "notes").mkdir()
    assert directory_files(str(tmp_path)) == [str(root), str(tmp_path / "other.yaml")]
    assert directory_files(str(root)) == [str(root)]
    assert [d.id for d in load_paths(directory_files(str(tmp_path)))] == ["AGENCY-X", "AGENCY-Y"]

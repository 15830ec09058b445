"""Every shipped requirement says how to fix it (issue 21): a structured fix, whose remediation
text is generated from it, or a manual fix with the question a person must answer."""
from __future__ import annotations

import os
from typing import Any, Iterator

from checks.fixes import FIX_TYPES, is_manual, parts
from directives import load_library
from directives.loader import HEADER, library_paths
from directives.yamldoc import YamlDoc, read_text


def written_requirements() -> Iterator[tuple[str, dict[str, Any]]]:
    """(file, requirement) as written in every shipped file, before the loader touches it."""
    for path in library_paths():
        files = [path] if not os.path.isdir(path) else \
            [os.path.join(path, name) for name in sorted(os.listdir(path)) if name.endswith(".yaml") and name != HEADER]
        for name in files:
            for req in YamlDoc(read_text(name), name).data["requirements"]:
                yield name, req


def test_every_shipped_requirement_has_a_fix_or_a_question() -> None:
    requirements = [r for d in load_library() for r in d.requirements]
    assert len(requirements) >= 279
    missing = [r.id for r in requirements if not r.fix]
    assert not missing, f"requirements without a fix: {missing}"
    for r in requirements:
        assert r.fix is not None
        for part in parts(r.fix):
            assert part.get("type") in FIX_TYPES, (r.id, part)
            if part["type"] == "manual":
                assert str(part.get("question", "")).strip(), f"{r.id}: a manual fix needs its question"
        if is_manual(r.fix):
            assert r.remediation.strip(), f"{r.id}: a manual fix keeps its written remediation"


def test_a_structured_fix_has_no_written_remediation() -> None:
    seen = 0
    for name, req in written_requirements():
        seen += 1
        assert "fix" in req, f"{name}: {req['id']} has no fix:"
        if is_manual(req["fix"]):
            assert req.get("remediation", "").strip(), f"{name}: {req['id']}: fix: manual keeps remediation:"
        else:
            assert "remediation" not in req, f"{name}: {req['id']}: the remediation of a structured fix is generated"
    assert seen == len([r for d in load_library() for r in d.requirements])


def test_a_manual_fix_stands_alone() -> None:
    """A manual part inside an `all` of structured ones would be applied as if nothing were left
    to decide; a requirement is either fixed by the data or asks its question."""
    for name, req in written_requirements():
        kinds = {p["type"] == "manual" for p in parts(req["fix"])}
        assert len(kinds) == 1, f"{name}: {req['id']} mixes manual and structured fixes"


def test_generated_remediation_names_every_part() -> None:
    """The text a person reads comes from the fix: each part's description and note is in it."""
    for d in load_library():
        for r in d.requirements:
            assert r.fix is not None
            if is_manual(r.fix):
                continue
            for part in parts(r.fix):
                assert FIX_TYPES[part["type"]].describe(part) in r.remediation, r.id
                if part.get("note"):
                    assert part["note"] in r.remediation, r.id
                    assert "\n" not in part["note"], f"{r.id}: a note is one line"

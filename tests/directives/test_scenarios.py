"""Every shipped requirement against its pass and fail scenarios (tests/directives/scenarios)."""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Iterator, Mapping

import pytest

from directives import load_library
from tests.directives import scenario

LIBRARY = {r.id: (d, r) for d in load_library() for r in d.requirements}
SCENARIOS = scenario.load_scenarios()
CASES = [(rid, name) for rid, named in sorted(SCENARIOS.items()) for name in named]


@pytest.fixture
def servers() -> Iterator[Any]:
    with contextlib.ExitStack() as stack:

        def start(runtime: Mapping[str, Any]) -> Mapping[int, int]:
            specs = runtime.get("servers", {})
            if not specs:
                return {}
            from tests.directives import servers as real

            return {int(port): stack.enter_context(real.serve(kind)) for port, kind in specs.items()}

        yield start


@pytest.mark.parametrize(("rid", "name"), CASES, ids=[f"{r}:{n}" for r, n in CASES])
def test_scenario(rid: str, name: str, tmp_path: Path, servers: Any) -> None:
    assert rid in LIBRARY, f"scenario for unknown requirement {rid}"
    directive, requirement = LIBRARY[rid]
    results = scenario.run(directive, requirement, SCENARIOS[rid][name], tmp_path, servers)
    assert {r["requirement"] for r in results} == {rid}
    detail = [(r["key"], r["status"], r["message"], [e["actual"] for e in r["evidence"]]) for r in results]
    assert scenario.worst([r["status"] for r in results]) == scenario.expectation(name), detail


def test_scenario_files_mirror_directive_folders() -> None:
    """A directive folder's scenarios live in a folder of the same name, one file per section,
    each holding the scenarios of exactly that section's requirements."""
    from directives.loader import HEADER, library_paths
    from directives.yamldoc import YamlDoc, read_text

    folders = [Path(p) for p in library_paths() if Path(p).is_dir()]
    assert folders
    for folder in folders:
        sections = YamlDoc(read_text(str(folder / HEADER)), HEADER).data["sections"]
        mirror = scenario.HERE / folder.name
        assert sorted(p.stem for p in mirror.glob("*.yaml")) == sorted(sections), mirror
        for stem in sections:
            part = YamlDoc(read_text(str(folder / f"{stem}.yaml")), stem).data
            assert set(scenario.load_file(mirror / f"{stem}.yaml")) == {r["id"] for r in part["requirements"]}, stem

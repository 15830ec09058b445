"""The shipped profiles (directives/profiles/*.yaml): tailoring files selecting the requirements
that cite a rule of a CIS Debian 12 level's controls. `python -m directives` writes them from the
library and the shipped mapping, and tests/directives/test_profiles.py holds them to it, so a
profile always says what the library covers. A profile is an ordinary tailoring file
(directives/tailoring.py): `fedharden scan --profile NAME` uses a shipped one, and an agency
copies one, edits it, and passes the copy (`--profile FILE` or `--tailoring FILE`)."""
from __future__ import annotations

import os
from typing import Sequence

from directives.controls import benchmark
from directives.coverage import citations
from directives.model import Directive
from directives.packaged import packaged

# profile name -> (benchmark, level, title)
PROFILES: dict[str, tuple[str, str, str]] = {
    "cis-l1-server": ("cis-debian12", "l1_server", "CIS Debian 12 Level 1 - Server"),
    "cis-l2-server": ("cis-debian12", "l2_server", "CIS Debian 12 Level 2 - Server"),
    "cis-l1-workstation": ("cis-debian12", "l1_workstation", "CIS Debian 12 Level 1 - Workstation"),
    "cis-l2-workstation": ("cis-debian12", "l2_workstation", "CIS Debian 12 Level 2 - Workstation"),
}
FOLDER = "profiles"


def selected(name: str, directives: Sequence[Directive]) -> list[str]:
    """Requirement ids, in library order, citing a rule of one of the profile's controls."""
    bench_name, level, _ = PROFILES[name]
    rules = {rule for control in benchmark(bench_name).at(level) for rule in control.rules}
    cited = citations(directives)
    wanted = {r.id for rule in rules for r in cited.get(rule, [])}
    return [r.id for d in directives for r in d.requirements if r.id in wanted]


def render(name: str, directives: Sequence[Directive]) -> str:
    bench_name, level, title = PROFILES[name]
    bench = benchmark(bench_name)
    ids = selected(name, directives)
    lines = [
        f"# {title}: the requirements that check a rule of a {bench.title} {bench.version}",
        f"# {level} control (levels it includes: {', '.join(sorted(bench.closure(level)))}), as the shipped mapping",
        f"# directives/data/{bench.id}.yml gives them. Written by `python -m directives`; do not edit it here:",
        "# copy it, edit the copy (deselect with a reason, set parameters) and scan with --profile FILE.",
        f"title: {title}",
        f"description: Requirements mapped to {bench.title} {bench.version} {level} "
        f"(fedharden directives coverage --against {bench_name}:{level}).",
        f'version: "{bench.id} {bench.version}"',
        "select:",
        *(f"  - {rid}" for rid in ids),
    ]
    return "\n".join(lines) + "\n"


def folder() -> str:
    return packaged(FOLDER)


def path_of(name: str) -> str:
    return os.path.join(folder(), f"{name}.yaml")


def write(directives: Sequence[Directive]) -> list[str]:
    """Rewrite every shipped profile from the library; the paths written."""
    os.makedirs(folder(), exist_ok=True)
    written = []
    for name in PROFILES:
        with open(path_of(name), "w", encoding="utf-8") as fh:
            fh.write(render(name, directives))
        written.append(path_of(name))
    return written

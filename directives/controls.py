"""Benchmarks shipped as control mappings (directives/data/cis_debian12.yml,
directives/data/stig_ubuntu2204.yml): each control's id, levels, status and the ComplianceAsCode
rules that implement it, with the STIG ids STIG Viewer shows for a STIG control. Stripped copies
of ComplianceAsCode's control files; their headers give provenance and license."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from directives.errors import DirectiveError
from directives.packaged import packaged
from directives.yamldoc import YamlDoc

# --against names: a benchmark, and whether a level must be named
BENCHMARKS = {"cis-debian12": "cis_debian12.yml", "stig-ubuntu2204": "stig_ubuntu2204.yml"}


@dataclass(frozen=True)
class Control:
    id: str
    levels: tuple[str, ...]
    status: str  # ComplianceAsCode's: automated, manual, partial, ...
    rules: tuple[str, ...]  # rule ids to check; entries with '=' are variables and are left out
    variables: tuple[str, ...] = ()  # var_x=value entries the mapping sets for those rules
    # STIG controls only: the DISA ids STIG Viewer shows
    group: str = ""  # V-260469
    rule: str = ""  # SV-260469r991589_rule
    srg: str = ""  # SRG-OS-000480-GPOS-00227
    ccis: tuple[str, ...] = ()


@dataclass(frozen=True)
class Benchmark:
    name: str  # as --against names it: cis-debian12
    id: str  # ComplianceAsCode's: cis_debian12
    title: str
    version: str
    inherits: dict[str, tuple[str, ...]]  # level -> the levels it includes
    controls: tuple[Control, ...]
    commit: str

    def levels(self) -> list[str]:
        return list(self.inherits)

    def closure(self, level: str) -> set[str]:
        """The level and every level it inherits (l2_server -> l2_server, l1_server)."""
        out, todo = set(), [level]
        while todo:
            current = todo.pop()
            if current not in out:
                out.add(current)
                todo.extend(self.inherits.get(current, ()))
        return out

    def at(self, level: str | None) -> list[Control]:
        """The controls of a level (with those it inherits); every control for None."""
        if level is None:
            return list(self.controls)
        wanted = self.closure(level)
        return [c for c in self.controls if wanted & set(c.levels)]


@lru_cache(maxsize=None)
def benchmark(name: str) -> Benchmark:
    """A shipped benchmark by its --against name; KeyError for an unknown one."""
    file = f"data/{BENCHMARKS[name]}"
    doc = YamlDoc(Path(packaged(file)).read_text(), f"directives/{file}")
    doc.raise_problems()
    data = doc.data
    try:
        return Benchmark(
            name=name, id=data["benchmark"]["id"], title=data["benchmark"]["name"],
            version=str(data["benchmark"]["version"]),
            inherits={level: tuple(parents) for level, parents in data["levels"].items()},
            controls=tuple(_control(c) for c in data["controls"]), commit=data["source"]["commit"],
        )
    except (KeyError, TypeError) as exc:  # shipped data: a packaging bug, said plainly
        raise DirectiveError([f"directives/{file}:1: $: not a control mapping ({exc!r} missing or malformed)"]) from None


def _control(raw: dict[str, Any]) -> Control:
    entries = [str(r) for r in raw["rules"]]
    return Control(
        id=str(raw["id"]), levels=tuple(raw["levels"]), status=raw["status"],
        rules=tuple(r for r in entries if "=" not in r), variables=tuple(r for r in entries if "=" in r),
        group=raw.get("group", ""), rule=raw.get("rule", ""), srg=raw.get("srg", ""), ccis=tuple(raw.get("ccis", ())),
    )


def parse_against(value: str) -> tuple[Benchmark, str | None]:
    """``cis-debian12:l1_server`` or ``stig-ubuntu2204`` -> (benchmark, level); ValueError with
    the one line a user needs otherwise."""
    name, _, level = value.partition(":")
    if name not in BENCHMARKS:
        raise ValueError(f"unknown benchmark {name!r} (known: {', '.join(choices())})")
    bench = benchmark(name)
    if not level:
        if name.startswith("cis-"):
            raise ValueError(f"{name} needs a level: {', '.join(f'{name}:{lv}' for lv in bench.levels())}")
        return bench, None
    if level not in bench.inherits:
        raise ValueError(f"{name} has no level {level!r} (levels: {', '.join(bench.levels())})")
    return bench, level


def choices() -> list[str]:
    """Every accepted --against value."""
    out = []
    for name in BENCHMARKS:
        levels = benchmark(name).levels()
        out.extend([f"{name}:{lv}" for lv in levels] if name.startswith("cis-") else [name])
    return out

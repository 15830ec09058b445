"""How far the loaded directives cover a benchmark level, control by control.

A requirement covers a ComplianceAsCode rule when it cites the rule in ``references.ssg`` (and
a requirement cites only rules it really checks: tests/directives/test_coverage.py). A
control's mapped rules are those of the shipped mapping (directives/controls.py), variables
(``var_x=value``) left out. Each control is:

- ``covered``: every mapped rule is cited by a requirement that judges it automatically;
- ``manual``: the benchmark marks the control manual, or every mapped rule is cited but some
  only by manual requirements (only a person's answer to a check of type ``manual`` can make
  them pass), so the answer is a person's;
- ``partly covered``: some mapped rules are cited, the rest are listed as missing;
- ``not covered``: no mapped rule is cited.

A control the mapping gives no rule (ComplianceAsCode implements two CIS L1 controls through
another control) has nothing left to check: it counts as covered, shown as mapping no rule.
The headline figure, ``fully covered``, counts the controls of status ``automated`` whose every
mapped rule is cited (covered, or manual through manual requirements): the figure the shipped
profiles' coverage table and tests/directives/test_profiles.py pin.
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from directives.controls import Benchmark, Control
from directives.model import Directive, Requirement

COVERED, MANUAL, PARTLY, NOT_COVERED = "covered", "manual", "partly covered", "not covered"
STATUSES = (COVERED, MANUAL, PARTLY, NOT_COVERED)
MANUAL_CHECK_TYPES = frozenset({"manual"})  # check types that only ask a human


@dataclass(frozen=True)
class ControlCoverage:
    control: Control
    status: str
    covered_by: Mapping[str, tuple[str, ...]]  # rule -> requirement ids citing it
    missing: tuple[str, ...]  # mapped rules no requirement cites

    @property
    def requirements(self) -> list[str]:
        seen: dict[str, None] = {}
        for ids in self.covered_by.values():
            seen.update(dict.fromkeys(ids))
        return list(seen)

    @property
    def fully_covered(self) -> bool:
        return self.control.status == "automated" and not self.missing


@dataclass(frozen=True)
class Coverage:
    benchmark: Benchmark
    level: str | None
    controls: tuple[ControlCoverage, ...]
    totals: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "benchmark": {"name": self.benchmark.name, "id": self.benchmark.id, "title": self.benchmark.title,
                          "version": self.benchmark.version, "mapping_commit": self.benchmark.commit},
            "level": self.level,
            "levels": sorted(self.benchmark.closure(self.level)) if self.level else self.benchmark.levels(),
            "controls": [{"id": c.control.id, "control_status": c.control.status, "status": c.status,
                          "rules": list(c.control.rules), "requirements": c.requirements,
                          "covered_by": {rule: list(ids) for rule, ids in c.covered_by.items()},
                          "missing": list(c.missing)}
                         for c in self.controls],
            "totals": self.totals,
        }


def is_manual(requirement: Requirement) -> bool:
    """Whether only a person can make the requirement pass: its check asks a question
    (type ``manual``) on every way it could pass."""
    return not _can_pass_unasked(requirement.check)


def _can_pass_unasked(spec: Any) -> bool:
    """Whether the check can pass with no manual check answering (checks/compound.py: ``all``
    and ``none`` pass only when every child is decided, ``any`` when one child passes)."""
    if not isinstance(spec, Mapping):
        return True
    if "any" in spec:
        return any(_can_pass_unasked(child) for child in spec["any"])
    for key in ("all", "none"):
        if key in spec:
            return all(_can_pass_unasked(child) for child in spec[key])
    return spec.get("type") not in MANUAL_CHECK_TYPES


def citations(directives: Sequence[Directive]) -> dict[str, list[Requirement]]:
    """ComplianceAsCode rule -> the requirements citing it, in library order."""
    out: dict[str, list[Requirement]] = {}
    for directive in directives:
        for requirement in directive.requirements:
            for rule in requirement.references.get("ssg", []):
                out.setdefault(rule, []).append(requirement)
    return out


def judge(control: Control, cited: Mapping[str, list[Requirement]]) -> ControlCoverage:
    covered_by = {rule: tuple(r.id for r in cited[rule]) for rule in control.rules if rule in cited}
    missing = tuple(rule for rule in control.rules if rule not in cited)
    only_manual = any(all(is_manual(r) for r in cited[rule]) for rule in covered_by)
    if control.status == "manual":
        status = MANUAL
    elif not missing:
        status = MANUAL if only_manual else COVERED
    elif covered_by:
        status = PARTLY
    else:
        status = NOT_COVERED
    return ControlCoverage(control, status, covered_by, missing)


def coverage(benchmark: Benchmark, level: str | None, directives: Sequence[Directive]) -> Coverage:
    cited = citations(directives)
    controls = tuple(judge(c, cited) for c in benchmark.at(level))
    totals = {
        "controls": len(controls),
        "automated": sum(1 for c in controls if c.control.status == "automated"),
        "fully_covered": sum(1 for c in controls if c.fully_covered),
        **{status.replace(" ", "_"): sum(1 for c in controls if c.status == status) for status in STATUSES},
        "rules": len({rule for c in controls for rule in c.control.rules}),
        "rules_cited": len({rule for c in controls for rule in c.covered_by}),
    }
    return Coverage(benchmark, level, controls, totals)


def headline(result: Coverage) -> str:
    t = result.totals
    name = result.benchmark.name + (f":{result.level}" if result.level else "")
    share = f" ({100 * t['fully_covered'] / t['automated']:.0f}%)" if t["automated"] else ""
    return (f"{name}: {t['fully_covered']} of {t['automated']} automated controls fully covered{share}; "
            f"{t['controls']} controls: {t['covered']} covered, {t['manual']} manual, {t['partly_covered']} partly "
            f"covered, {t['not_covered']} not covered; {t['rules_cited']} of {t['rules']} mapped rules cited")


def render_table(result: Coverage) -> str:
    b = result.benchmark
    lines = [f"{b.title} {b.version}" + (f", level {result.level}" if result.level else "")
             + f" (mapping: ComplianceAsCode {b.commit[:12]})", ""]
    width = max([len(c.control.id) for c in result.controls] + [7])
    lines.append(f"{'control':<{width}}  {'status':<14}  requirements / missing rules")
    for c in result.controls:
        detail = ", ".join(c.requirements)
        if c.missing:
            detail = (detail + "; " if detail else "") + "missing: " + ", ".join(c.missing)
        if c.control.status == "manual" and not detail:
            detail = "(manual in the benchmark)"
        elif not c.control.rules:
            detail = "(the mapping gives no rule)"
        lines.append(f"{c.control.id:<{width}}  {c.status:<14}  {detail}".rstrip())
    lines += ["", headline(result)]
    return "\n".join(lines) + "\n"


def render_json(result: Coverage) -> str:
    return json.dumps(result.to_json(), indent=2) + "\n"


def render_csv(result: Coverage) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["control", "control_status", "status", "requirements", "missing_rules", "rules"])
    for c in result.controls:
        writer.writerow([c.control.id, c.control.status, c.status, " ".join(c.requirements), " ".join(c.missing),
                         " ".join(c.control.rules)])
    return out.getvalue()


RENDERERS = {"table": render_table, "json": render_json, "csv": render_csv}

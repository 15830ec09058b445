"""Coverage of the shipped library by scenarios and references; docs/directives.md quotes it.

Every requirement must have a pass and a fail scenario. The figures (scenarios, ssg, cis and
stig references, structured and manual fixes) are computed here and must match the table in the docs;
on a mismatch the assertion message is the table to paste. Every cis and stig id in the
library must be one that directives/data/ssg_references.yaml records for a ComplianceAsCode
rule the requirement cites, and every ssg id a real rule of ComplianceAsCode
(directives/data/ssg_rules.txt).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable

import yaml

from checks.fixes import is_manual
from directives import load_library
from directives.model import Requirement
from tests.directives import scenario

DOC = Path(__file__).resolve().parents[2] / "docs" / "directives.md"
SSG_REFERENCES = Path(__file__).resolve().parents[2] / "directives" / "data" / "ssg_references.yaml"
SSG_RULES = SSG_REFERENCES.with_name("ssg_rules.txt")
BEGIN, END = "<!-- coverage:begin -->", "<!-- coverage:end -->"


def asks(check: object) -> bool:
    """Whether a check spec holds a ``manual`` part: at best it is manual, never pass."""
    if isinstance(check, dict):
        return check.get("type") == "manual" or any(asks(c) for k in ("all", "any", "none") for c in check.get(k, ()))
    return False


def judged_both_ways(requirement: Requirement, names: Iterable[str]) -> bool:
    """A pass and a fail scenario; for a requirement with a question for a person, its best
    outcome (manual) and a fail."""
    best = "manual" if asks(requirement.check) else "pass"
    return {scenario.expectation(n) for n in names} >= {best, "fail"}


def figures() -> list[tuple[str, int, int, int, int, int, int, int]]:
    """(directive, requirements, with pass+fail scenarios, with an ssg, cis and stig reference,
    with a structured fix, with a manual one: a question for a person)."""
    scenarios = scenario.load_scenarios()
    rows = []
    for d in sorted(load_library(), key=lambda d: d.id):
        both = sum(1 for r in d.requirements if judged_both_ways(r, scenarios.get(r.id, {})))
        ssg = sum(1 for r in d.requirements if r.references.get("ssg"))
        cis = sum(1 for r in d.requirements if r.references.get("cis"))
        stig = sum(1 for r in d.requirements if r.references.get("stig"))
        manual = sum(1 for r in d.requirements if r.fix is not None and is_manual(r.fix))
        structured = sum(1 for r in d.requirements if r.fix is not None and not is_manual(r.fix))
        rows.append((d.id, len(d.requirements), both, ssg, cis, stig, structured, manual))
    return rows


def table() -> str:
    rows = figures()
    total = ("total", *(sum(r[i] for r in rows) for i in range(1, 8)))
    lines = ["| directive | requirements | pass and fail scenarios | `ssg` reference | `cis` reference "
             "| `stig` reference | structured fix | manual fix |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, n, both, ssg, cis, stig, structured, manual in [*rows, total]:
        lines.append(f"| {name} | {n} | {both} | {ssg} | {cis} | {stig} | {structured} | {manual} |")
    return "\n".join(lines)


def test_every_requirement_has_a_pass_and_a_fail_scenario() -> None:
    scenarios = scenario.load_scenarios()
    missing = [r.id for d in load_library() for r in d.requirements if not judged_both_ways(r, scenarios.get(r.id, {}))]
    assert missing == []
    known = {r.id for d in load_library() for r in d.requirements}
    assert set(scenarios) - known == set(), "scenarios for requirements that do not exist"


def test_every_requirement_has_remediation_and_nist_references() -> None:
    for d in load_library():
        for r in d.requirements:
            assert r.remediation.strip() and r.references.get("nist_800_53"), r.id


def test_docs_quote_the_figures() -> None:
    text = DOC.read_text()
    found = re.search(re.escape(BEGIN) + r"\n(.*?)\n" + re.escape(END), text, re.S)
    assert found, f"{DOC} has no coverage block"
    assert found.group(1).strip() == table(), "\n" + table()


def test_cis_and_stig_ids_are_those_the_cited_rules_give() -> None:
    rules = yaml.safe_load(SSG_REFERENCES.read_text())["rules"]
    for d in load_library():
        for r in d.requirements:
            cited = [rules[s] for s in r.references.get("ssg", []) if s in rules]
            cis = {c for rule in cited for c in rule["cis"]}
            stig = {s.partition(":")[2] for rule in cited for s in rule["stig"]}
            assert set(r.references.get("cis", [])) <= cis, r.id
            assert set(r.references.get("stig", [])) <= stig, r.id


def test_every_ssg_reference_is_a_real_complianceascode_rule() -> None:
    lines = SSG_RULES.read_text().splitlines()
    real = {line.strip() for line in lines if line.strip() and not line.startswith("#")}
    assert len(real) > 2000, "the shipped rule list is whole"
    cited = {(r.id, s) for d in load_library() for r in d.requirements for s in r.references.get("ssg", [])}
    assert cited and {(rid, s) for rid, s in cited if s not in real} == set()


def test_bod_22_01_summary_states_the_shipped_catalogs_due_dates() -> None:
    """The figures in BOD 22-01's summary are those of the KEV snapshot shipped with the agent."""
    import datetime as dt
    import json
    from collections import Counter
    from importlib import resources

    catalog = json.loads(resources.files("agent.feeds").joinpath("data/known_exploited_vulnerabilities.json").read_text())
    gaps = Counter((dt.date.fromisoformat(v["dueDate"]) - dt.date.fromisoformat(v["dateAdded"])).days
                   for v in catalog["vulnerabilities"])
    summary = " ".join(next(d for d in load_library() if d.id == "BOD-22-01").summary.split())
    assert gaps.most_common(1)[0][0] == 21
    assert f"{gaps[21]:,} of the {catalog['count']:,} entries" in summary
    assert f"catalog of {catalog['dateReleased'][:10]}" in summary
    assert f"{gaps[14]} are due after 14 days" in summary
    assert f"{sum(n for days, n in gaps.items() if 170 <= days <= 200)} of the first entries" in summary

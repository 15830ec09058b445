"""JUnit XML, read back by junitparser (the library CI tooling uses to merge and inspect reports)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from junitparser import Error, Failure, JUnitXml, Skipped

from agent.output import FORMATS


def parse(report: dict[str, Any], tmp_path: Path) -> JUnitXml:
    path = tmp_path / "report.xml"
    path.write_text(FORMATS["junit"](report, False), encoding="utf-8")
    return JUnitXml.fromfile(str(path))


def outcome(case: Any) -> str:
    kinds = {type(r) for r in case.result}
    if Failure in kinds:
        return "failure"
    if Error in kinds:
        return "error"
    if Skipped in kinds:
        return "skipped"
    return "passed"


def test_one_test_case_per_requirement_with_the_right_outcome(fixture_report: dict[str, Any], tmp_path: Path,
                                                              golden: Any) -> None:
    xml = parse(fixture_report, tmp_path)
    suites = list(xml)
    assert [s.name for s in suites] == ["FIXTURE"]
    cases = {c.name.split(":")[0]: c for c in suites[0]}
    assert {k: outcome(c) for k, c in cases.items()} == {
        "FIXTURE.1": "passed", "FIXTURE.2": "skipped", "FIXTURE.3": "failure", "FIXTURE.4": "failure",
        "FIXTURE.5": "skipped", "FIXTURE.6": "error",
    }
    assert all(c.classname == "FIXTURE" for c in cases.values())
    assert (suites[0].tests, suites[0].failures, suites[0].errors, suites[0].skipped) == (6, 2, 1, 2)
    failure = cases["FIXTURE.3"].result[0]
    assert failure.type == "low"
    assert "Banner <b>=HYPERLINK(1)&amp;</b>" in failure.text  # escaped in XML, intact once parsed
    assert "due 2026-12-31" in failure.message
    assert "OVERDUE" in cases["FIXTURE.4"].result[0].message
    assert cases["FIXTURE.2"].result[0].message.startswith("waived: waived until 2026-12-31")
    golden("report.junit.xml", FORMATS["junit"](fixture_report, False))


def test_control_characters_from_the_host_do_not_break_the_xml(scan_fixture: Any, tmp_path: Path) -> None:
    report = scan_fixture({"/etc/ssh/sshd_config": "PermitRootLogin no\nBanner \x01bell\x07\n"})
    xml = parse(report, tmp_path)
    cases = {c.name.split(":")[0]: c for c in next(iter(xml))}
    assert "\\x01bell\\x07" in cases["FIXTURE.3"].result[0].text

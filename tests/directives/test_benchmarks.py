"""The shipped benchmark mappings (directives/controls.py) and coverage (directives/coverage.py)."""
from __future__ import annotations

import datetime as dt
import re
from importlib import resources
from typing import Any

import pytest

from directives.controls import BENCHMARKS, Benchmark, Control, benchmark, choices, parse_against
from directives.coverage import COVERED, MANUAL, NOT_COVERED, PARTLY, coverage, render_csv, render_table
from directives.model import Directive, Requirement

COMMIT = "b3a2cca9352cbcefb7f00d770bfd6f679da18d6a"


@pytest.mark.parametrize("name", list(BENCHMARKS))
def test_shipped_mappings_carry_provenance_and_ids_only(name: str) -> None:
    data = resources.files("directives").joinpath(f"data/{BENCHMARKS[name]}")
    text = data.read_text()
    assert COMMIT in text.split("\nbenchmark:")[0] and "BSD-3-Clause" in text and "LICENSE.complianceascode" in text
    assert resources.files("directives").joinpath("data/LICENSE.complianceascode").read_text().startswith(
        "SPDX license identifier: BSD-3-Clause")
    assert "title:" not in text  # ids, levels, status and rules: no recommendation text
    bench = benchmark(name)
    assert bench.commit == COMMIT and len({c.id for c in bench.controls}) == len(bench.controls)
    assert all(re.fullmatch(r"[A-Za-z0-9_.-]+", rule) for c in bench.controls for rule in c.rules)


def test_cis_levels_inherit_and_variables_are_not_rules() -> None:
    cis = benchmark("cis-debian12")
    assert cis.closure("l2_server") == {"l1_server", "l2_server"}
    assert (len(cis.at("l1_server")), len(cis.at("l2_server")), len(cis.at("l1_workstation"))) == (249, 310, 243)
    ptrace = next(c for c in cis.controls if c.id == "1.5.2")
    assert ptrace.rules == ("sysctl_kernel_yama_ptrace_scope",)
    assert ptrace.variables == ("sysctl_kernel_yama_ptrace_scope_value=1",)


def test_stig_controls_carry_the_ids_stig_viewer_shows() -> None:
    stig = benchmark("stig-ubuntu2204")
    ctrl = next(c for c in stig.controls if c.id == "UBTU-22-211015")
    assert (ctrl.group, ctrl.rule, ctrl.srg, ctrl.ccis) == (
        "V-260469", "SV-260469r991589_rule", "SRG-OS-000480-GPOS-00227", ("CCI-000366",))
    assert all(c.group.startswith("V-") and c.rule.startswith("SV-") and c.srg.startswith("SRG-") and c.ccis
               for c in stig.controls)


@pytest.mark.parametrize("value, message", [
    ("cis-debian12", "cis-debian12 needs a level: cis-debian12:l1_server, "),
    ("cis-debian12:l3_server", "cis-debian12 has no level 'l3_server' (levels: l1_server, l2_server, "),
    ("cis-debian13:l1_server", "unknown benchmark 'cis-debian13' (known: cis-debian12:l1_server, "),
])
def test_bad_against_values_say_what_is_accepted(value: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_against(value)
    assert str(caught.value).startswith(message)


def test_choices() -> None:
    assert choices() == ["cis-debian12:l1_server", "cis-debian12:l2_server", "cis-debian12:l1_workstation",
                         "cis-debian12:l2_workstation", "stig-ubuntu2204"]
    assert parse_against("stig-ubuntu2204:high")[1] == "high"


def requirement(rid: str, rules: list[str], check: dict[str, Any]) -> Requirement:
    return Requirement(id=rid, title=rid, severity="low", due="2026-07-01", rationale="r", remediation="m",
                       references={"nist_800_53": ["CM-6"], "ssg": rules}, check=check, only_if=None,
                       directive_id="X", issued=dt.date(2026, 6, 1))


def test_each_coverage_status() -> None:
    checked = {"type": "file", "path": "/etc/x", "owner": "root"}
    asked = {"type": "manual", "question": "Is it so?"}
    library = [Directive(id="X", title="x", issuer="i", kind="agency", issued=dt.date(2026, 6, 1), url="", summary="",
                         applies_to={}, source="x.yaml", digest="sha256:0", requirements=(
                             requirement("X.1", ["a", "b"], checked),
                             requirement("X.2", ["c"], {"all": [asked, asked]}),
                             requirement("X.3", ["d"], {"any": [checked, asked]}),
                             requirement("X.4", ["d"], asked),
                             requirement("X.5", ["e"], {"all": [checked, asked]}),
                             requirement("X.6", ["e"], {"none": [checked, asked]})))]
    controls = (Control("1", ("l1",), "automated", ("a", "b")), Control("2", ("l1",), "automated", ("a", "z")),
                Control("3", ("l1",), "automated", ("z",)), Control("4", ("l1",), "manual", ("a",)),
                Control("5", ("l1",), "automated", ("c",)), Control("6", ("l2",), "automated", ("d",)),
                Control("7", ("l1",), "automated", ()), Control("8", ("l1",), "partial", ("b",)),
                Control("9", ("l1",), "automated", ("e",)))
    bench = Benchmark("t", "t", "T", "1", {"l1": (), "l2": ("l1",)}, controls, COMMIT)
    result = coverage(bench, "l2", library)
    got = {c.control.id: (c.status, c.requirements, c.missing) for c in result.controls}
    assert got == {
        "1": (COVERED, ["X.1"], ()),
        "2": (PARTLY, ["X.1"], ("z",)),
        "3": (NOT_COVERED, [], ("z",)),
        "4": (MANUAL, ["X.1"], ()),  # manual in the benchmark, whatever cites its rules
        "5": (MANUAL, ["X.2"], ()),  # cited only by a requirement that asks a human
        "6": (COVERED, ["X.3", "X.4"], ()),  # one citer judges it
        "7": (COVERED, [], ()),  # the mapping gives no rule
        "8": (COVERED, ["X.1"], ()),
        "9": (MANUAL, ["X.5", "X.6"], ()),  # an all or a none with a question passes only once it is answered
    }
    assert result.totals == {"controls": 9, "automated": 7, "fully_covered": 5, "covered": 4, "manual": 3,
                             "partly_covered": 1, "not_covered": 1, "rules": 6, "rules_cited": 5}
    assert [c.control.id for c in coverage(bench, "l1", library).controls] == ["1", "2", "3", "4", "5", "7", "8", "9"]
    table = render_table(result)
    assert "2        partly covered  X.1; missing: z" in table and "7        covered         (the mapping gives no rule)" in table
    assert table.rstrip().endswith("t:l2: 5 of 7 automated controls fully covered (71%); 9 controls: 4 covered, 3 manual, "
                                   "1 partly covered, 1 not covered; 5 of 6 mapped rules cited")
    assert render_csv(result).splitlines()[2] == "2,automated,partly covered,X.1,z,a z"

"""`fedharden directives coverage`, `directives profiles` and `scan --profile`, run as a user runs them."""
from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from directives import load_library
from directives.cis_profiles import path_of, selected

pytestmark = pytest.mark.slow  # whole scans through the command line

FEDHARDEN = str(Path(sys.executable).with_name("fedharden"))


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([FEDHARDEN, *args], capture_output=True, text=True, timeout=300)


def test_coverage_table_json_and_csv_agree() -> None:
    table = run("directives", "coverage", "--against", "cis-debian12:l1_server")
    as_json = run("directives", "coverage", "--against", "cis-debian12:l1_server", "--format", "json")
    as_csv = run("directives", "coverage", "--against", "cis-debian12:l1_server", "--format", "csv")
    assert (table.returncode, as_json.returncode, as_csv.returncode) == (0, 0, 0), table.stderr
    report = json.loads(as_json.stdout)
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert report["level"] == "l1_server" and report["totals"]["automated"] == 230
    assert [(c["id"], c["status"]) for c in report["controls"]] == [(r["control"], r["status"]) for r in rows]
    by_id = {r["control"]: r for r in rows}
    for control in report["controls"]:  # the missing rules, as each format writes them
        assert by_id[control["id"]]["missing_rules"].split() == control["missing"]
        assert set(control["missing"]) | set(control["covered_by"]) == set(control["rules"])
    cramfs = next(r for r in rows if r["control"] == "1.1.1.1")
    assert (cramfs["status"], cramfs["requirements"]) == ("covered", "HARDEN-30D.MOD.1")
    t = report["totals"]
    assert table.stdout.rstrip().splitlines()[-1].startswith(
        f"cis-debian12:l1_server: {t['fully_covered']} of 230 automated controls fully covered")


def test_stig_coverage_needs_no_level() -> None:
    done = run("directives", "coverage", "--against", "stig-ubuntu2204", "--format", "json")
    assert done.returncode == 0 and len(json.loads(done.stdout)["controls"]) == 188


@pytest.mark.parametrize("value", ["cis-debian12", "cis-debian12:l3_server", "rhel9:l1_server", ""])
def test_a_bad_against_value_is_one_line_and_exit_2(value: str) -> None:
    done = run("directives", "coverage", "--against", value)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("fedharden: --against: ") and done.stderr.count("\n") == 1, done.stderr


def test_profiles_are_listed_with_counts() -> None:
    done = run("directives", "profiles")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["cis-l1-server", "cis-l2-server", "cis-l1-workstation",
                                                   "cis-l2-workstation"]
    assert lines[0].split()[1] == str(len(selected("cis-l1-server", load_library())))


def requirements_scanned(report: Path) -> set[str]:
    return {r["requirement"] for r in json.loads(report.read_text())["results"]}


def test_scan_with_a_profile_selects_its_requirements(debian_rootfs: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    done = run("scan", "--root", str(debian_rootfs), "--walk", "--profile", "cis-l1-server", "--format", "json", "-o", str(out))
    assert done.returncode in (0, 1), done.stderr
    assert requirements_scanned(out) == set(selected("cis-l1-server", load_library()))
    assert json.loads(out.read_text())["scan"]["tailoring"]["title"] == "CIS Debian 12 Level 1 - Server"


def test_scan_with_a_copied_and_edited_profile(debian_rootfs: Path, tmp_path: Path) -> None:
    copy = tmp_path / "agency-l1.yaml"
    copy.write_text(Path(path_of("cis-l1-server")).read_text()
                    + "deselect:\n  - {id: HARDEN-30D.SSH.1, reason: break-glass console only}\n")
    out = tmp_path / "r.json"
    done = run("scan", "--root", str(debian_rootfs), "--walk", "--profile", str(copy), "--format", "json", "-o", str(out))
    assert done.returncode in (0, 1), done.stderr
    assert requirements_scanned(out) == set(selected("cis-l1-server", load_library())) - {"HARDEN-30D.SSH.1"}


@pytest.mark.parametrize("args, message", [
    (["--profile", "cis-l3-server"], "fedharden: --profile: unknown profile 'cis-l3-server' (shipped: cis-l1-server, "),
    (["--profile", "nope/x.yaml"], "fedharden: --profile: nope/x.yaml: no such file"),
    (["--profile", "cis-l1-server", "--tailoring", path_of("cis-l2-server")], "fedharden: --profile and --tailoring: give one"),
])
def test_profile_mistakes_are_one_line_and_exit_2(debian_rootfs: Path, args: list[str], message: str) -> None:
    done = run("scan", "--root", str(debian_rootfs), *args)
    assert done.returncode == 2 and done.stderr.startswith(message) and done.stderr.count("\n") == 1, done.stderr

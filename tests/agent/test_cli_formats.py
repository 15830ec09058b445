"""``fedharden scan`` with several formats, waivers and a baseline, through click's CliRunner."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable

import pytest
from click.testing import CliRunner

from agent.cli import main

DATA = Path(__file__).resolve().parents[1] / "data" / "formats"
FILES = {
    "/etc/os-release": "ID=debian\nVERSION_ID=12\n", "/etc/hostname": "fixture-host\n",
    "/etc/ssh/sshd_config": "PermitRootLogin no\nMaxAuthTries 6\n", "/etc/passwd": "root:x:0:0::/root:/bin/sh\n",
}


@pytest.fixture
def run(make_root: Callable[..., Path]) -> Callable[..., Any]:
    root = make_root(FILES)

    def invoke(*args: str) -> Any:
        return CliRunner().invoke(main, ["scan", "--root", str(root), "--directives", str(DATA / "fixture.yaml"),
                                         "--directive", "FIXTURE", *args])

    return invoke


def test_several_formats_each_to_its_own_file_and_the_table_to_stdout(run: Any, tmp_path: Path) -> None:
    out = {fmt: tmp_path / f"r.{fmt}" for fmt in ("json", "sarif", "junit", "csv", "jsonl")}
    result = run("--format", "table", *[a for fmt, p in out.items() for a in ("--format", f"{fmt}={p}")],
                 "--waivers", str(DATA / "waivers.yaml"))
    assert result.exit_code == 1, result.output  # FIXTURE.3 and FIXTURE.4 fail
    assert "WAIVED" in result.stdout and "FIXTURE.2" in result.stdout
    report = json.loads(out["json"].read_text())
    assert {(r["key"], r["status"]) for r in report["results"]} >= {("FIXTURE.2", "waived"), ("FIXTURE.4", "fail")}
    assert json.loads(out["sarif"].read_text())["version"] == "2.1.0"
    assert out["junit"].read_text().startswith("<?xml")
    assert out["csv"].read_text().startswith("host_id,")
    assert len(out["jsonl"].read_text().splitlines()) == 6


def test_format_json_with_output_still_works(run: Any, tmp_path: Path) -> None:
    result = run("--format", "json", "-o", str(tmp_path / "report.json"))
    assert result.exit_code == 1 and result.stdout == ""
    assert json.loads((tmp_path / "report.json").read_text())["kind"] == "full"


def test_output_dir_names_files_by_format(run: Any, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    result = run("--format", "sarif", "--format", "csv", "--format", "junit", "--output-dir", str(out))
    assert result.exit_code == 1, result.output
    assert sorted(p.name for p in out.iterdir()) == ["fedharden.csv", "fedharden.junit.xml", "fedharden.sarif"]


@pytest.mark.parametrize("args, message", [
    (["--format", "pdf"], "fedharden: --format: unknown format 'pdf' (choose from "),
    (["--format", "json", "--format", "csv"], "fedharden: --format: only one format can go to standard output"),
    (["--format", "json", "--format", "csv", "-o", "x"], "fedharden: --output: 2 formats have no file of their own"),
    (["--format", "csv="], "fedharden: --format: 'csv=': missing file name after '='"),
    (["--format", "csv=/tmp/same", "--format", "json=/tmp/same"], "fedharden: --format: /tmp/same is the destination"),
    (["--format", "csv", "--output-dir", "/nonexistent/dir"], "fedharden: --output-dir: /nonexistent/dir: not a directory"),
])
def test_usage_errors_are_one_line_exit_2(run: Any, args: list[str], message: str) -> None:
    result = run(*args)
    assert result.exit_code == 2
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1


def test_one_unwritable_output_means_no_output_is_written(run: Any, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    good = out / "good.sarif"
    result = run("--format", f"sarif={good}", "--format", f"csv={out / 'missing' / 'r.csv'}")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"fedharden: {out / 'missing' / 'r.csv'}: cannot write: ")
    assert not good.exists() and os.listdir(out) == []  # no temporary files left either


def test_a_waiver_for_an_unknown_requirement_is_one_line_exit_2(run: Any, tmp_path: Path) -> None:
    waivers = tmp_path / "w.yaml"
    waivers.write_text("waivers:\n  - requirement: FIXTURE.2\n    justification: ok\n    expires: 2030-01-01\n"
                       "  - requirement: FIXTURE.9\n    justification: typo\n    expires: 2030-01-01\n")
    result = run("--waivers", str(waivers))
    assert result.exit_code == 2
    assert result.stderr == f"{waivers}:5: $.waivers[1].requirement: unknown requirement id FIXTURE.9 " \
                            "(did you mean FIXTURE.6?)\n"


def test_baseline_feeds_sarif_baseline_state(run: Any, tmp_path: Path) -> None:
    first = tmp_path / "first.json"
    assert run("--format", f"json={first}").exit_code == 1
    result = run("--format", f"sarif={tmp_path / 'r.sarif'}", "--baseline", str(first))
    assert result.exit_code == 1, result.output
    states = {r["properties"]["key"]: r["baselineState"]
              for r in json.loads((tmp_path / "r.sarif").read_text())["runs"][0]["results"]}
    assert set(states.values()) == {"unchanged"}


def test_a_baseline_that_is_no_report_is_refused(run: Any, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"kind": "full"}')
    result = run("--format", "sarif", "--baseline", str(bad))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"fedharden: --baseline: {bad}: not a fedharden report: $: ")


def test_tailoring_errors_are_file_line_exit_2(run: Any, tmp_path: Path) -> None:
    tailoring = tmp_path / "t.yaml"
    tailoring.write_text("title: t\ndeselect:\n  - id: FIXTURE.3\n    reason: portal\n  - id: FIXTURE.33\n"
                         "    reason: typo\n")
    result = run("--tailoring", str(tailoring))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"{tailoring}:5: $.deselect[1].id: unknown directive or requirement id FIXTURE.33")
    assert result.stderr.count("\n") == 1


def test_tailoring_deselects_from_the_command_line(run: Any, tmp_path: Path) -> None:
    tailoring = tmp_path / "t.yaml"
    tailoring.write_text("title: t\ndeselect:\n  - id: FIXTURE.3\n    reason: portal\n  - id: FIXTURE.4\n"
                         "    reason: console\n")
    out = tmp_path / "r.json"
    result = run("--tailoring", str(tailoring), "--waivers", str(DATA / "waivers.yaml"), "--format", f"json={out}")
    # The two failures are deselected and FIXTURE.2 is waived, but FIXTURE.6 cannot be judged
    # (no /etc/shadow): incomplete, exit 4.
    assert result.exit_code == 4, result.output
    report = json.loads(out.read_text())
    assert {r["key"] for r in report["results"]} == {"FIXTURE.1", "FIXTURE.2", "FIXTURE.5", "FIXTURE.6"}
    assert [d["id"] for d in report["scan"]["tailoring"]["deselect"]] == ["FIXTURE.3", "FIXTURE.4"]


def test_every_format_at_once_into_an_output_dir(run: Any, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    formats = ["table", "json", "sarif", "oscal", "cklb", "junit", "csv", "jsonl", "html"]
    result = run(*[a for f in formats for a in ("--format", f)], "--output-dir", str(out),
                 "--waivers", str(DATA / "waivers.yaml"))
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    assert sorted(p.name for p in out.iterdir()) == sorted([
        "fedharden.txt", "fedharden.json", "fedharden.sarif", "fedharden.oscal.json", "fedharden.cklb",
        "fedharden.junit.xml", "fedharden.csv", "fedharden.jsonl", "fedharden.html"])
    assert json.loads((out / "fedharden.oscal.json").read_text())["assessment-results"]["results"]
    assert json.loads((out / "fedharden.cklb").read_text())["stigs"][0]["stig_id"] == "FIXTURE"

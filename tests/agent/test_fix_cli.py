"""fedharden fix on small fixture roots: where the failures come from, the plan's forms, and
usage mistakes as one line with exit 2."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

from click.testing import CliRunner

from agent.cli import main

OS_RELEASE = 'ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n'


def report(tmp_path: Path, *failing: str) -> Path:
    path = tmp_path / "report.json"
    path.write_text(json.dumps({"results": [{"requirement": r, "status": "fail"} for r in failing]
                                + [{"requirement": "HARDEN-30D.NET.3", "status": "pass"}]}))
    return path


def test_plan_from_a_report_as_diff_and_json(make_root: Callable[..., Path], tmp_path: Path) -> None:
    root = make_root({"/etc/os-release": OS_RELEASE, "/etc/login.defs": "PASS_MAX_DAYS 99999\n"})
    args = ["fix", "--root", str(root), "--state-dir", str(tmp_path / "s"), "--report",
            str(report(tmp_path, "HARDEN-30D.ACCT.4", "HARDEN-30D.SSH.1", "HARDEN-30D.TIME.2"))]
    out = CliRunner().invoke(main, args)
    assert out.exit_code == 0, out.output
    assert out.output.startswith(f"# /etc/login.defs in {root}: HARDEN-30D.ACCT.4\n--- a/etc/login.defs\n")
    assert "-PASS_MAX_DAYS 99999\n+PASS_MAX_DAYS 365\n" in out.output
    assert "left out HARDEN-30D.SSH.1: disruptive" in out.output
    assert "left out HARDEN-30D.TIME.2: needs a decision: Which time daemon" in out.output
    data = json.loads(CliRunner().invoke(main, [*args, "--format", "json"]).output)
    change = data["changes"][0]
    assert (change["requirement"], change["types"], change["disruptive"]) == ("HARDEN-30D.ACCT.4", ["key_value"], False)
    assert change["actions"][0]["kind"] == "write" and change["actions"][0]["path"] == "/etc/login.defs"
    both = json.loads(CliRunner().invoke(main, [*args, "--format", "json", "--include-disruptive"]).output)
    assert [c["requirement"] for c in both["changes"]] == ["HARDEN-30D.ACCT.4", "HARDEN-30D.SSH.1"]
    assert (root / "etc/login.defs").read_text() == "PASS_MAX_DAYS 99999\n"  # a plan writes nothing


def test_usage_mistakes_are_one_line_exit_2(make_root: Callable[..., Path], tmp_path: Path) -> None:
    root = make_root({"/etc/os-release": OS_RELEASE})
    state = str(tmp_path / "state")
    cases = {
        ("--root", str(root)): "no scan recorded",
        ("--root", str(root), "--submit"): "--submit reports an apply or a rollback: give --apply or --rollback",
        ("--root", str(root), "--by", " "): "--by: a name of 1 to 200 printable characters",
        ("--root", str(root), "--by", "x\ny"): "--by: a name of 1 to 200 printable characters",
        ("--rollback", "--submit"): "not enrolled",
        ("--report", str(tmp_path / "nope.json")): "--report",
        ("--requirement", "NOPE.1", "--scan-now", "--root", str(root)): "unknown requirement NOPE.1",
        ("--rollback",): "no apply to roll back",
        ("--rollback", "20260101T000000Z-000000"): "no apply 20260101T000000Z-000000",
        ("--root", str(tmp_path / "empty")): "not a root filesystem",
        (): "no scan recorded",
    }
    (tmp_path / "empty").mkdir()
    for args, message in cases.items():
        out = CliRunner().invoke(main, ["fix", "--state-dir", state, *args])
        assert out.exit_code == 2, (args, out.output)
        assert message in out.output and len(out.output.strip().splitlines()) == 1, (args, out.output)

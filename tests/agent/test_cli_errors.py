"""Each mistake a user can make on the command line (options that do not go together, files that
are missing or not what they should be, a bad inventory) is one line on standard error naming
the option or file at fault (a policy file's problem as ``file:line: message``), exit 2, nothing
on standard output and no traceback; and nothing is scanned or contacted before it is said."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest
from click.testing import CliRunner

from agent.cli import main

ROOT = {
    "/etc/os-release": 'ID=debian\nVERSION_ID="12"\n',
    "/etc/machine-id": "0123456789abcdef0123456789abcdef\n",
    "/etc/hostname": "web1\n",
}
INVENTORY = "hosts:\n  - host: web1.example\n"

# Each case: the command line, with {root}, {dir}, {file}, {inventory}, {bad_inventory},
# {missing} and {not_json} filled in below, and what the one line must say.
CASES: list[tuple[str, list[str], list[str]]] = [
    ("root missing", ["scan", "--root", "{missing}"], ["--root: {missing}: not a directory"]),
    ("root not a root", ["scan", "--root", "{dir}"], ["--root: {dir}: not a root filesystem", "/etc"]),
    ("ssh with inventory", ["scan", "--ssh", "a@b", "--inventory", "{inventory}"],
     ["--ssh and --inventory cannot be combined"]),
    ("root with ssh", ["scan", "--root", "{root}", "--ssh", "a@b"], ["--root", "cannot be combined with --ssh"]),
    ("ssh option without ssh", ["scan", "--root", "{root}", "--sudo"],
     ["--sudo applies to --ssh or --inventory scans only"]),
    ("ssh option at enrollment", ["enroll", "--collector", "https://127.0.0.1", "--jump", "j@h"],
     ["--jump applies to --ssh or --inventory enrollments only"]),
    ("unknown format", ["scan", "--root", "{root}", "--format", "yaml"], ["--format: unknown format 'yaml'"]),
    ("two formats to stdout", ["scan", "--root", "{root}", "--format", "json", "--format", "csv"],
     ["--format: only one format can go to standard output"]),
    ("output and output dir", ["scan", "--root", "{root}", "-o", "{dir}/a", "--output-dir", "{dir}"],
     ["--output and --output-dir cannot be combined"]),
    ("output dir missing", ["scan", "--root", "{root}", "--output-dir", "{missing}"],
     ["--output-dir: {missing}: not a directory"]),
    ("unknown directive", ["scan", "--root", "{root}", "--directive", "NOPE-1"],
     ["--directive: unknown directive NOPE-1"]),
    ("unknown severity", ["scan", "--root", "{root}", "--severity", "urgent"], ["'--severity'", "'urgent'"]),
    ("directives file missing", ["scan", "--root", "{root}", "--directives", "{missing}"],
     ["'--directives'", "{missing}"]),
    ("baseline missing", ["scan", "--root", "{root}", "--baseline", "{missing}"],
     ["--baseline: {missing}: cannot read"]),
    ("baseline not json", ["scan", "--root", "{root}", "--baseline", "{not_json}"],
     ["--baseline: {not_json}: not JSON"]),
    ("waivers missing", ["scan", "--root", "{root}", "--waivers", "{missing}"], ["{missing}: cannot read"]),
    ("tailoring missing", ["scan", "--root", "{root}", "--tailoring", "{missing}"], ["{missing}: cannot read"]),
    ("feeds dir missing", ["scan", "--root", "{root}", "--feeds-dir", "{missing}"],
     ["{missing}: no such feeds directory"]),
    ("inventory missing", ["scan", "--inventory", "{missing}", "--output-dir", "{dir}"],
     ["--inventory: {missing}: cannot read"]),
    ("inventory invalid", ["scan", "--inventory", "{bad_inventory}", "--output-dir", "{dir}"],
     ["{bad_inventory}:2:", "port", "1 to 65535"]),
    ("inventory without output dir", ["scan", "--inventory", "{inventory}"],
     ["--inventory needs --output-dir"]),
    ("inventory with one output", ["scan", "--inventory", "{inventory}", "-o", "{dir}/a"],
     ["--output names one file; with --inventory use --output-dir"]),
    ("submit without enrollment", ["scan", "--submit", "--root", "{root}", "--state-dir", "{dir}/state"],
     ["not enrolled"]),
    ("enroll without secret", ["enroll", "--collector", "https://127.0.0.1", "--root", "{root}"],
     ["enrollment secret"]),
    ("enroll to a non-http url", ["enroll", "--collector", "ftp://127.0.0.1", "--secret", "s", "--root", "{root}"],
     ["--collector: 'ftp://127.0.0.1' is not an http(s) URL"]),
    ("enroll with a bad pin", ["enroll", "--collector", "https://127.0.0.1", "--secret", "s", "--pin-sha256", "ab"],
     ["--pin-sha256: 64 hex digits"]),
    ("enroll without collector", ["enroll", "--secret", "s"], ["'--collector'"]),
    ("unknown directive shown", ["directives", "show", "NOPE-1"], ["unknown directive NOPE-1"]),
    ("unknown command", ["scna"], ["No such command 'scna'"]),
    ("status of a file", ["status", "--state-dir", "{not_json}"], ["'--state-dir'", "{not_json}"]),
]


@pytest.mark.parametrize("args, says", [pytest.param(a, s, id=i) for i, a, s in CASES])
def test_a_mistake_is_one_line_exit_2(make_root: Callable[..., Path], tmp_path: Path, args: list[str],
                                      says: list[str]) -> None:
    (tmp_path / "dir").mkdir()
    (tmp_path / "inventory.yaml").write_text(INVENTORY)
    (tmp_path / "bad.yaml").write_text("hosts:\n  - {host: web1, port: 70000}\n")
    (tmp_path / "not.json").write_text("{not json\n")
    fill = {"root": str(make_root(ROOT)), "dir": str(tmp_path / "dir"), "missing": str(tmp_path / "missing"),
            "inventory": str(tmp_path / "inventory.yaml"), "bad_inventory": str(tmp_path / "bad.yaml"),
            "not_json": str(tmp_path / "not.json")}
    result = CliRunner().invoke(main, [a.format(**fill) for a in args], env={"FEDHARDEN_ENROLL_SECRET": ""})
    line = result.stderr
    assert result.exit_code == 2, (result.exit_code, line, result.exception)
    assert result.stdout == ""
    # A directive, waiver or tailoring file's problem is said as file:line: $.path: message.
    assert line.count("\n") == 1 and line.startswith(("fedharden: ", str(tmp_path))), line
    assert "Traceback" not in line
    for word in says:
        assert word.format(**fill) in line, line
    assert not (tmp_path / "dir" / "state").exists()  # nothing was written before the mistake was said


def test_a_bug_is_one_line_exit_3_unless_debugging(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """What nobody foresaw (here: a status that cannot be computed) is not a traceback either;
    FEDHARDEN_DEBUG=1 shows it."""
    import agent.fleet

    def broken(state_dir: str) -> dict[str, object]:
        raise KeyError("summary")

    monkeypatch.setattr(agent.fleet, "status", broken)
    result = CliRunner().invoke(main, ["status", "--state-dir", str(tmp_path)])
    assert result.exit_code == 3
    assert result.stderr == ("fedharden: internal error KeyError: 'summary' "
                             "(set FEDHARDEN_DEBUG=1 for the traceback)\n")
    debug = CliRunner().invoke(main, ["status", "--state-dir", str(tmp_path)], env={"FEDHARDEN_DEBUG": "1"})
    assert isinstance(debug.exception, KeyError)

"""What fix --format bash and --format ansible write for a plan with hostile values: every path,
content and argument reaches the programs as exactly one word (Bash, run with every external
program answered by a recorder) or as an ``!unsafe`` string (the playbook), never as code.
The real runs against copies of a Debian root are in test_fix_generators.py."""
from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any, Callable

import yaml

from agent.fixing import ansible, bash
from agent.fixing.planner import Change, Plan
from checks.fixes.model import Command, Files, Packages, SetAttributes, WriteFile

EVIL = "a'b \"c\" $(touch /tmp/owned) `id` ${HOME} \\ \n; rm -rf / #"
PATH_EVIL = "/etc/odd dir/$(x)'.conf"


def plan() -> Plan:
    write = WriteFile(PATH_EVIL, EVIL + "\n", 0o640, "root", "adm")
    attrs = SetAttributes("/etc/shadow", 0o640, None, "shadow")
    changes = [
        Change("X.1", "X", "t", "high", {"type": "file_content"}, False,
               (write, Command(("visudo", "-c", "-f", PATH_EVIL), "check it", image="chroot"))),
        Change("X.2", "X", "t", "low", {"type": "file_mode"}, False, (attrs,)),
        Change("X.3", "X", "t", "low", {"type": "package"}, False, (Packages(install=("pkg-a",)),)),
        Change("X.4", "X", "t", "low", {"type": "sysctl"}, False,
               (Command(("sysctl", "-w", EVIL), "running value", best_effort=True),)),
    ]
    after = Files({}).with_actions((write, attrs))
    return Plan(changes=changes, after=after)


def record(script: str, tmp_path: Path, booted: bool) -> list[list[str]]:
    """Run the script's body with the prelude's helpers and every program recorded, not run."""
    out = tmp_path / "calls"
    prelude = bash.prelude()
    assert prelude.rstrip("\n") in script
    stubs = f"""set -euo pipefail
OUT={out}
declare -A DUE=()
mark() {{ local r; for r in "$@"; do DUE[$r]=1; done; }}
due() {{ local r; for r in "$@"; do [ -z "${{DUE[$r]:-}}" ] || return 0; done; return 1; }}
rec() {{ printf '%s\\0' "$@" >> "$OUT"; printf '\\n' >> "$OUT"; }}
booted() {{ {'true' if booted else 'false'}; }}
warn() {{ rec warn "$@"; }}
put_file() {{ rec put_file "$@"; shift 5; mark "$@"; }}
set_attrs() {{ rec set_attrs "$@"; shift 4; mark "$@"; }}
installed() {{ false; }}
apt_get() {{ rec apt_get "$@"; }}
unit_state() {{ echo disabled; }}
command_not_found_handle() {{ rec run "$@"; }}
PATH=/nonexistent
"""
    body = script.replace(prelude.rstrip("\n"), stubs)
    (tmp_path / "s.sh").write_text(body)
    proc = subprocess.run(["bash", str(tmp_path / "s.sh")], capture_output=True, text=True, timeout=30, check=False)
    assert proc.returncode == 0, proc.stderr
    return [line.rstrip("\0").split("\0") for line in out.read_text().split("\0\n") if line]


def test_bash_passes_every_value_as_one_word(tmp_path: Path) -> None:
    script = bash.render(plan(), "planned on the image /img")
    assert script.startswith("#!/bin/bash\n")
    assert subprocess.run(["bash", "-n"], input=script, text=True, check=False).returncode == 0
    calls = record(script, tmp_path, booted=False)
    assert calls[0][:3] == ["apt_get", "install", "--no-install-recommends"] and calls[0][3:] == ["pkg-a"]
    assert ["put_file", PATH_EVIL, "640", "root", "adm", EVIL + "\n", "X.1"] in calls
    assert ["run", "visudo", "-c", "-f", PATH_EVIL] in calls  # due: its file changed
    assert ["set_attrs", "/etc/shadow", "640", "", "shadow", "X.2"] in calls
    assert not any(c[:2] == ["run", "sysctl"] for c in calls)  # a running value: not on an image
    (tmp_path / "booted").mkdir()
    booted = record(script, tmp_path / "booted", booted=True)
    assert ["run", "sysctl", "-w", EVIL] in booted
    assert not (Path("/tmp/owned")).exists()


class Unsafe(str):
    pass


class Loader(yaml.SafeLoader):
    pass


def _unsafe(loader: yaml.SafeLoader, node: yaml.Node) -> Unsafe:
    assert isinstance(node, yaml.ScalarNode)
    return Unsafe(loader.construct_scalar(node))


Loader.add_constructor("!unsafe", _unsafe)


def tasks_of(tasks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for t in tasks:
        out.append(t)
        out.extend(tasks_of(t.get("block", [])) + tasks_of(t.get("always", [])))
    return out


def test_a_line_break_in_the_source_stays_inside_the_comment() -> None:
    for text in (bash.render(plan(), "/img\ntouch /pwned"), ansible.render(plan(), "/img\ntouch /pwned")):
        assert not any(line.startswith("touch") for line in text.splitlines())


def test_ansible_marks_every_value_unsafe_and_tags_each_task() -> None:
    text = ansible.render(plan(), "planned on the image /img")
    play = yaml.load(text, Loader=Loader)[0]  # noqa: S506 - a SafeLoader with one more tag
    assert play["hosts"] == "all" and play["gather_facts"] is False
    tasks = tasks_of(play["tasks"])
    copy = next(t["ansible.builtin.copy"] for t in tasks if t.get("ansible.builtin.copy", {}).get("dest") == PATH_EVIL)
    assert copy["content"] == EVIL + "\n" and isinstance(copy["content"], Unsafe) and isinstance(copy["dest"], Unsafe)
    assert copy["mode"] == "0640" and copy["owner"] == "root" and copy["group"] == "adm"
    visudo = next(t for t in tasks if t.get("ansible.builtin.command", {}).get("argv", [None])[0] == "visudo")
    assert visudo["ansible.builtin.command"]["argv"] == ["visudo", "-c", "-f", PATH_EVIL]
    assert "is changed" in visudo["when"] and visudo["tags"] == ["X.1"]
    sysctl = next(t for t in tasks if t.get("ansible.builtin.command", {}).get("argv", [None])[0] == "sysctl")
    assert sysctl["ansible.builtin.command"]["argv"][2] == EVIL and sysctl["ignore_errors"] is True
    assert "fedharden_booted.stat.exists" in sysctl["when"]
    apt = next(t["ansible.builtin.apt"] for t in tasks if "ansible.builtin.apt" in t)
    assert apt["name"] == ["pkg-a"] and apt["state"] == "present"
    assert all(t.get("tags") for t in play["tasks"])


def test_cli_writes_the_script_and_the_playbook_and_refuses_mistakes(make_root: Callable[..., Path],
                                                                      tmp_path: Path) -> None:
    from click.testing import CliRunner

    from agent.cli import main

    root = make_root({"/etc/os-release": 'ID=debian\nVERSION_ID="12"\n', "/etc/login.defs": "PASS_MAX_DAYS 99999\n"})
    rep = tmp_path / "report.json"
    rep.write_text('{"results": [{"requirement": "HARDEN-30D.ACCT.4", "status": "fail"}]}')
    base = ["fix", "--root", str(root), "--state-dir", str(tmp_path / "s"), "--report", str(rep)]
    for fmt, name in (("bash", "fix.sh"), ("ansible", "playbook.yml")):
        out = CliRunner().invoke(main, [*base, "--format", fmt, "-o", str(tmp_path / name)])
        assert out.exit_code == 0 and out.output == "", out.output
    script = (tmp_path / "fix.sh").read_text()
    # (the fixture root has no /etc/passwd: its owner is the numeric id)
    assert "# HARDEN-30D.ACCT.4: /etc/login.defs\nput_file /etc/login.defs 644 0 0 'PASS_MAX_DAYS 365\n" in script
    play = yaml.load((tmp_path / "playbook.yml").read_text(), Loader=Loader)[0]  # noqa: S506
    assert any(t.get("tags") == ["HARDEN-30D.ACCT.4"] and "ansible.builtin.copy" in t for t in play["tasks"])
    assert (root / "etc/login.defs").read_text() == "PASS_MAX_DAYS 99999\n"  # nothing applied
    for args, message in (((("--format", "bash", "--apply")), "leave out --apply"),
                          (("--format", "ansible", "-o", str(tmp_path / "no/such/dir/p.yml")), "p.yml")):
        out = CliRunner().invoke(main, [*base, *args])
        assert out.exit_code == 2 and message in out.output and len(out.output.strip().splitlines()) == 1, out.output
    assert not (tmp_path / "no").exists()

"""The console script runs the command line with the cycle collector on, and freezes what the
command built when it ends (agent.console)."""
from __future__ import annotations

import gc
import subprocess
import sys

import pytest

from agent import __version__


def test_the_command_runs_with_the_collector_on_and_its_objects_are_frozen_at_the_end(monkeypatch: pytest.MonkeyPatch) -> None:
    from agent import cli, console

    seen: list[bool] = []
    monkeypatch.setattr(cli.Fedharden, "list_commands", lambda self, ctx: seen.append(gc.isenabled()) or [])
    monkeypatch.setattr(sys, "argv", ["fedharden", "--help"])
    try:
        with pytest.raises(SystemExit) as done:
            console.entry()
        assert done.value.code == 0
        assert seen == [True]  # --help lists the commands: the command ran with the collector on
        assert gc.isenabled() and gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_the_installed_script_exits_with_the_commands_code() -> None:
    script = "import sys; from agent.console import entry; sys.argv[1:] = ['--version']; entry()"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == f"fedharden, version {__version__}"
    script = "import sys; from agent.console import entry; sys.argv[1:] = ['no-such-command']; entry()"
    assert subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=60).returncode == 2

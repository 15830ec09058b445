"""file_mode, file_content and lines: attributes and whole or line-wise content."""
from __future__ import annotations

from typing import Callable

from checks.fixes import plan
from checks.fixes.model import Command, Files, SetAttributes, WriteFile


def test_file_mode_removes_bits_beyond_the_allowed_mode_and_keeps_stricter_ones(files: Callable[..., Files]) -> None:
    state = files({"/etc/shadow": "", "/etc/cron.d/a": "", "/etc/cron.d/b": ""},
                  modes={"/etc/shadow": 0o644, "/etc/cron.d/a": 0o600, "/etc/cron.d/b": 0o755},
                  owners={"/etc/shadow": ("root", "root")})
    assert plan({"type": "file_mode", "paths": ["/etc/shadow"], "owner": "root", "group": "shadow", "mode": "0640"},
                state) == (SetAttributes("/etc/shadow", 0o640, None, "shadow"),)
    assert plan({"type": "file_mode", "paths": ["/etc/cron.d/*"], "mode": "0700"}, state) == (
        SetAttributes("/etc/cron.d/b", 0o700),)
    assert plan({"type": "file_mode", "paths": ["/etc/missing"], "mode": "0600"}, state) == ()


def test_file_content_writes_the_whole_file_or_only_fixes_attributes(files: Callable[..., Files]) -> None:
    spec = {"type": "file_content", "path": "/etc/issue.net", "content": "Authorized use only.", "mode": "0644"}
    assert plan(spec, files({"/etc/issue.net": "Debian GNU/Linux 12\n"})) == (
        WriteFile("/etc/issue.net", "Authorized use only.\n", 0o644),)
    assert plan(spec, files({"/etc/issue.net": "Authorized use only.\n"}, modes={"/etc/issue.net": 0o666})) == (
        SetAttributes("/etc/issue.net", 0o644, "root", "root"),)
    assert plan(spec, files({"/etc/issue.net": "Authorized use only.\n"})) == ()


def test_lines_adds_missing_lines_and_removes_matching_ones(files: Callable[..., Files]) -> None:
    spec = {"type": "lines", "path": "/etc/security/limits.d/60-fedharden.conf", "present": ["* hard core 0"],
            "absent_matching": [r"^\*\s+soft\s+core"], "mode": "0644"}
    assert plan(spec, files({})) == (WriteFile("/etc/security/limits.d/60-fedharden.conf", "* hard core 0\n"),)
    old = "* soft core unlimited\n# keep\n"
    assert plan(spec, files({spec["path"]: old})) == (WriteFile(spec["path"], "# keep\n* hard core 0\n"),)
    assert plan(spec, files({spec["path"]: "# keep\n* hard core 0\n"})) == ()


def test_lines_with_only_absent_patterns_creates_nothing(files: Callable[..., Files]) -> None:
    assert plan({"type": "lines", "path": "/etc/x", "absent_matching": ["^a"]}, files({})) == ()


def test_a_sudoers_dropin_is_checked_by_visudo(files: Callable[..., Files]) -> None:
    spec = {"type": "lines", "path": "/etc/sudoers.d/50-fedharden", "present": ["Defaults use_pty"], "mode": "0440"}
    actions = plan(spec, files({}))
    assert actions[0] == WriteFile("/etc/sudoers.d/50-fedharden", "Defaults use_pty\n", 0o440)
    assert actions[1] == Command(("visudo", "-c", "-q", "-f", "/etc/sudoers.d/50-fedharden"), "sudo can parse it",
                                 image="chroot")

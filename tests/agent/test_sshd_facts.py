"""The sshd gatherer: /etc/default/ssh read as data, sshd's command line, Include edge cases."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import pytest

from agent.facts.context import Context
from agent.facts.sshd import ShellError, SshdOptions, parse_sshd, shell_assignments
from agent.hosts import RootfsHost
from checks import sshd
from checks.facts import ConfigFile

MakeRoot = Callable[..., Path]


def conf_of(root: Path) -> ConfigFile:
    return parse_sshd(Context(RootfsHost(str(root))), "/etc/ssh/sshd_config")


def test_shell_subset_values() -> None:
    text = ("# comment\n\nSSHD_OPTS=\nA='-o X=1'\nB=\"-o  Y=2\"  # trailing comment\nC=plain-word\n"
            "D=con'cat'\"enated\"\nA=last\n")
    assert shell_assignments(text) == {"SSHD_OPTS": ("", 3), "A": ("last", 8), "B": ("-o  Y=2", 5),
                                       "C": ("plain-word", 6), "D": ("concatenated", 7)}


@pytest.mark.parametrize(("text", "reason"), [
    ('SSHD_OPTS="$EXTRA"\n', "expansion"),
    ("SSHD_OPTS=`id`\n", "unsupported shell syntax"),
    ("export SSHD_OPTS=-4\n", "not a plain NAME=value"),
    ("SSHD_OPTS=-4 -6\n", "more than one word"),
    ("SSHD_OPTS='-4\n", "unterminated single quote"),
    ("if true; then SSHD_OPTS=-4; fi\n", "not a plain NAME=value"),
    ("SSHD_OPTS=-o;reboot\n", "unsupported shell syntax"),
])
def test_shell_outside_the_subset_is_refused_with_the_reason(text: str, reason: str) -> None:
    with pytest.raises(ShellError, match=reason):
        shell_assignments(text)


def test_command_line_options() -> None:
    options = SshdOptions()
    options.parse(["-D", "-oPermitRootLogin=no", "-o", "X11Forwarding yes", "-g", "1m", "-h", "/k", "-f", "/c"], 4)
    assert [(s.key, s.value, s.line) for s in options.lines] == [
        ("logingracetime", "60", 4), ("permitrootlogin", "no", 4), ("x11forwarding", "yes", 4), ("hostkey", "/k", 4)]
    assert options.config == "/c"
    for words, reason in ((["-Z"], "unknown sshd option -Z"), (["-o"], "needs an argument"),
                          (["stray"], "extra argument"), (["-o", "Match all"], "not supported"),
                          (["-o", "LoginGraceTime=soon"], "invalid time value")):
        with pytest.raises(ShellError, match=reason):
            SshdOptions().parse(words, 1)


def test_sshd_opts_come_first_and_f_changes_the_file(make_root: MakeRoot) -> None:
    root = make_root({
        "/etc/default/ssh": 'SSHD_OPTS="-f /etc/ssh/other_config -o MaxAuthTries=2"\n',
        "/etc/ssh/sshd_config": "MaxAuthTries 9\nPermitRootLogin yes\n",
        "/etc/ssh/other_config": "MaxAuthTries 5\nPermitRootLogin no\n",
    })
    conf = conf_of(root)
    assert sshd.resolve(conf, "maxauthtries", None)[0] == "2"
    value, setting = sshd.resolve(conf, "permitrootlogin", None)
    assert (value, setting and setting.file) == ("no", "/etc/ssh/other_config")
    assert conf.notes == ("sshd reads /etc/ssh/other_config (-f in /etc/default/ssh)",)


def test_includes_as_sshd_globs_them(make_root: MakeRoot) -> None:
    root = make_root({
        "/etc/ssh/sshd_config": ("Include /etc/ssh/absent.conf d/*/*.conf\nInclude .hidden/*\nFrobnicate yes\n"
                                 "PermitRootLogin no\n"),
        "/etc/ssh/d/a/1.conf": "MaxSessions 3\n",
        "/etc/ssh/d/b/0.conf": "MaxSessions 4\n",
        "/etc/ssh/d/.skip/0.conf": "MaxSessions 1\n",
        "/etc/ssh/.hidden/x": "MaxAuthTries 2\n",
    })
    conf = conf_of(root)
    assert conf.problems == ()  # a literal Include that does not exist is skipped, as glob(3) finds nothing
    assert sshd.resolve(conf, "maxsessions", None)[0] == "3"  # d/a before d/b; d/.skip not globbed
    assert sshd.resolve(conf, "maxauthtries", None)[0] == "2"  # an explicit dot pattern matches dot names
    assert conf.notes == ("/etc/ssh/sshd_config line 3: keyword 'frobnicate' is not one OpenSSH 9.2 knows",)


def test_refused_lines_are_problems(make_root: MakeRoot) -> None:
    root = make_root({"/etc/ssh/sshd_config": ("PermitRootLogin\nLoginGraceTime 1x\nMatch User a b\n"
                                               "Match Address 10.0.0.0/33\nMatch User x\nMACs hmac-sha1\n")})
    assert conf_of(root).problems == (
        '/etc/ssh/sshd_config line 1: no argument after keyword "PermitRootLogin"',
        "/etc/ssh/sshd_config line 2: invalid time value '1x'",
        "/etc/ssh/sshd_config line 3: Bad Match condition: Missing Match criteria for b",
        "/etc/ssh/sshd_config line 4: Bad Match condition: Invalid Match address argument '10.0.0.0/33'",
        "/etc/ssh/sshd_config line 6: Directive 'macs' is not allowed within a Match block",
    )


def test_reachable_values_are_shadowed_only_by_implied_conditions(make_root: MakeRoot) -> None:
    root = make_root({"/etc/ssh/sshd_config": (
        "PermitRootLogin no\n"
        "Match User admin\nPermitRootLogin without-password\n"
        "Match User admin Address 10.0.0.0/8\nPermitRootLogin yes\n"  # admin already took a value
        "Match Address 10.0.0.0/8\nPermitRootLogin forced-commands-only\n")})
    reached = [(r.value, r.condition) for r in sshd.reachable(conf_of(root), "PermitRootLogin", "without-password")]
    assert reached == [("no", ""), ("without-password", "User admin"), ("forced-commands-only", "Address 10.0.0.0/8")]


def test_only_regular_files_are_opened(make_root: MakeRoot) -> None:
    root = make_root({"/etc/ssh/sshd_config": "Include /etc/ssh/sshd_config.d/*\nPermitRootLogin no\n",
                      "/etc/ssh/sshd_config.d/.keep": ""})
    os.mkfifo(root / "etc/ssh/sshd_config.d/pipe")  # reading it would block the scan
    os.mkdir(root / "etc/ssh/sshd_config.d/subdir")  # sshd reads a directory as empty
    assert conf_of(root).problems == (
        "/etc/ssh/sshd_config.d/pipe: unreadable (/etc/ssh/sshd_config.d/pipe: is a FIFO, not a regular file)",)

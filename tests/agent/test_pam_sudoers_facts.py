"""The PAM and sudoers gatherers on fixture roots: what libpam and sudo would assemble."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from agent.facts import gather
from agent.facts.context import Context
from agent.hosts.rootfs import RootfsHost
from checks.facts import FactKey
from checks.pamdata import PamStack
from checks.sudoersdata import Sudoers


def test_pam_stack_follows_includes_and_keeps_bracket_fields_whole(make_root: Callable[..., Path]) -> None:
    root = make_root({
        "/etc/pam.d/passwd": "@include common-password\nsession required pam_env.so\n",
        "/etc/pam.d/common-password": (
            "# comment\n"
            "password requisite pam_pwquality.so retry=3 \\\n    minlen=12   # trailing\n"
            "password\t[success=1 default=ignore]\tpam_unix.so obscure yescrypt\n"
            "password substack local-password\n"),
        "/etc/pam.d/local-password": "auth required pam_deny.so\npassword required /lib/security/pam_pwhistory.so remember=5\n",
        "/etc/security/pwquality.conf": "minlen = 15\n",
    })
    facts = gather(Context(RootfsHost(str(root))), [FactKey("pam", "/etc/pam.d/passwd")])
    stack = facts.need(FactKey("pam", "/etc/pam.d/passwd"))
    assert isinstance(stack, PamStack) and stack.problems == ()
    assert [(line.type, line.control, line.module, line.args, line.where) for line in stack.lines] == [
        ("password", "requisite", "pam_pwquality", ("retry=3", "minlen=12"), "/etc/pam.d/common-password:2"),
        ("password", "[success=1 default=ignore]", "pam_unix", ("obscure", "yescrypt"), "/etc/pam.d/common-password:4"),
        ("password", "required", "pam_pwhistory", ("remember=5",), "/etc/pam.d/local-password:2"),
        ("session", "required", "pam_env", (), "/etc/pam.d/passwd:2"),
    ]
    assert [(s.key, s.value, s.file) for s in stack.lines[0].config] == [("minlen", "15", "/etc/security/pwquality.conf")]
    assert stack.lines[1].actions == {"success": "1", "default": "ignore"}


def test_pam_missing_include_is_a_problem(make_root: Callable[..., Path]) -> None:
    root = make_root({"/etc/pam.d/common-auth": "auth include nowhere\n"})
    facts = gather(Context(RootfsHost(str(root))), [FactKey("pam", "/etc/pam.d/common-auth")])
    stack = facts.need(FactKey("pam", "/etc/pam.d/common-auth"))
    assert isinstance(stack, PamStack)
    assert stack.problems == ("/etc/pam.d/common-auth:1: included file /etc/pam.d/nowhere does not exist "
                              "(libpam fails the stack)",)


def test_sudoers_reads_includes_in_sudo_order(make_root: Callable[..., Path]) -> None:
    root = make_root({
        "/etc/sudoers": "Defaults use_pty\n@includedir /etc/sudoers.d\n#include sudoers.local\n",
        "/etc/sudoers.local": "Defaults:alice, bob !use_pty\n",
        "/etc/sudoers.d/b": "ops ALL = NOPASSWD: /bin/ls, /bin/cat, PASSWD: /bin/sh\n",
        "/etc/sudoers.d/a": "Defaults logfile=\"/var/log/sudo.log\"\n",
        "/etc/sudoers.d/c.conf": "Defaults !logfile\n",
        "/etc/sudoers.d/d~": "Defaults !logfile\n",
    })
    facts = gather(Context(RootfsHost(str(root))), [FactKey("sudoers", "/etc/sudoers")])
    policy = facts.need(FactKey("sudoers", "/etc/sudoers"))
    assert isinstance(policy, Sudoers) and policy.problems == ()
    assert policy.files == ("/etc/sudoers", "/etc/sudoers.d/a", "/etc/sudoers.d/b", "/etc/sudoers.local")
    assert [(d.describe(), d.where) for d in policy.defaults] == [
        ("Defaults use_pty", "/etc/sudoers:1"),
        ("Defaults logfile=/var/log/sudo.log", "/etc/sudoers.d/a:1"),
        ("Defaults:alice,bob !use_pty", "/etc/sudoers.local:1"),
    ]
    assert [(c.users, c.command, c.tags) for c in policy.commands] == [
        ("ops", "/bin/ls", ("NOPASSWD",)), ("ops", "/bin/cat", ("NOPASSWD",)), ("ops", "/bin/sh", ("PASSWD",))]


def test_an_included_fifo_is_never_opened(make_root: Callable[..., Path]) -> None:
    import os

    root = make_root({"/etc/sudoers": "Defaults use_pty\n@include /etc/sudoers.pipe\n",
                      "/etc/pam.d/common-auth": "@include pipe\n"})
    os.mkfifo(root / "etc/sudoers.pipe")
    os.mkfifo(root / "etc/pam.d/pipe")
    facts = gather(Context(RootfsHost(str(root))), [FactKey("sudoers", "/etc/sudoers"),
                                                    FactKey("pam", "/etc/pam.d/common-auth")])
    policy = facts.need(FactKey("sudoers", "/etc/sudoers"))
    stack = facts.need(FactKey("pam", "/etc/pam.d/common-auth"))
    assert isinstance(policy, Sudoers) and isinstance(stack, PamStack)
    assert policy.problems == ("/etc/sudoers:2: included file /etc/sudoers.pipe unreadable: "
                               "/etc/sudoers.pipe: is a FIFO, not a regular file",)
    assert stack.problems == ("/etc/pam.d/common-auth:1: /etc/pam.d/pipe unreadable: /etc/pam.d/pipe: is a FIFO, not a regular file",)

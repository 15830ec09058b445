"""The fix types that set keys in a file: sshd_option, sysctl, key_value, systemd_dropin.
Each plans the whole new file, keeps what others wrote there, and plans nothing the second time."""
from __future__ import annotations

from typing import Callable

from checks.fixes import plan
from checks.fixes.model import Command, Files, WriteFile
from checks.fixes.sshd_option import DROPIN as SSHD_DROPIN

STOCK_SSHD = "Include /etc/ssh/sshd_config.d/*.conf\n\n#PermitRootLogin prohibit-password\nX11Forwarding yes\n"


def writes(actions: tuple[object, ...]) -> dict[str, str]:
    return {a.path: a.content for a in actions if isinstance(a, WriteFile)}


def test_sshd_option_writes_a_dropin_and_merges_with_it(files: Callable[..., Files]) -> None:
    state = files({"/etc/ssh/sshd_config": STOCK_SSHD})
    first = plan({"type": "sshd_option", "set": {"PermitRootLogin": "no", "MaxAuthTries": 4}}, state)
    assert writes(first) == {SSHD_DROPIN: "# Written by fedharden fix; each setting serves a requirement of a "
                                          "directive.\nPermitRootLogin no\nMaxAuthTries 4\n"}
    assert [a.argv for a in first if isinstance(a, Command)] == [("sshd", "-t"), ("systemctl", "reload", "ssh")]
    after = state.with_actions(first)
    second = plan({"type": "sshd_option", "set": {"maxauthtries": 3, "X11Forwarding": False}}, after)
    assert writes(second)[SSHD_DROPIN].splitlines()[1:] == ["PermitRootLogin no", "maxauthtries 3", "X11Forwarding no"]
    assert plan({"type": "sshd_option", "set": {"PermitRootLogin": "no"}}, after) == ()


def test_sshd_option_adds_the_include_when_the_vendor_file_lacks_it(files: Callable[..., Files]) -> None:
    state = files({"/etc/ssh/sshd_config": "PermitRootLogin yes\n"}, modes={"/etc/ssh/sshd_config": 0o600})
    actions = plan({"type": "sshd_option", "set": {"PermitRootLogin": "no"}}, state)
    main = next(a for a in actions if isinstance(a, WriteFile) and a.path == "/etc/ssh/sshd_config")
    assert main.content == "Include /etc/ssh/sshd_config.d/*.conf\nPermitRootLogin yes\n" and main.mode == 0o600


def test_sysctl_persists_and_sets_the_running_value(files: Callable[..., Files]) -> None:
    actions = plan({"type": "sysctl", "set": {"net.ipv4.ip_forward": 0, "kernel.randomize_va_space": 2}}, files({}))
    assert writes(actions) == {"/etc/sysctl.d/99-zz-fedharden.conf": (
        "# Written by fedharden fix; each setting serves a requirement of a directive.\n"
        "net.ipv4.ip_forward = 0\nkernel.randomize_va_space = 2\n")}
    assert [a.argv for a in actions if isinstance(a, Command)] == [
        ("sysctl", "-w", "net.ipv4.ip_forward=0"), ("sysctl", "-w", "kernel.randomize_va_space=2")]
    assert all(a.image == "skip" for a in actions if isinstance(a, Command))  # the running kernel only
    assert plan({"type": "sysctl", "set": {"net.ipv4.ip_forward": 0}}, files({}).with_actions(actions)) == ()


def test_key_value_replaces_in_place_and_drops_later_duplicates(files: Callable[..., Files]) -> None:
    login_defs = "# comment PASS_MAX_DAYS 1\nPASS_MAX_DAYS\t99999\nPASS_MIN_DAYS 0\nPASS_MAX_DAYS 5\n"
    state = files({"/etc/login.defs": login_defs}, modes={"/etc/login.defs": 0o640})
    actions = plan({"type": "key_value", "path": "/etc/login.defs", "dialect": "login_defs",
                    "set": {"PASS_MAX_DAYS": 365, "UMASK": "027"}}, state)
    assert actions == (WriteFile("/etc/login.defs", "# comment PASS_MAX_DAYS 1\nPASS_MAX_DAYS 365\nPASS_MIN_DAYS 0\n"
                                                    "UMASK 027\n", 0o640),)
    shell = plan({"type": "key_value", "path": "/etc/default/useradd", "dialect": "useradd",
                  "set": {"INACTIVE": 45}}, files({"/etc/default/useradd": "# INACTIVE=-1\nSHELL=/bin/sh\n"}))
    assert writes(shell) == {"/etc/default/useradd": "# INACTIVE=-1\nSHELL=/bin/sh\nINACTIVE=45\n"}


def test_key_value_apt_writes_a_dropin_with_quoted_values(files: Callable[..., Files]) -> None:
    actions = plan({"type": "key_value", "dialect": "apt", "set": {"APT::Get::AllowUnauthenticated": False}},
                   files({}))
    assert writes(actions) == {"/etc/apt/apt.conf.d/99fedharden": (
        "// Written by fedharden fix; each setting serves a requirement of a directive.\n"
        'APT::Get::AllowUnauthenticated "false";\n')}


def test_systemd_dropin_merges_a_section(files: Callable[..., Files]) -> None:
    path = "/etc/systemd/journald.conf.d/60-fedharden.conf"
    first = plan({"type": "systemd_dropin", "config": "journald", "section": "Journal",
                  "set": {"Storage": "persistent"}}, files({}))
    assert [a.argv for a in first if isinstance(a, Command)] == [("systemctl", "restart", "systemd-journald.service")]
    second = plan({"type": "systemd_dropin", "config": "journald", "section": "Journal",
                   "set": {"Compress": True, "Storage": "persistent"}}, files({}).with_actions(first))
    assert writes(second)[path].splitlines()[1:] == ["", "[Journal]", "Storage=persistent", "Compress=yes"]
    unit = plan({"type": "systemd_dropin", "unit": "tmp.mount", "section": "Mount", "set": {"Options": "nodev"}},
                files({}))
    assert list(writes(unit)) == ["/etc/systemd/system/tmp.mount.d/60-fedharden.conf"]

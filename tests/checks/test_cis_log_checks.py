"""The check types for logging, banners, AppArmor and questions to a person, judged on facts
built in the test."""
from __future__ import annotations

from typing import Any

import pytest

from checks import evaluate
from checks.facts import (
    Account, AppArmorProfiles, ConfigFile, ConfigSetting, FactKey, Facts, FileTree, OsRelease, TextFile, TextFiles,
    Unavailable, UnitFile, WalkEntry,
)
from checks.model import Status

DEBIAN = OsRelease("debian", "12")


def judge(spec: dict[str, Any], values: dict[FactKey, object]) -> Status:
    return evaluate(spec, Facts(values)).status


# --- banner ----------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "required", "status"),
    [
        ("Authorized users only.", True, Status.PASS),
        ("Debian GNU/Linux 12 \\n \\l", True, Status.FAIL),
        ("Welcome, DEBIAN users", False, Status.FAIL),
        ("kernel \\r on \\m", False, Status.FAIL),
        ("\\S{PRETTY_NAME}", False, Status.FAIL),  # \S is \s in grep -i
        ("", True, Status.FAIL),
        ("", False, Status.PASS),
        (None, True, Status.FAIL),
        (None, False, Status.PASS),
        ("# a line starting with a hash is shown: debian", False, Status.FAIL),
    ],
)
def test_banner(text: str | None, required: bool, status: Status) -> None:
    lines = None if text is None else TextFile("/etc/issue", tuple((1, t) for t in text.splitlines() if t.strip()))
    spec = {"type": "banner", "path": "/etc/issue", "required": required}
    assert judge(spec, {FactKey("os_release"): DEBIAN, FactKey("raw_text", "/etc/issue"): lines}) is status


def test_banner_uses_the_hosts_own_id() -> None:
    spec = {"type": "banner", "path": "/etc/motd"}
    text = TextFile("/etc/motd", ((1, "Debian GNU/Linux"),))
    assert judge(spec, {FactKey("os_release"): OsRelease("rhel", "9"), FactKey("raw_text", "/etc/motd"): text}) \
        is Status.PASS


# --- manual ----------------------------------------------------------------------------

def test_manual_alone_and_with_a_judged_part() -> None:
    ask = {"type": "manual", "question": "Is the password appropriate?"}
    outcome = evaluate(ask, Facts({}))
    assert outcome.status is Status.MANUAL and outcome.message == "Is the password appropriate?"
    file = {"type": "lines", "path": "/boot/grub/grub.cfg", "contains": ["^set superusers="]}
    key = FactKey("lines", "/boot/grub/grub.cfg")
    with_password = TextFiles("/boot/grub/grub.cfg", (TextFile("/boot/grub/grub.cfg", ((1, 'set superusers="a"'),)),))
    without = TextFiles("/boot/grub/grub.cfg", (TextFile("/boot/grub/grub.cfg", ((1, "menuentry x {"),)),))
    assert judge({"all": [file, ask]}, {key: with_password}) is Status.MANUAL
    assert judge({"all": [file, ask]}, {key: without}) is Status.FAIL


# --- apparmor --------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("loaded", "status"),
    [
        (AppArmorProfiles(True, (("/usr/sbin/ntpd", "enforce"), ("man_filter", "complain"))), Status.PASS),
        (AppArmorProfiles(True, (("/usr/sbin/ntpd", "enforce"), ("userns", "unconfined"))), Status.FAIL),
        (AppArmorProfiles(True, (("x", "kill"),)), Status.FAIL),
        (AppArmorProfiles(True, ()), Status.FAIL),
        (AppArmorProfiles(False), Status.FAIL),
        (Unavailable("loaded AppArmor profiles exist only on a running system", True), Status.NOT_APPLICABLE),
        (Unavailable("permission denied"), Status.ERROR),
    ],
)
def test_apparmor(loaded: object, status: Status) -> None:
    assert judge({"type": "apparmor"}, {FactKey("apparmor_profiles"): loaded}) is status


def test_apparmor_enforce_only() -> None:
    loaded = AppArmorProfiles(True, (("a", "enforce"), ("b", "complain")))
    assert judge({"type": "apparmor", "modes": ["enforce"]}, {FactKey("apparmor_profiles"): loaded}) is Status.FAIL


# --- log_files -------------------------------------------------------------------------

RULES = [
    {"names": ["wtmp", "lastlog"], "max_mode": "0664", "owner": ["root"], "group": ["root", "utmp"]},
    {"paths": ["/var/log/sssd/*"], "max_mode": "0660", "owner": ["root", "sssd"], "group": ["root", "sssd"]},
    {"names": ["*"], "max_mode": "0640", "owner": ["root", "syslog"], "group": ["root", "adm"],
     "system_accounts": True},
]
SPEC = {"type": "log_files", "path": "/var/log", "rules": RULES}
ACCOUNTS = (Account("root", 0, 0, "/root", "/bin/bash", 1), Account("daemon", 1, 1, "/", "/usr/sbin/nologin", 2),
            Account("alice", 1000, 1000, "/home/alice", "/bin/bash", 3))
SHELLS = TextFiles("/etc/shells", (TextFile("/etc/shells", ((1, "/bin/sh"), (2, "/bin/bash"))),))


def entry(path: str, mode: int, owner: str = "root", group: str = "root") -> WalkEntry:
    return WalkEntry(path, "file", mode, 0, 0, owner, group)


def tree(*entries: WalkEntry, **kw: Any) -> dict[FactKey, object]:
    return {FactKey("file_tree", "/var/log"): FileTree("/var/log", True, entries, **kw),
            FactKey("passwd"): ACCOUNTS, FactKey("lines", "/etc/shells"): SHELLS}


@pytest.mark.parametrize(
    ("files", "status"),
    [
        ((entry("/var/log/wtmp", 0o664, group="utmp"), entry("/var/log/dpkg.log", 0o640, group="adm")), Status.PASS),
        ((entry("/var/log/wtmp", 0o666, group="utmp"),), Status.FAIL),
        ((entry("/var/log/dpkg.log", 0o644),), Status.FAIL),  # the first rule that matches decides
        ((entry("/var/log/sssd/sssd.log", 0o660, "sssd", "sssd"),), Status.PASS),
        ((entry("/var/log/app.log", 0o640, "daemon", "daemon"),), Status.PASS),  # a service's own log
        ((entry("/var/log/app.log", 0o640, "alice", "root"),), Status.FAIL),  # a person's
        ((entry("/var/log/app.log", 0o640, "root", "alice"),), Status.FAIL),  # group of a person, owner root
        ((entry("/var/log/lastlog", 0o4664, group="utmp"),), Status.FAIL),  # set-ID bits count
    ],
)
def test_log_files(files: tuple[WalkEntry, ...], status: Status) -> None:
    assert judge(SPEC, tree(*files)) is status


def test_log_files_incomplete_walk_is_an_error_unless_something_already_fails() -> None:
    good = entry("/var/log/dpkg.log", 0o640)
    assert judge(SPEC, tree(good, unreadable=("/var/log/private: permission denied",))) is Status.ERROR
    assert judge(SPEC, tree(good, truncated=True)) is Status.ERROR
    assert judge(SPEC, tree(entry("/var/log/x", 0o666), truncated=True)) is Status.FAIL


def test_log_files_absent_directory_passes() -> None:
    assert judge(SPEC, {FactKey("file_tree", "/var/log"): FileTree("/var/log", False),
                        FactKey("passwd"): ACCOUNTS, FactKey("lines", "/etc/shells"): SHELLS}) is Status.PASS


# --- service enabled_or_static, config dialect systemd ----------------------------------

@pytest.mark.parametrize(("state", "status"), [("static", Status.PASS), ("enabled", Status.PASS),
                                              ("masked", Status.FAIL), ("not-found", Status.FAIL),
                                              ("disabled", Status.FAIL)])
def test_enabled_or_static(state: str, status: Status) -> None:
    spec = {"type": "service", "name": "systemd-journald", "state": "enabled_or_static"}
    unit = UnitFile("systemd-journald.service", state)
    assert judge(spec, {FactKey("unit", "systemd-journald.service"): unit}) is status


def test_systemd_dialect_keys_are_per_section_and_case_sensitive() -> None:
    spec = {"type": "config", "path": "/etc/systemd/journald.conf", "dialect": "systemd", "section": "Journal",
            "key": "Storage", "missing_file": "default", "equals": "persistent"}
    key = FactKey("config", "systemd:/etc/systemd/journald.conf")

    def conf(*settings: tuple[str, str]) -> dict[FactKey, object]:
        return {key: ConfigFile("/etc/systemd/journald.conf", "systemd", True,
                                tuple(ConfigSetting(k, v, "/etc/systemd/journald.conf", n)
                                      for n, (k, v) in enumerate(settings, 1)), case_sensitive=True)}

    assert judge(spec, conf(("Journal.Storage", "persistent"))) is Status.PASS
    assert judge(spec, conf(("Journal.Storage", "persistent"), ("Journal.Storage", "volatile"))) is Status.FAIL
    assert judge(spec, conf(("Journal.storage", "persistent"))) is Status.FAIL
    assert judge(spec, conf(("Upload.Storage", "persistent"))) is Status.FAIL

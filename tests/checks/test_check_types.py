"""Every check type judged on facts built in the test: a pass and a fail scenario each."""
from __future__ import annotations

from typing import Any

import pytest

from checks import evaluate, needs
from checks.facts import (
    Account, ConfigFile, ConfigSetting, FactKey, Facts, FileInfo, ModprobeRule, Mount, Package, PackageDB,
    ShadowEntry, Socket, SysctlSetting, Unavailable, UnitFile,
)
from checks.model import Status


def judge(spec: dict[str, Any], values: dict[FactKey, object]) -> Status:
    facts = Facts(values)
    assert needs(spec) <= set(values) | {k for k in needs(spec) if k not in values}
    return evaluate(spec, facts).status


# --- file ------------------------------------------------------------------------------

SHADOW = {"type": "file", "path": "/etc/shadow", "owner": "root", "max_mode": "0640"}


@pytest.mark.parametrize(
    ("info", "status"),
    [
        (FileInfo("/etc/shadow", True, "file", 0o640, 0, 42, "root", "shadow"), Status.PASS),
        (FileInfo("/etc/shadow", True, "file", 0o600, 0, 0, "root", "root"), Status.PASS),
        (FileInfo("/etc/shadow", True, "file", 0o644, 0, 42, "root", "shadow"), Status.FAIL),
        (FileInfo("/etc/shadow", True, "file", 0o640, 1000, 42, "alice", "shadow"), Status.FAIL),
        (FileInfo("/etc/shadow", False), Status.FAIL),
        (Unavailable("permission denied"), Status.ERROR),
    ],
)
def test_file(info: object, status: Status) -> None:
    assert judge(SHADOW, {FactKey("file", "/etc/shadow"): info}) is status


def test_file_absent() -> None:
    spec = {"type": "file", "path": "/etc/hosts.equiv", "exists": False}
    key = FactKey("file", "/etc/hosts.equiv")
    assert judge(spec, {key: FileInfo("/etc/hosts.equiv", False)}) is Status.PASS
    assert judge(spec, {key: FileInfo("/etc/hosts.equiv", True, "file", 0o644, 0, 0)}) is Status.FAIL


def test_file_mode_is_bitwise_not_numeric() -> None:
    # 0600 < 0640 numerically but 0601 is not "at most 0640": the other-execute bit is extra.
    spec = {"type": "file", "path": "/x", "max_mode": "0640"}
    key = FactKey("file", "/x")
    assert judge(spec, {key: FileInfo("/x", True, "file", 0o601, 0, 0)}) is Status.FAIL
    assert judge(spec, {key: FileInfo("/x", True, "file", 0o4640, 0, 0)}) is Status.FAIL


# --- config ----------------------------------------------------------------------------

def sshd(*settings: ConfigSetting) -> dict[FactKey, object]:
    return {FactKey("config", "sshd:/etc/ssh/sshd_config"):
            ConfigFile("/etc/ssh/sshd_config", "sshd", True, settings, first_wins=True)}


ROOT_LOGIN = {"type": "config", "path": "/etc/ssh/sshd_config", "dialect": "sshd", "key": "PermitRootLogin",
              "default": "prohibit-password", "equals": "no"}


def test_config_first_match_wins_for_sshd() -> None:
    first_no = sshd(ConfigSetting("permitrootlogin", "no", "/etc/ssh/sshd_config.d/a.conf", 1),
                    ConfigSetting("permitrootlogin", "yes", "/etc/ssh/sshd_config", 30))
    first_yes = sshd(ConfigSetting("permitrootlogin", "yes", "/etc/ssh/sshd_config.d/a.conf", 1),
                     ConfigSetting("permitrootlogin", "no", "/etc/ssh/sshd_config", 30))
    assert judge(ROOT_LOGIN, first_no) is Status.PASS
    assert judge(ROOT_LOGIN, first_yes) is Status.FAIL


def test_config_default_applies_when_unset() -> None:
    assert judge(ROOT_LOGIN, sshd()) is Status.FAIL  # prohibit-password is not "no"
    spec = dict(ROOT_LOGIN, key="PermitEmptyPasswords", default="no")
    assert judge(spec, sshd()) is Status.PASS


def test_config_match_block_weakening_fails() -> None:
    facts = sshd(ConfigSetting("permitrootlogin", "no", "/etc/ssh/sshd_config", 3),
                 ConfigSetting("permitrootlogin", "yes", "/etc/ssh/sshd_config", 40, match="Address 10.0.0.0/8"))
    outcome = evaluate(ROOT_LOGIN, Facts(facts))
    assert outcome.status is Status.FAIL
    assert any("Match Address 10.0.0.0/8" in e.actual for e in outcome.evidence)


def test_config_numeric_bounds_and_last_wins() -> None:
    spec = {"type": "config", "path": "/etc/login.defs", "dialect": "login_defs", "key": "PASS_MAX_DAYS",
            "at_most": 365}
    key = FactKey("config", "login_defs:/etc/login.defs")
    good = ConfigFile("/etc/login.defs", "login_defs", True, (
        ConfigSetting("pass_max_days", "99999", "/etc/login.defs", 1),
        ConfigSetting("pass_max_days", "90", "/etc/login.defs", 9)))
    bad = ConfigFile("/etc/login.defs", "login_defs", True, (
        ConfigSetting("pass_max_days", "90", "/etc/login.defs", 1),
        ConfigSetting("pass_max_days", "99999", "/etc/login.defs", 9)))
    assert judge(spec, {key: good}) is Status.PASS
    assert judge(spec, {key: bad}) is Status.FAIL
    assert judge(spec, {key: ConfigFile("/etc/login.defs", "login_defs", False)}) is Status.FAIL
    assert judge(spec, {key: ConfigFile("/etc/login.defs", "login_defs", True)}) is Status.FAIL  # unset, no default


# --- sysctl ----------------------------------------------------------------------------

FWD = {"type": "sysctl", "key": "net.ipv4.ip_forward", "equals": 0}
RUN = FactKey("sysctl", "net.ipv4.ip_forward")
PERSIST = FactKey("sysctl_persisted")


def persisted(*values: tuple[str, str]) -> tuple[SysctlSetting, ...]:
    return tuple(SysctlSetting(k, v, "/etc/sysctl.d/x.conf", i + 1) for i, (k, v) in enumerate(values))


@pytest.mark.parametrize(
    ("runtime", "saved", "status"),
    [
        ("0", persisted(("net.ipv4.ip_forward", "0")), Status.PASS),
        ("1", persisted(("net.ipv4.ip_forward", "0")), Status.FAIL),  # not applied yet
        ("0", persisted(("net.ipv4.ip_forward", "1")), Status.FAIL),  # lost at reboot
        ("0", persisted(), Status.FAIL),  # not persisted and no stated default
        ("0", persisted(("net.ipv4.ip_forward", "1"), ("net.ipv4.ip_forward", "0")), Status.PASS),  # last wins
        (Unavailable("offline image", not_applicable=True), persisted(("net.ipv4.ip_forward", "0")), Status.PASS),
        (Unavailable("offline image", not_applicable=True), persisted(("net.ipv4.ip_forward", "1")), Status.FAIL),
        (Unavailable("permission denied"), persisted(("net.ipv4.ip_forward", "0")), Status.ERROR),
    ],
)
def test_sysctl(runtime: object, saved: tuple[SysctlSetting, ...], status: Status) -> None:
    assert judge(FWD, {RUN: runtime, PERSIST: saved}) is status


def test_sysctl_default_and_globs() -> None:
    spec = {"type": "sysctl", "key": "net.ipv4.conf.all.rp_filter", "default": 0, "equals": 1}
    run = FactKey("sysctl", "net.ipv4.conf.all.rp_filter")
    assert judge(spec, {run: "1", PERSIST: persisted(("net.ipv4.conf.*.rp_filter", "1"))}) is Status.PASS
    assert judge(spec, {run: "1", PERSIST: persisted()}) is Status.FAIL  # default 0 after reboot
    assert judge(spec, {run: None, PERSIST: persisted()}) is Status.NOT_APPLICABLE  # no such parameter


# --- package ---------------------------------------------------------------------------

def db(fmt: str, *pkgs: Package) -> dict[FactKey, object]:
    return {FactKey("packages"): PackageDB(fmt, {p.name: (p,) for p in pkgs})}


def test_package_absent_and_installed() -> None:
    absent = {"type": "package", "name": ["telnetd", "telnet-server"], "state": "absent"}
    assert judge(absent, db("dpkg", Package("bash", "5.2"))) is Status.PASS
    assert judge(absent, db("rpm", Package("telnet-server", "0.17-85"))) is Status.FAIL
    installed = {"type": "package", "name": "auditd"}
    assert judge(installed, db("dpkg", Package("auditd", "1:3.0.9-1"))) is Status.PASS
    assert judge(installed, db("dpkg")) is Status.FAIL


@pytest.mark.parametrize(
    ("fmt", "version", "minimum", "status"),
    [
        ("dpkg", "1:9.2p1-2+deb12u3", "1:9.2p1-2+deb12u2", Status.PASS),
        ("dpkg", "1:9.2p1-2+deb12u1", "1:9.2p1-2+deb12u2", Status.FAIL),
        ("dpkg", "1.0~rc1-1", "1.0-1", Status.FAIL),  # tilde sorts before release
        ("dpkg", "2:1.0-1", "10.0-1", Status.PASS),  # epoch wins
        ("rpm", "1.0.10-1.el9", "1.0.9-1.el9", Status.PASS),  # numeric, not lexical
        ("rpm", "1.0-1.el9", "1.0a-1.el9", Status.FAIL),
    ],
)
def test_package_version_ordering(fmt: str, version: str, minimum: str, status: Status) -> None:
    spec = {"type": "package", "name": "openssh-server", "min_version": minimum}
    assert judge(spec, db(fmt, Package("openssh-server", version))) is status


# --- service ---------------------------------------------------------------------------

def units(**states: str) -> dict[FactKey, object]:
    return {FactKey("unit", n): UnitFile(n, s) for n, s in states.items()}


def test_service_states() -> None:
    avahi = {"type": "service", "name": ["avahi-daemon.service", "avahi-daemon.socket"], "state": "not_enabled"}
    assert judge(avahi, units(**{"avahi-daemon.service": "disabled", "avahi-daemon.socket": "not-found"})) is Status.PASS
    assert judge(avahi, units(**{"avahi-daemon.service": "enabled", "avahi-daemon.socket": "disabled"})) is Status.FAIL
    sync = {"type": "service", "name": ["chrony", "systemd-timesyncd"], "state": "enabled"}
    assert judge(sync, units(**{"chrony.service": "not-found", "systemd-timesyncd.service": "enabled"})) is Status.PASS
    assert judge(sync, units(**{"chrony.service": "disabled", "systemd-timesyncd.service": "masked"})) is Status.FAIL
    masked = {"type": "service", "name": "rsync", "state": "masked"}
    assert judge(masked, units(**{"rsync.service": "masked"})) is Status.PASS
    assert judge(masked, units(**{"rsync.service": "disabled"})) is Status.FAIL
    runs = {"type": "service", "name": "dailyaidecheck.service", "state": "unmasked"}
    for state, status in (("static", Status.PASS), ("disabled", Status.PASS), ("masked", Status.FAIL),
                          ("not-found", Status.FAIL)):
        assert judge(runs, units(**{"dailyaidecheck.service": state})) is status, state


def test_service_not_in_use_offline_and_live() -> None:
    """A "not in use" service: not enabled, and not running where activity is known."""
    spec = {"type": "service", "name": "rpcbind", "state": "not_enabled", "active": False}
    key = FactKey("unit", "rpcbind.service")
    offline = evaluate(spec, Facts({key: UnitFile("rpcbind.service", "disabled")}))
    assert offline.status is Status.PASS and "only on a running system" in offline.message
    assert judge(spec, {key: UnitFile("rpcbind.service", "disabled", "", "active")}) is Status.FAIL
    assert judge(spec, {key: UnitFile("rpcbind.service", "masked", "", "inactive")}) is Status.PASS


def test_service_active_state() -> None:
    spec = {"type": "service", "name": "auditd", "active": True}
    key = FactKey("unit", "auditd.service")
    assert judge(spec, {key: UnitFile("auditd.service", "enabled", "", "active")}) is Status.PASS
    assert judge(spec, {key: UnitFile("auditd.service", "enabled", "", "inactive")}) is Status.FAIL
    assert judge(spec, {key: UnitFile("auditd.service", "enabled")}) is Status.NOT_APPLICABLE  # offline image


# --- listening -------------------------------------------------------------------------

SSH_23_02 = {"type": "listening", "allow": "private", "ports": [{"port": 22, "proto": "tcp", "service": "ssh"}]}


def listening(sockets: tuple[Socket, ...], addresses: tuple[str, ...] = ("127.0.0.1", "10.1.2.3")) -> dict[FactKey, object]:
    return {FactKey("sockets"): sockets, FactKey("addresses"): addresses}


@pytest.mark.parametrize(
    ("sockets", "addresses", "status"),
    [
        ((), ("127.0.0.1",), Status.PASS),
        ((Socket("tcp", "127.0.0.1", 22),), ("127.0.0.1", "198.51.100.7"), Status.PASS),
        ((Socket("tcp6", "::1", 22),), ("::1",), Status.PASS),
        ((Socket("tcp", "10.1.2.3", 22),), ("127.0.0.1", "10.1.2.3"), Status.MANUAL),
        ((Socket("tcp", "0.0.0.0", 22),), ("127.0.0.1", "10.1.2.3", "fe80::1"), Status.MANUAL),
        ((Socket("tcp", "0.0.0.0", 22),), ("127.0.0.1", "10.1.2.3", "8.8.4.4"), Status.FAIL),
        ((Socket("tcp6", "::", 22),), ("127.0.0.1", "2001:4860:4860::8888"), Status.FAIL),
        ((Socket("tcp", "8.8.4.4", 22),), ("127.0.0.1", "8.8.4.4"), Status.FAIL),
        ((Socket("tcp", "8.8.4.4", 2222),), ("8.8.4.4",), Status.PASS),  # another port
        ((Socket("udp", "8.8.4.4", 22),), ("8.8.4.4",), Status.PASS),  # another protocol
    ],
)
def test_listening_bod_23_02(sockets: tuple[Socket, ...], addresses: tuple[str, ...], status: Status) -> None:
    assert judge(SSH_23_02, listening(sockets, addresses)) is status


def test_listening_loopback_only_and_offline() -> None:
    smtp = {"type": "listening", "allow": "loopback", "ports": [{"port": 25, "proto": "tcp"}]}
    assert judge(smtp, listening((Socket("tcp", "127.0.0.1", 25),))) is Status.PASS
    assert judge(smtp, listening((Socket("tcp", "10.1.2.3", 25),))) is Status.FAIL
    offline = {FactKey("sockets"): Unavailable("no sockets in an image", True),
               FactKey("addresses"): Unavailable("no addresses in an image", True)}
    assert judge(smtp, offline) is Status.NOT_APPLICABLE


# --- kernel_module ---------------------------------------------------------------------

CRAMFS = {"type": "kernel_module", "name": "cramfs", "state": "disabled"}


def modprobe(*rules: ModprobeRule, loaded: object = frozenset()) -> dict[FactKey, object]:
    return {FactKey("modprobe"): rules, FactKey("modules_loaded"): loaded}


def test_kernel_module() -> None:
    install = ModprobeRule("install", "cramfs", "/bin/false", "/etc/modprobe.d/cramfs.conf", 1)
    blacklist = ModprobeRule("blacklist", "cramfs", "", "/etc/modprobe.d/cramfs.conf", 2)
    assert judge(CRAMFS, modprobe(install, blacklist)) is Status.PASS
    assert judge(CRAMFS, modprobe(blacklist)) is Status.FAIL  # blacklist alone does not stop modprobe cramfs
    assert judge(CRAMFS, modprobe(install, loaded=frozenset({"cramfs"}))) is Status.FAIL
    assert judge(CRAMFS, modprobe(install, loaded=Unavailable("image", True))) is Status.PASS
    assert judge(dict(CRAMFS, require_blacklist=True), modprobe(install)) is Status.FAIL
    usb = {"type": "kernel_module", "name": "usb-storage", "state": "disabled"}
    rule = ModprobeRule("install", "usb_storage", "/bin/true", "/etc/modprobe.d/usb.conf", 1)
    assert judge(usb, modprobe(rule, loaded=frozenset({"usb_storage"}))) is Status.FAIL  # - and _ are one name
    assert judge(usb, modprobe(rule)) is Status.PASS


# --- mount -----------------------------------------------------------------------------

TMP = {"type": "mount", "path": "/tmp", "options": ["nodev", "nosuid", "noexec"]}


def mounts(runtime: object, fstab: tuple[Mount, ...]) -> dict[FactKey, object]:
    return {FactKey("mounts"): runtime, FactKey("boot_mounts", "/tmp"): fstab}


def test_mount() -> None:
    good = Mount("/tmp", "tmpfs", "tmpfs", ("rw", "nodev", "nosuid", "noexec"), "/proc/self/mounts")
    weak = Mount("/tmp", "tmpfs", "tmpfs", ("rw", "nosuid"), "/etc/fstab:7")
    assert judge(TMP, mounts((good,), ())) is Status.PASS
    assert judge(TMP, mounts((good,), (weak,))) is Status.FAIL  # next boot would be weak
    assert judge(TMP, mounts((), ())) is Status.NOT_APPLICABLE
    assert judge(dict(TMP, separate=True), mounts((), ())) is Status.FAIL
    assert judge(TMP, mounts(Unavailable("image", True), (weak,))) is Status.FAIL
    # Only the last mount stacked on a mount point is in effect.
    assert judge(TMP, mounts((weak, good), ())) is Status.PASS


# --- accounts --------------------------------------------------------------------------

def passwd(*accounts: Account) -> dict[FactKey, object]:
    return {FactKey("passwd"): accounts}


def test_accounts_passwd_rules() -> None:
    root = Account("root", 0, 0, "/root", "/bin/bash", 1)
    daemon = Account("daemon", 1, 1, "/usr/sbin", "/usr/sbin/nologin", 2)
    toor = Account("toor", 0, 0, "/root", "/bin/sh", 3)
    svc = Account("postgres", 105, 110, "/var/lib/postgresql", "/bin/bash", 4)
    assert judge({"type": "accounts", "rule": "uid0_only_root"}, passwd(root, daemon)) is Status.PASS
    assert judge({"type": "accounts", "rule": "uid0_only_root"}, passwd(root, toor)) is Status.FAIL
    assert judge({"type": "accounts", "rule": "unique_uids"}, passwd(root, daemon)) is Status.PASS
    assert judge({"type": "accounts", "rule": "unique_uids"}, passwd(root, toor)) is Status.FAIL
    assert judge({"type": "accounts", "rule": "system_accounts_nologin"}, passwd(root, daemon)) is Status.PASS
    assert judge({"type": "accounts", "rule": "system_accounts_nologin"}, passwd(root, svc)) is Status.FAIL


def shadow(*entries: ShadowEntry) -> dict[FactKey, object]:
    return {FactKey("shadow"): entries}


def test_accounts_shadow_rules() -> None:
    locked = ShadowEntry("daemon", "*", 19000, 0, 99999, 7, None, 1)
    aged = ShadowEntry("alice", "$y$j9T$abc", 19000, 1, 90, 7, None, 2)
    forever = ShadowEntry("bob", "$y$j9T$def", 19000, 0, 99999, 7, None, 3)
    empty = ShadowEntry("eve", "", 19000, 0, 99999, 7, None, 4)
    assert judge({"type": "accounts", "rule": "no_empty_password"}, shadow(locked, aged)) is Status.PASS
    assert judge({"type": "accounts", "rule": "no_empty_password"}, shadow(locked, empty)) is Status.FAIL
    max_days = {"type": "accounts", "rule": "password_max_days", "at_most": 365}
    assert judge(max_days, shadow(locked, aged)) is Status.PASS  # locked accounts are not judged
    assert judge(max_days, shadow(aged, forever)) is Status.FAIL
    assert judge(max_days, {FactKey("shadow"): Unavailable("/etc/shadow: permission denied")}) is Status.ERROR


# --- compound: the three-valued truth table ---------------------------------------------

P = {"type": "file", "path": "/p", "exists": True}
F = {"type": "file", "path": "/f", "exists": True}
E = {"type": "file", "path": "/e", "exists": True}
N = {"type": "file", "path": "/n", "exists": True, "missing_ok": True}
TRUTH = {
    FactKey("file", "/p"): FileInfo("/p", True, "file", 0o644, 0, 0),
    FactKey("file", "/f"): FileInfo("/f", False),
    FactKey("file", "/e"): Unavailable("unreadable"),
    FactKey("file", "/n"): FileInfo("/n", False),
}


@pytest.mark.parametrize(
    ("op", "children", "status"),
    [
        ("all", [P, P], Status.PASS), ("all", [P, F], Status.FAIL), ("all", [F, E], Status.FAIL),
        ("all", [P, E], Status.ERROR), ("all", [N, N], Status.NOT_APPLICABLE), ("all", [N, E], Status.ERROR),
        ("any", [F, P], Status.PASS), ("any", [E, P], Status.PASS), ("any", [F, F], Status.FAIL),
        ("any", [F, E], Status.ERROR), ("any", [N, F], Status.NOT_APPLICABLE),
        ("none", [F, F], Status.PASS), ("none", [F, P], Status.FAIL), ("none", [E, P], Status.FAIL),
        ("none", [F, E], Status.ERROR),
    ],
)
def test_compound_truth_table(op: str, children: list[dict[str, Any]], status: Status) -> None:
    assert judge({op: children}, TRUTH) is status


def test_compound_nests_and_needs_union() -> None:
    spec = {"all": [P, {"any": [F, P]}]}
    assert needs(spec) == {FactKey("file", "/p"), FactKey("file", "/f")}
    assert judge(spec, TRUTH) is Status.PASS

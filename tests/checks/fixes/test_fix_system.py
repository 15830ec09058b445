"""package, service, kernel_module, audit_rules, grub_cmdline, mount_option, pam_option, manual."""
from __future__ import annotations

from typing import Callable

import pytest

from checks.fixes import FixError, describe, disruptive, plan
from checks.fixes.model import Command, Files, Packages, WriteFile

STATUS = ("Package: telnet\nStatus: install ok installed\n\nPackage: auditd\nStatus: deinstall ok config-files\n\n"
          "Package: rsh-client\nStatus: install ok installed\n")


def test_package_installs_what_is_missing_and_purges_what_is_there(files: Callable[..., Files]) -> None:
    state = files({"/var/lib/dpkg/status": STATUS})
    assert plan({"type": "package", "present": ["auditd", "telnet"], "absent": ["rsh-client", "nis"]}, state) == (
        Packages(("auditd",), ("rsh-client",)),)
    assert plan({"type": "package", "absent": ["nis"]}, state) == ()
    with pytest.raises(FixError, match="not a dpkg system"):
        plan({"type": "package", "absent": ["nis"]}, files({}))


def test_service_commands_follow_the_unit_links(files: Callable[..., Files]) -> None:
    none = files({})
    masked = plan({"type": "service", "units": ["avahi-daemon.service"], "state": "masked"}, none)
    assert [(a.argv, a.image) for a in masked if isinstance(a, Command)] == [
        (("systemctl", "mask", "avahi-daemon.service"), "root_option"),
        (("systemctl", "stop", "avahi-daemon.service"), "skip")]
    is_masked = files({}, links={"/etc/systemd/system/avahi-daemon.service": "/dev/null"})
    assert plan({"type": "service", "units": ["avahi-daemon.service"], "state": "masked"}, is_masked) == ()
    enabled = files({}, links={"/etc/systemd/system/multi-user.target.wants/cron.service": "/lib/systemd/system/cron.service"})
    assert plan({"type": "service", "units": ["cron.service"], "state": "enabled"}, enabled) == ()
    assert [a.argv[1] for a in plan({"type": "service", "units": ["cron.service"], "state": "disabled"}, enabled)
            if isinstance(a, Command)] == ["disable", "stop"]
    assert plan({"type": "service", "units": ["cron.service"], "state": "disabled"}, none) == ()


def test_kernel_module_dropin_per_module(files: Callable[..., Files]) -> None:
    actions = plan({"type": "kernel_module", "modules": ["cramfs"]}, files({}))
    assert actions[0] == WriteFile("/etc/modprobe.d/fedharden-cramfs.conf", "# Written by fedharden fix: cramfs cannot "
                                   "be loaded.\ninstall cramfs /bin/false\nblacklist cramfs\n")
    assert plan({"type": "kernel_module", "modules": ["cramfs"]}, files({}).with_actions(actions)) == ()


def test_audit_rules_and_grub_cmdline_dropins(files: Callable[..., Files]) -> None:
    rules = plan({"type": "audit_rules", "file": "50-fedharden-identity.rules",
                  "lines": ["-w /etc/passwd -p wa -k identity"]}, files({}))
    assert rules[0] == WriteFile("/etc/audit/rules.d/50-fedharden-identity.rules", "# Written by fedharden fix; each "
                                 "setting serves a requirement of a directive.\n-w /etc/passwd -p wa -k identity\n", 0o640)
    grub = plan({"type": "grub_cmdline", "add": ["audit=1"]}, files({}))
    after = files({}).with_actions(grub)
    both = plan({"type": "grub_cmdline", "add": ["audit_backlog_limit=8192", "audit=1"]}, after)
    assert both[0].content.splitlines()[-1] == 'GRUB_CMDLINE_LINUX="$GRUB_CMDLINE_LINUX audit_backlog_limit=8192 audit=1"'
    assert plan({"type": "grub_cmdline", "add": ["audit=1"]}, after) == ()


def test_mount_option_edits_fstab_or_adds_a_tmpfs(files: Callable[..., Files]) -> None:
    fstab = "# /etc/fstab\nUUID=1 / ext4 errors=remount-ro 0 1\nUUID=2 /home ext4 defaults 0 2\n"
    home = plan({"type": "mount_option", "mount_point": "/home", "add": ["nodev"]}, files({"/etc/fstab": fstab}))
    assert home[0].content.splitlines()[-1] == "UUID=2\t/home\text4\tnodev\t0\t2"
    tmp = plan({"type": "mount_option", "mount_point": "/tmp", "add": ["nodev", "nosuid"]}, files({"/etc/fstab": fstab}))
    assert tmp[0].content.splitlines()[-1] == "tmpfs\t/tmp\ttmpfs\tdefaults,nodev,nosuid\t0\t0"
    with pytest.raises(FixError, match="no entry for /var"):
        plan({"type": "mount_option", "mount_point": "/var", "add": ["nodev"]}, files({"/etc/fstab": fstab}))


def test_pam_option_uses_conf_files_and_profiles_never_common_files(files: Callable[..., Files]) -> None:
    actions = plan({"type": "pam_option", "module": "pam_faillock", "options": {"deny": 5, "even_deny_root": True}},
                   files({}))
    paths = [a.path for a in actions if isinstance(a, WriteFile)]
    assert paths == ["/etc/security/faillock.conf", "/usr/share/pam-configs/fedharden-faillock",
                     "/usr/share/pam-configs/fedharden-faillock-notify"]
    assert actions[0].content.splitlines()[1:] == ["deny = 5", "even_deny_root"]
    command = actions[-1]
    assert isinstance(command, Command) and command.image == "chroot" and "/etc/pam.d/common-auth" in command.writes
    assert command.argv == ("pam-auth-update", "--package", "--enable", "fedharden-faillock", "fedharden-faillock-notify")
    assert plan({"type": "pam_option", "module": "pam_faillock", "options": {"deny": 5, "even_deny_root": True}},
                files({}).with_actions(actions)) == ()
    unix = "Name: Unix\nPassword:\n\t[success=end default=ignore]\tpam_unix.so obscure use_authtok nullok yescrypt\n"
    edited = plan({"type": "pam_option", "module": "pam_unix", "remove": ["nullok"]},
                  files({"/usr/share/pam-configs/unix": unix}))
    assert edited[0].content.splitlines()[-1] == "\t[success=end default=ignore] pam_unix.so obscure use_authtok yescrypt"


def test_disruptive_by_nature_by_setting_and_by_mark() -> None:
    assert disruptive({"type": "pam_option", "module": "pam_faillock", "options": {"deny": 5}})
    assert disruptive({"type": "sshd_option", "set": {"PermitRootLogin": "no"}})
    assert not disruptive({"type": "sshd_option", "set": {"MaxAuthTries": 4}})
    assert disruptive({"all": [{"type": "package", "present": ["sudo"]},
                               {"type": "lines", "path": "/etc/sudoers.d/x", "present": ["a"], "disruptive": True}]})


def test_manual_plans_nothing_and_describes_the_question(files: Callable[..., Files]) -> None:
    spec = {"type": "manual", "question": "Which users need sudo?"}
    assert plan(spec, files({})) == ()
    assert describe(spec) == "Needs a decision: Which users need sudo?"

"""Every structured fix makes its requirement pass (issue 21): for each fail scenario of a
requirement with a structured fix, build the scenario's tree, plan the fix for that one
requirement, apply it with the real engine (journal, atomic writes, systemctl --root) and scan
again: the requirement passes, and a second plan has nothing left to change.

The exceptions are listed below, each with its reason, and run as strict expected failures: one
that starts passing fails the suite until it is taken off the list.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import pytest

from agent.fixing.apply import apply
from agent.fixing.planner import Choice, make_plan
from agent.fixing.targetfs import TargetFS
from agent.hosts.rootfs import RootfsHost
from agent.scan import Scan, Selection
from checks import fixes
from directives import load_library
from directives.model import Directive, Requirement
from tests.directives import scenario

LIBRARY = {r.id: (d, r) for d in load_library() for r in d.requirements}
SCENARIOS = scenario.load_scenarios()

# Why a fix cannot be shown to work on a scenario tree. Some need programs: a fix that installs
# or removes a package runs apt-get inside the image, a PAM fix runs pam-auth-update there, and a
# scenario tree holds configuration files, not programs (test_pam_fixes.py applies the PAM fixes
# to a real Debian root filesystem). The others are limits of a fix type, each said here; those
# marked (engine) are for the fix types to lift.
PACKAGES = "the fix installs or removes a package: apt-get runs inside the image, and a scenario tree has no package manager"
PAM = "pam-auth-update runs inside the image, and a scenario tree has no programs (test_pam_fixes.py runs it in a real root)"
SUDOERS = ("the fix edits /etc/sudoers, which visudo -c inside the image must accept, and a scenario tree has no "
           "programs; the minbase root of test_pam_fixes.py has no sudo")
NO_PROFILE = ("the tree has no /usr/share/pam-configs/unix (libpam-runtime's profile) for the fix to edit "
              "(test_pam_fixes.py runs it in a real root)")
RHEL = "a RHEL tree: the package and PAM fixes are Debian's (dpkg, pam-auth-update); RHEL's stacks are authselect's"
HAND_EDITED = ("an argument on a hand-written stack line overrides the module's file; the fix edits the file and the "
               "pam-auth-update profile, and pam-auth-update leaves a hand-edited stack alone (the note says so)")
PWQUALITY_STOPS = "libpwquality stops reading pwquality.conf at a setting it does not know, and the fix appends after it (engine)"
GLOB = "the offending line is in a file a glob names; the lines fix type edits one path and expands no glob (engine)"
UNMASK = "the service fix type has no 'unmasked' state: enabling the timer leaves dailyaidecheck.service masked (engine)"
GRUB_DEFAULT = ("the opposite value is in GRUB_CMDLINE_LINUX_DEFAULT, which follows GRUB_CMDLINE_LINUX on the normal "
                "entry; grub_cmdline adds to GRUB_CMDLINE_LINUX only (engine)")
LATER_RULES = "a later rules file deletes the rule (-W, -D) or sets -e 1 again; the fix adds rules, it removes none of another file's"
CRONTAB_GROUP = "the scenario's /etc/group has no group crontab, which Debian's cron package creates; the fix gives cron.allow that group"
NOT_CREATED = "a missing /etc/shells is not created: its content is the distro's list of login shells"
MOUNT_UNIT = "a tmp.mount unit decides /tmp's options; mount_option edits /etc/fstab only (engine)"
NOAUTO = "the fstab entry has noauto, so systemd does not mount it at boot; mount_option only adds options (engine)"
NO_FSTAB_ENTRY = "no fstab entry for /var/log/audit: which filesystem it should be is for a person to decide (the planner says so)"
DROPIN_ORDER = "a drop-in whose name sorts after 60-fedharden.conf (v.conf, x.conf, syslog.conf) is read later and wins (engine)"
STATIC_UNIT = ("systemd-journald.service is static: after the unmask the service fix still finds it not enabled and "
               "plans an enable again, so a second plan is not empty (engine)")
NO_UNIT = "the tree has no systemd-journald.service unit (systemd is not installed): there is nothing to enable"
MODPROBE_ORDER = ("an earlier modprobe.d file's install rule wins (modprobe takes the first), and fedharden-cramfs.conf "
                  "sorts after it (engine)")
SYSCTL_NAMES = ("a sysctl.d file names an interface (or a glob reaching one) with the opposite value, and an explicit "
                "key beats the fix's all and default; each interface's running value is set only on a live host")
NO_UPGRADE = "package present does not upgrade an installed libpam-runtime older than 1.5.2-6"
MATCH = ("the override is in a file a Match block includes; the fix removes other values from sshd_config "
         "itself, Match blocks included, not from the files they include")
HOSTKEY_ELSEWHERE = "the HostKey is outside /etc/ssh/ssh_host_*_key, the glob the fix names"
ALIAS = "bind9.service is an alias link to named.service and systemctl mask refuses to replace an alias (engine)"
APT_ORDER = "a later apt.conf.d file (99off, 99zz-local) sets it back after /etc/apt/apt.conf.d/99fedharden (engine)"
APT_SYNTAX = "another apt.conf.d file has a syntax error, which stops apt whatever the fix writes"

EXCEPTIONS: dict[str, str] = {
    "HARDEN-30D.AA.1:fail_utils_missing": PACKAGES,
    "HARDEN-30D.AA.2:fail_disabled_later": GRUB_DEFAULT,
    "HARDEN-30D.ACCT.10:fail": PACKAGES,
    "HARDEN-30D.ACCT.10:fail_after_pam_unix": PACKAGES,
    "HARDEN-30D.ACCT.10:fail_optional": PACKAGES,
    "HARDEN-30D.ACCT.10:fail_rhel_one_stack_missing": RHEL,
    "HARDEN-30D.ACCT.11:fail": PAM,
    "HARDEN-30D.ACCT.11:fail_commented": PAM,
    "HARDEN-30D.ACCT.12:fail": PAM,
    "HARDEN-30D.ACCT.12:fail_authfail_optional": PAM,
    "HARDEN-30D.ACCT.12:fail_preauth_after_unix": PAM,
    "HARDEN-30D.ACCT.12:fail_rhel_password_auth_without": PAM,
    "HARDEN-30D.ACCT.13:fail": PAM,
    "HARDEN-30D.ACCT.13:fail_conf_argument": PAM,
    "HARDEN-30D.ACCT.13:fail_r7_module_argument_wins": PAM,
    "HARDEN-30D.ACCT.13:fail_zero_never_locks": PAM,
    "HARDEN-30D.ACCT.14:fail_default": PAM,
    "HARDEN-30D.ACCT.14:fail_r7_module_argument_wins": PAM,
    "HARDEN-30D.ACCT.15:fail": NO_PROFILE,
    "HARDEN-30D.ACCT.15:fail_nullok_secure": NO_PROFILE,
    "HARDEN-30D.ACCT.15:fail_rhel_password_auth": RHEL,
    "HARDEN-30D.ACCT.15:fail_session_stack": NO_PROFILE,
    "HARDEN-30D.ACCT.16:fail_last_hash_argument_wins": NO_PROFILE,
    "HARDEN-30D.ACCT.16:fail_r10_pam_unix_md5": NO_PROFILE,
    "HARDEN-30D.ACCT.28:fail_weaker_later": GLOB,
    "HARDEN-30D.ACCT.9:fail_dropin_not_dot_conf": PAM,
    "HARDEN-30D.ACCT.9:fail_not_installed": PACKAGES,
    "HARDEN-30D.ACCT.9:fail_r7_module_argument_wins": HAND_EDITED,
    "HARDEN-30D.ACCT.9:fail_r8_main_file_read_last": PAM,
    "HARDEN-30D.ACCT.9:fail_short": PAM,
    "HARDEN-30D.ACCT.9:fail_stops_at_unknown_setting": PWQUALITY_STOPS,
    "HARDEN-30D.AIDE.1:fail": PACKAGES,
    "HARDEN-30D.AIDE.3:fail_no_timer": PACKAGES,
    "HARDEN-30D.AIDE.3:fail_service_masked": UNMASK,
    "HARDEN-30D.AUD.11:fail_later_value_wins": GRUB_DEFAULT,
    "HARDEN-30D.AUD.2:fail_watch_removed": LATER_RULES,
    "HARDEN-30D.AUD.5:fail_removed_by_key": LATER_RULES,
    "HARDEN-30D.AUD.8:fail_later_file_unlocks": LATER_RULES,
    "HARDEN-30D.CRON.1:fail_not_installed": PACKAGES,
    "HARDEN-30D.CRON.6:fail": CRONTAB_GROUP,
    "HARDEN-30D.CRON.6:fail_world_readable": CRONTAB_GROUP,
    "HARDEN-30D.FILE.8:fail_missing": NOT_CREATED,
    "HARDEN-30D.FS.13:fail_noauto": NOAUTO,
    "HARDEN-30D.FS.17:fail_unit_without_options": NO_FSTAB_ENTRY,
    "HARDEN-30D.FS.1:fail_r16_tmp_mount_unit": MOUNT_UNIT,
    "HARDEN-30D.FS.1:fail_unit_in_etc_wins_over_fstab": MOUNT_UNIT,
    "HARDEN-30D.FW.12:fail": PACKAGES,
    "HARDEN-30D.FW.1:fail_ufw_off": PACKAGES,
    "HARDEN-30D.FW.1:fail_ufw_without_defaults": PACKAGES,
    "HARDEN-30D.FW.4:fail": PACKAGES,
    "HARDEN-30D.FW.8:fail": PACKAGES,
    "HARDEN-30D.FW.8:fail_beside_iptables_persistent": PACKAGES,
    "HARDEN-30D.LOG.10:fail_debian13_stock": DROPIN_ORDER,
    "HARDEN-30D.LOG.10:fail_etc_hides_usr_lib_name": DROPIN_ORDER,
    "HARDEN-30D.LOG.11:fail_off": DROPIN_ORDER,
    "HARDEN-30D.LOG.12:fail_no_logging_at_all": PACKAGES,
    "HARDEN-30D.LOG.1:fail_volatile_dropin": DROPIN_ORDER,
    "HARDEN-30D.LOG.4:fail_masked": STATIC_UNIT,
    "HARDEN-30D.LOG.4:fail_no_systemd": NO_UNIT,
    "HARDEN-30D.LOG.6:fail": PACKAGES,
    "HARDEN-30D.MOD.1:fail_first_install_rule_wins": MODPROBE_ORDER,
    "HARDEN-30D.NET.13:fail_one_interface": SYSCTL_NAMES,
    "HARDEN-30D.NET.2:fail_glob_reaches_other_interfaces": SYSCTL_NAMES,
    "HARDEN-30D.NET.2:fail_named_interface": SYSCTL_NAMES,
    "HARDEN-30D.NET.6:fail_loose_by_glob": SYSCTL_NAMES,
    "HARDEN-30D.PAM.10:fail_default": PAM,
    "HARDEN-30D.PAM.11:fail": PAM,
    "HARDEN-30D.PAM.11:fail_no_pwhistory": PAM,
    "HARDEN-30D.PAM.12:fail": PAM,
    "HARDEN-30D.PAM.13:fail": NO_PROFILE,
    "HARDEN-30D.PAM.14:fail": PAM,
    "HARDEN-30D.PAM.1:fail_no_pwquality": PACKAGES,
    "HARDEN-30D.PAM.1:fail_old_runtime": NO_UPGRADE,
    "HARDEN-30D.PAM.2:fail_session_without_unix": NO_PROFILE,
    "HARDEN-30D.PAM.3:fail": PAM,
    "HARDEN-30D.PAM.3:fail_after_unix": PAM,
    "HARDEN-30D.PAM.3:fail_optional_ignores_refusal": PAM,
    "HARDEN-30D.PAM.4:fail_argument_lowers": PAM,
    "HARDEN-30D.PAM.4:fail_default": PAM,
    "HARDEN-30D.PAM.5:fail_default": PAM,
    "HARDEN-30D.PAM.5:fail_positive_credit": PAM,
    "HARDEN-30D.PAM.5:fail_three_classes": PAM,
    "HARDEN-30D.PAM.6:fail_default_off": PAM,
    "HARDEN-30D.PAM.6:fail_main_file_last": PAM,
    "HARDEN-30D.PAM.6:fail_too_many": PAM,
    "HARDEN-30D.PAM.7:fail_argument": HAND_EDITED,
    "HARDEN-30D.PAM.7:fail_default_off": PAM,
    "HARDEN-30D.PAM.8:fail": PAM,
    "HARDEN-30D.PAM.8:fail_not_installed": PACKAGES,
    "HARDEN-30D.PAM.9:fail": PAM,
    "HARDEN-30D.PAM.9:fail_argument": PAM,
    "HARDEN-30D.SSH.16:fail_configured_key_elsewhere": HOSTKEY_ELSEWHERE,
    "HARDEN-30D.SSH.18:fail_configured_key_owned_by_user": HOSTKEY_ELSEWHERE,
    "HARDEN-30D.SSH.1:fail_include_in_match": MATCH,
    "HARDEN-30D.SUDO.1:fail": SUDOERS,
    "HARDEN-30D.SUDO.1:fail_commented": SUDOERS,
    "HARDEN-30D.SUDO.1:fail_default_off_in_1_9_13": SUDOERS,
    "HARDEN-30D.SUDO.1:fail_r5_later_dropin_negates": SUDOERS,
    "HARDEN-30D.SUDO.1:fail_scoped_to_a_command": SUDOERS,
    "HARDEN-30D.SUDO.1:fail_scoped_to_a_user": SUDOERS,
    "HARDEN-30D.SUDO.1:fail_turned_off_since_1_9_14": SUDOERS,
    "HARDEN-30D.SUDO.2:fail": SUDOERS,
    "HARDEN-30D.SUDO.2:fail_dropin_not_included": SUDOERS,
    "HARDEN-30D.SUDO.2:fail_negated_later": SUDOERS,
    "HARDEN-30D.SUDO.2:fail_r5_dotted_name_skipped": SUDOERS,
    "HARDEN-30D.SUDO.5:fail": PACKAGES,
    "HARDEN-30D.SUDO.6:fail": SUDOERS,
    "HARDEN-30D.SUDO.6:fail_dropin_later": SUDOERS,
    "HARDEN-30D.SUDO.6:fail_fraction_over": SUDOERS,
    "HARDEN-30D.SUDO.6:fail_never_expires": SUDOERS,
    "HARDEN-30D.SUDO.6:fail_scoped_user": SUDOERS,
    "HARDEN-30D.SVC.11:fail": PACKAGES,
    "HARDEN-30D.SVC.1:fail": PACKAGES,
    "HARDEN-30D.SVC.20:fail_enabled_under_its_alias": ALIAS,
    "HARDEN-30D.SVC.2:fail": PACKAGES,
    "HARDEN-30D.SVC.31:fail": PACKAGES,
    "HARDEN-30D.SVC.32:fail": PACKAGES,
    "HARDEN-30D.SVC.33:fail": PACKAGES,
    "HARDEN-30D.SVC.34:fail": PACKAGES,
    "HARDEN-30D.SVC.34:fail_transitional_telnet": PACKAGES,
    "HARDEN-30D.SVC.35:fail": PACKAGES,
    "HARDEN-30D.SVC.36:fail": PACKAGES,
    "HARDEN-30D.SVC.6:fail": PACKAGES,
    "HARDEN-30D.TIME.4:fail_conf_d": GLOB,
    "HARDEN-30D.UPD.1:fail_later_file_off": APT_ORDER,
    "HARDEN-30D.UPD.1:fail_not_installed": PACKAGES,
    "HARDEN-30D.UPD.1:fail_periodic_disabled": APT_ORDER,
    "HARDEN-30D.UPD.1:fail_r20_later_file_and_masked_timer": APT_ORDER,
    "HARDEN-30D.UPD.1:fail_rhel_download_only": PACKAGES,
    "HARDEN-30D.UPD.1:fail_syntax_error_stops_apt": APT_SYNTAX,
}


def cases() -> list[Any]:
    out = []
    for rid, named in sorted(SCENARIOS.items()):
        fix = LIBRARY[rid][1].fix
        if fix is None or fixes.is_manual(fix):
            continue
        for name in named:
            if scenario.expectation(name) != "fail":
                continue
            key = f"{rid}:{name}"
            marks = [pytest.mark.xfail(reason=EXCEPTIONS[key], strict=True)] if key in EXCEPTIONS else []
            out.append(pytest.param(rid, name, id=key, marks=marks))
    return out


def status(directive: Directive, requirement: Requirement, spec: Mapping[str, Any], root: Path) -> tuple[str, list[Any]]:
    host = RootfsHost(str(root))
    report = Scan(host, [scenario.only(directive, requirement)], Selection(walk=True), now=scenario.NOW,
                  tags=tuple(spec.get("tags", ()))).run()
    results = list(report["results"])
    return scenario.worst([r["status"] for r in results]), [(r["status"], r["message"]) for r in results]


@pytest.mark.parametrize(("rid", "name"), cases())
def test_fix_makes_the_fail_scenario_pass(rid: str, name: str, tmp_path: Path) -> None:
    directive, requirement = LIBRARY[rid]
    spec = SCENARIOS[rid][name]
    assert "runtime" not in spec, "a runtime scenario describes a running host; an apply here edits files only"
    root = tmp_path / "root"
    root.mkdir()
    scenario.build(root, spec)
    assert status(directive, requirement, spec, root)[0] == "fail"

    choice = Choice(requirements=(rid,), include_disruptive=True)
    plan = make_plan(TargetFS(str(root)), [directive], [rid], choice)
    assert [c.requirement for c in plan.changes] == [rid], [(s.requirement, s.reason) for s in plan.skipped]
    apply(plan, TargetFS(str(root)), str(tmp_path / "state"))

    after, detail = status(directive, requirement, spec, root)
    assert after == "pass", detail
    again = make_plan(TargetFS(str(root)), [directive], [rid], choice)
    assert not again.changes, [c.actions for c in again.changes]


def test_every_structured_fix_is_tried() -> None:
    """Each requirement with a structured fix has at least one fail scenario the fix is run on,
    and every listed exception names a case that exists."""
    tried = {p.values[0] for p in cases()}
    structured = {rid for rid, (_, r) in LIBRARY.items() if r.fix is not None and not fixes.is_manual(r.fix)}
    assert structured <= tried, sorted(structured - tried)
    known = {p.id for p in cases()}
    assert set(EXCEPTIONS) <= known, sorted(set(EXCEPTIONS) - known)

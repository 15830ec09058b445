"""The fedharden command line as a user runs it: exit codes, formats, narrowing, errors."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable

import pytest
from click.testing import CliRunner

from agent.cli import main
from agent.contract import validation_errors

MakeRoot = Callable[..., Path]
FEDHARDEN = str(Path(sys.executable).with_name("fedharden"))

PASSWD = "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
GROUP = "root:x:0:\nshadow:x:42:\n"
HARDENED = {
    "/etc/os-release": 'ID=debian\nVERSION_ID="12"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nVERSION_CODENAME=bookworm\n',
    "/etc/debian_version": "12.8\n",
    "/etc/passwd": PASSWD,
    "/etc/group": GROUP,
    "/etc/shadow": "root:$y$j9T$x:19000:1:90:7:::\ndaemon:*:19000:0:99999:7:::\n",
    "/etc/gshadow": "root:*::\n",
    "/etc/machine-id": "0123456789abcdef0123456789abcdef\n",
    "/etc/hostname": "golden\n",
    "/etc/login.defs": "PASS_MAX_DAYS 90\nPASS_MIN_DAYS 1\nUMASK 027\nENCRYPT_METHOD YESCRYPT\n",
    "/var/lib/dpkg/status": "".join(f"Package: {p}\nStatus: install ok installed\nVersion: {v}\n\n" for p, v in (
        ("auditd", "1:3.0.9-1"), ("chrony", "4.3-2"), ("libpam-pwquality", "1.4.5-1"), ("nftables", "1.0.6-2"),
        ("unattended-upgrades", "2.9.1"), ("apparmor", "3.0.8-3"), ("apparmor-utils", "3.0.8-3"),
        ("systemd", "252.38-1"), ("systemd-journal-remote", "252.38-1"))),
    "/usr/lib/systemd/system/auditd.service": "[Service]\n[Install]\nWantedBy=multi-user.target\n",
    "/usr/lib/systemd/system/chrony.service": "[Service]\n[Install]\nWantedBy=multi-user.target\n",
    "/usr/lib/systemd/system/nftables.service": "[Service]\n[Install]\nWantedBy=multi-user.target\n",
    "/etc/systemd/system/multi-user.target.wants/.keep": "",
    "/etc/sysctl.d/60-harden.conf": "net.ipv4.conf.all.accept_redirects = 0\nnet.ipv4.conf.all.send_redirects = 0\n"
                                    "net.ipv4.conf.default.accept_redirects = 0\nnet.ipv4.conf.default.send_redirects = 0\n"
                                    "net.ipv4.conf.default.secure_redirects = 0\nnet.ipv6.conf.default.accept_ra = 0\n"
                                    "net.ipv6.conf.default.accept_redirects = 0\n"
                                    "kernel.kptr_restrict = 1\n"
                                    "net.ipv4.conf.all.rp_filter = 1\nnet.ipv4.conf.all.log_martians = 1\n"
                                    "net.ipv4.conf.all.secure_redirects = 0\nnet.ipv6.conf.all.accept_ra = 0\n"
                                    "net.ipv6.conf.all.accept_redirects = 0\nkernel.dmesg_restrict = 1\n"
                                    "kernel.yama.ptrace_scope = 1\nkernel.unprivileged_bpf_disabled = 1\n"
                                    "net.core.bpf_jit_harden = 2\nfs.protected_hardlinks = 1\nfs.protected_symlinks = 1\n"
                                    "kernel.kexec_load_disabled = 1\n",
    "/etc/modprobe.d/harden.conf": "".join(f"install {m} /bin/false\nblacklist {m}\n" for m in (
        "cramfs", "dccp", "sctp", "usb-storage", "freevxfs", "jffs2", "hfs", "hfsplus", "rds", "tipc")),
    "/etc/security/pwquality.conf": "minlen = 15\n",
    "/etc/security/faillock.conf": "deny = 5\nunlock_time = 900\n",
    "/etc/security/limits.d/50-core.conf": "* hard core 0\n",
    "/etc/pam.d/common-password": "password requisite pam_pwquality.so retry=3\n"
                                  "password required pam_pwhistory.so remember=5 use_authtok\n"
                                  "password [success=1 default=ignore] pam_unix.so obscure use_authtok yescrypt\n",
    "/etc/pam.d/common-auth": "auth requisite pam_faillock.so preauth\nauth [success=1 default=ignore] pam_unix.so\n"
                              "auth [default=die] pam_faillock.so authfail\n",
    "/etc/pam.d/su": "auth sufficient pam_rootok.so\nauth required pam_wheel.so use_uid group=sudo\n",
    "/etc/default/useradd": "INACTIVE=30\n",
    "/etc/default/grub": 'GRUB_CMDLINE_LINUX="audit=1 audit_backlog_limit=8192 apparmor=1 security=apparmor"\n',
    "/etc/profile.d/tmout.sh": "readonly TMOUT=900\nexport TMOUT\n",
    "/etc/audit/auditd.conf": "max_log_file_action = keep_logs\nadmin_space_left_action = single\n",
    "/etc/audit/rules.d/50-harden.rules": "".join(f"-w {p} -p wa -k watch\n" for p in (
        "/etc/passwd", "/etc/group", "/etc/shadow", "/etc/gshadow", "/etc/security/opasswd", "/etc/sudoers",
        "/etc/sudoers.d", "/var/log/lastlog", "/var/run/faillock", "/etc/localtime", "/etc/hosts", "/etc/issue"))
        + "".join(f"-a always,exit -F arch={arch} -S adjtimex,settimeofday,clock_settime -k time\n"
                  f"-a always,exit -F arch={arch} -S init_module,finit_module,delete_module -k modules\n"
                  f"-a always,exit -F arch={arch} -C euid!=uid -F euid=0 -S execve -k setuid\n"
                  f"-a always,exit -F arch={arch} -S sethostname,setdomainname -k locale\n" for arch in ("b64", "b32"))
        + "-e 2\n",
    "/etc/systemd/journald.conf.d/50-persistent.conf": "[Journal]\nStorage=persistent\nForwardToSyslog=no\n",
    "/usr/lib/systemd/system/systemd-journald.service": "[Service]\n",
    "/usr/lib/systemd/system/systemd-journal-upload.service": "[Service]\n[Install]\nWantedBy=multi-user.target\n",
    "/etc/systemd/journal-upload.conf": "[Upload]\nURL=https://logs.agency.example:19532\nServerKeyFile=/etc/ssl/private/up.pem\n"
                                        "ServerCertificateFile=/etc/ssl/certs/up.pem\nTrustedCertificateFile=/etc/ssl/ca.pem\n",
    "/etc/issue": "Authorized users only. All activity may be monitored and reported.\n",
    "/etc/issue.net": "Authorized users only. All activity may be monitored and reported.\n",
    "/var/log/.keep": "",
    "/etc/chrony/chrony.conf": "server time.agency.example iburst\n",
    "/etc/nftables.conf": (
        "table inet filter {\n  chain input {\n    type filter hook input priority 0; policy drop;\n"
        "    iif \"lo\" accept\n    ip saddr 127.0.0.0/8 drop\n    ip6 saddr ::1 drop\n  }\n"
        "  chain forward {\n    type filter hook forward priority 0; policy drop;\n  }\n"
        "  chain output {\n    type filter hook output priority 0; policy drop;\n    oif \"lo\" accept\n  }\n}\n"),
    "/etc/apt/apt.conf.d/20auto-upgrades": 'APT::Periodic::Update-Package-Lists "1";\nAPT::Periodic::Unattended-Upgrade "1";\n',
    "/usr/lib/systemd/system/apt-daily.timer": "[Timer]\nOnCalendar=daily\n[Install]\nWantedBy=timers.target\n",
    "/usr/lib/systemd/system/apt-daily-upgrade.timer": "[Timer]\nOnCalendar=daily\n[Install]\nWantedBy=timers.target\n",
    "/etc/systemd/system/timers.target.wants/.keep": "",
    "/etc/fstab": "UUID=1 / ext4 defaults 0 1\ntmpfs /tmp tmpfs nodev,nosuid,noexec 0 0\n"
                  "tmpfs /dev/shm tmpfs nodev,nosuid,noexec 0 0\n",
}
MODES = {"/etc/shadow": 0o640, "/etc/gshadow": 0o640, "/etc/passwd": 0o644, "/etc/group": 0o644,
         "/etc/issue": 0o644, "/etc/issue.net": 0o644, "/var/log/.keep": 0o640}
# CIS Debian 12's account, PAM and sudo controls (SSH.18-21, SUDO.5-6, PAM.1-15, ACCT.20-29, FILE.5-9,
# USER.1-8): sudo with its policy, the PAM packages and stacks, pwquality's settings, an empty su
# group, warning age and inactivity, umask in the profiles, /etc/shells, root's home.
HARDENED.update({
    "/etc/group": GROUP + "daemon:x:1:\nsugroup:x:1001:\n",
    "/etc/shadow": "root:$y$j9T$x:19000:1:90:7:30::\ndaemon:*:19000:0:99999:7:::\n",
    "/etc/login.defs": "PASS_MAX_DAYS 90\nPASS_MIN_DAYS 1\nPASS_WARN_AGE 7\nUMASK 027\nENCRYPT_METHOD YESCRYPT\n",
    "/var/lib/dpkg/status": HARDENED["/var/lib/dpkg/status"] + "".join(
        f"Package: {p}\nStatus: install ok installed\nVersion: {v}\n\n" for p, v in (
            ("libpam-runtime", "1.5.2-6+deb12u1"), ("libpam-modules", "1.5.2-6+deb12u1"), ("sudo", "1.9.13p3-1+deb12u1"))),
    "/etc/sudoers": 'Defaults use_pty\nDefaults logfile="/var/log/sudo.log"\nDefaults timestamp_timeout=15\n'
                    "root ALL=(ALL:ALL) ALL\n",
    "/etc/security/pwquality.conf": "minlen = 15\ndifok = 2\nminclass = 4\nmaxrepeat = 3\nmaxsequence = 3\n"
                                    "enforce_for_root\n",
    "/etc/pam.d/common-password": "password requisite pam_pwquality.so retry=3\n"
                                  "password required pam_pwhistory.so remember=5 enforce_for_root use_authtok\n"
                                  "password [success=1 default=ignore] pam_unix.so obscure use_authtok yescrypt\n",
    "/etc/pam.d/common-account": "account [success=1 new_authtok_reqd=done default=ignore] pam_unix.so\n",
    "/etc/pam.d/common-session": "session required pam_unix.so\n",
    "/etc/pam.d/su": "auth sufficient pam_rootok.so\nauth required pam_wheel.so use_uid group=sugroup\n",
    "/etc/profile.d/50-umask.sh": "umask 027\n",
    "/etc/bash.bashrc": "umask 027\n",
    "/etc/shells": "/bin/sh\n/bin/bash\n",
    "/root/.profile": "umask 027\n",
})
MODES.update({"/etc/sudoers": 0o440, "/etc/shells": 0o644, "/root": 0o700, "/root/.profile": 0o600})
# CIS Debian 12's scheduler and integrity controls (CRON.1-8, AIDE.1-3): cron installed and
# enabled, its folders root's alone, an allow list; AIDE with a database and its daily timer.
HARDENED.update({
    "/var/lib/dpkg/status": HARDENED["/var/lib/dpkg/status"] + "".join(
        f"Package: {p}\nStatus: install ok installed\nVersion: {v}\n\n" for p, v in (
            ("cron", "3.0pl1-162"), ("aide", "0.18.3-1+deb12u3"), ("aide-common", "0.18.3-1+deb12u3"))),
    "/usr/lib/systemd/system/cron.service": "[Service]\n[Install]\nWantedBy=multi-user.target\n",
    "/usr/lib/systemd/system/dailyaidecheck.service": "[Service]\nType=oneshot\n",
    "/usr/lib/systemd/system/dailyaidecheck.timer": "[Timer]\nOnCalendar=daily\n[Install]\nWantedBy=timers.target\n",
    **{f"/etc/cron.{period}/.placeholder": "" for period in ("hourly", "daily", "weekly", "monthly")},
    "/etc/cron.d/.placeholder": "",
    "/etc/crontab": "",
    "/etc/cron.allow": "root\n",
    "/var/lib/aide/aide.db": "",
})
MODES.update({**{f"/etc/cron.{period}": 0o700 for period in ("hourly", "daily", "weekly", "monthly", "d")},
              "/etc/crontab": 0o600, "/etc/cron.allow": 0o640, "/var/lib/aide/aide.db": 0o600})


def hardened_root(make_root: MakeRoot) -> Path:
    root = make_root(HARDENED, MODES)
    wants = root / "etc/systemd/system/multi-user.target.wants"
    for unit in ("auditd.service", "chrony.service", "nftables.service", "systemd-journal-upload.service", "cron.service"):
        os.symlink(f"/usr/lib/systemd/system/{unit}", wants / unit)
    for unit in ("apt-daily.timer", "apt-daily-upgrade.timer", "dailyaidecheck.timer"):
        os.symlink(f"/usr/lib/systemd/system/{unit}", root / "etc/systemd/system/timers.target.wants" / unit)
    os.symlink("/dev/null", root / "etc/systemd/system/ctrl-alt-del.target")
    return root


def tree_digest(root: Path) -> str:
    """Contents, modes and times of every entry: anything the scan wrote would change it."""
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in sorted(os.walk(root)):
        for name in sorted(dirnames + filenames):
            path = Path(dirpath, name)
            st = path.lstat()
            h.update(f"{path.relative_to(root)}|{st.st_mode}|{st.st_mtime_ns}|{st.st_size}".encode())
            if path.is_file() and not path.is_symlink():
                h.update(path.read_bytes())
    return h.hexdigest()


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def statuses(report: dict) -> dict[str, str]:
    return {r["key"]: r["status"] for r in report["results"]}


def test_hardened_root_is_compliant_and_report_is_valid(make_root: MakeRoot) -> None:
    root = hardened_root(make_root)
    code, out, err = run("scan", "--root", str(root), "--directive", "HARDEN-30D", "--format", "json")
    assert code == 0, err
    report = json.loads(out)
    assert validation_errors(report) == []
    got = statuses(report)
    assert {k for k, s in got.items() if s == "fail"} == set()
    # SSH, at, Postfix and rsyslog are not installed, runtime state is absent in an image, /var/tmp,
    # /home, /var, /var/log and /var/log/audit are not separate filesystems, there is no boot loader
    # and no motd, journald is the logging system, chrony the time daemon (timesyncd's servers do
    # not apply): said, not passed silently.
    assert {k for k, s in got.items() if s == "not_applicable"} == {
        *(f"HARDEN-30D.SSH.{i}" for i in range(1, 22)), "HARDEN-30D.SVC.8", "HARDEN-30D.SVC.29", "HARDEN-30D.FS.3",
        "HARDEN-30D.FS.4", "HARDEN-30D.FS.5", "HARDEN-30D.FS.8", "HARDEN-30D.LOG.3", "HARDEN-30D.MGMT.1",
        "HARDEN-30D.FS.15", "HARDEN-30D.FS.16", "HARDEN-30D.FS.17", "HARDEN-30D.BOOT.1", "HARDEN-30D.AA.3",
        "HARDEN-30D.BANNER.4", "HARDEN-30D.LOG.12", "HARDEN-30D.LOG.13", "HARDEN-30D.LOG.14", "HARDEN-30D.TIME.3",
        "HARDEN-30D.CRON.8", "HARDEN-30D.CRON.9",
        # no backups of the account files yet, no password history file
        "HARDEN-30D.FILE.5", "HARDEN-30D.FILE.6", "HARDEN-30D.FILE.7", "HARDEN-30D.FILE.9",
        # an image has no network interfaces; nftables is the firewall in use, so the rules of ufw
        # and iptables-persistent do not apply; no gdm3
        "HARDEN-30D.NET.15", *(f"HARDEN-30D.FW.{i}" for i in (4, 5, 6, 7, *range(12, 20))),
        *(f"HARDEN-30D.GDM.{i}" for i in range(1, 7))}
    assert report["scan"]["live"] is False and report["host"]["hostname"] == "golden"
    result = next(r for r in report["results"] if r["key"] == "HARDEN-30D.FILE.1")
    assert result["references"] == {"nist_800_53": ["AC-6", "IA-5"],
                                    "ssg": ["file_permissions_etc_shadow", "file_owner_etc_shadow",
                                            "file_groupowner_etc_shadow"],
                                    "cis": ["ubuntu2204:6.1.5", "ubuntu2004:6.1.4", "rhel8:6.1.4"]}
    assert result["due"] == "2026-07-02"


def test_weak_root_fails_with_evidence_and_overdue(make_root: MakeRoot) -> None:
    files = dict(HARDENED)
    files["/etc/login.defs"] = "PASS_MAX_DAYS 99999\nPASS_MIN_DAYS 1\nPASS_WARN_AGE 7\nUMASK 027\nENCRYPT_METHOD SHA512\n"
    files["/etc/passwd"] = PASSWD + "toor:x:0:0::/root:/bin/sh\n"
    modes = dict(MODES, **{"/etc/shadow": 0o644})
    root = make_root(files, modes)
    code, out, _ = run("scan", "--root", str(root), "--directive", "HARDEN-30D", "--format", "json")
    assert code == 1
    report = json.loads(out)
    failing = {k for k, s in statuses(report).items() if s == "fail"}
    # toor: a second UID 0 (ACCT.1), a shared UID (ACCT.3), a system account with a shell (ACCT.8),
    # a second account with primary group 0 (ACCT.23);
    # no enabling links were made, so time sync, auditd, the firewall, the apt timers, cron and AIDE's
    # timer are not enabled nor the journal upload (SVC.6, SVC.7, FW.1, UPD.1, LOG.8, TIME.2, CRON.1,
    # AIDE.3), and no firewall at all is not exactly one (FW.3).
    assert failing == {"HARDEN-30D.ACCT.1", "HARDEN-30D.ACCT.3", "HARDEN-30D.ACCT.4", "HARDEN-30D.ACCT.8",
                       "HARDEN-30D.ACCT.23", "HARDEN-30D.FILE.1", "HARDEN-30D.SVC.6", "HARDEN-30D.SVC.7", "HARDEN-30D.FW.1",
                       "HARDEN-30D.FW.3", "HARDEN-30D.UPD.1", "HARDEN-30D.LOG.8", "HARDEN-30D.TIME.2", "HARDEN-30D.CRON.1",
                       "HARDEN-30D.AIDE.3"}
    acct4 = next(r for r in report["results"] if r["key"] == "HARDEN-30D.ACCT.4")
    assert acct4["overdue"] is True  # the 30-day window closed on 2026-07-02
    assert acct4["evidence"] == [{"expected": "PASS_MAX_DAYS at least 1 and at most 365", "actual": "PASS_MAX_DAYS 99999",
                                  "where": "/etc/login.defs:1", "verdict": "violation"}]
    assert report["summary"]["directives"]["HARDEN-30D"]["counts"]["fail"] == len(failing) == 15


def test_table_output(make_root: MakeRoot) -> None:
    root = make_root(dict(HARDENED, **{"/etc/login.defs": "PASS_MAX_DAYS 99999\n"}), MODES)
    code, out, _ = run("scan", "--root", str(root), "--no-color")
    assert code == 1
    assert "HARDEN-30D  30-day host hardening baseline" in out
    line = next(line for line in out.splitlines() if "HARDEN-30D.ACCT.4" in line)
    assert line.split()[0] == "FAIL" and line.endswith("2026-07-02 OVERDUE")
    assert "violation  expected PASS_MAX_DAYS at least 1 and at most 365; found PASS_MAX_DAYS 99999  [/etc/login.defs:1]" in out
    assert "Overall:" in out and "score" in out


def test_narrowing_by_directive_and_severity(make_root: MakeRoot) -> None:
    root = hardened_root(make_root)
    _, out, _ = run("scan", "--root", str(root), "--directive", "BOD-23-02", "--format", "json")
    report = json.loads(out)
    assert {r["directive"] for r in report["results"]} == {"BOD-23-02"}
    assert [d["id"] for d in report["directives"]] == ["BOD-23-02"]
    _, out, _ = run("scan", "--root", str(root), "--severity", "critical", "--format", "json")
    assert {r["severity"] for r in json.loads(out)["results"]} == {"critical"}


def test_output_file_and_usage_errors(make_root: MakeRoot, tmp_path: Path) -> None:
    root = hardened_root(make_root)
    target = tmp_path / "report.json"
    code, out, _ = run("scan", "--root", str(root), "--format", "json", "--output", str(target))
    report = json.loads(target.read_text())
    assert validation_errors(report) == []
    # Nothing fails, but the image has no KEV fix data and no scan record: incomplete, exit 4.
    assert {r["key"] for r in report["results"] if r["status"] == "error"} == {
        "BOD-22-01.1", "BOD-23-01.1", "BOD-23-01.2", "KEV-TIERED.1"}
    assert report["summary"]["status"] == "incomplete"
    assert report["summary"]["directives"]["HARDEN-30D"]["status"] == "compliant"
    assert code == 4 and out == ""
    code, _, err = run("scan", "--root", str(root), "--directive", "BOD-99-99")
    assert code == 2 and err.strip().startswith("fedharden: --directive: unknown directive BOD-99-99")
    code, _, err = run("scan", "--root", str(tmp_path / "missing"))
    assert code == 2 and "not a directory" in err and "Traceback" not in err
    code, _, err = run("scan", "--root", str(root), "--format", "yaml")
    assert code == 2 and "unknown format 'yaml'" in err
    code, _, err = run("scan", "--root", str(root), "--output", str(tmp_path / "no" / "such" / "dir.json"))
    assert code == 2 and "cannot write" in err


def test_scan_never_writes_to_the_scanned_root(make_root: MakeRoot) -> None:
    root = hardened_root(make_root)
    before = tree_digest(root)
    code, _, _ = run("scan", "--root", str(root), "--format", "json")
    assert code == 4  # incomplete: no KEV fix data, no scan record in the image
    assert tree_digest(root) == before


def test_directives_commands(tmp_path: Path) -> None:
    code, out, _ = run("directives", "list")
    assert code == 0
    assert "BOD-23-02" in out and "HARDEN-30D" in out and "due 2026-07-02" in out
    code, out, _ = run("directives", "show", "HARDEN-30D")
    assert code == 0 and "HARDEN-30D.SSH.1  [high]  due 2026-07-02" in out and "PermitRootLogin no" in out
    code, _, err = run("directives", "show", "NOPE")
    assert code == 2 and "unknown directive NOPE" in err
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: AGENCY-X\ntitle: t\nissuer: i\nkind: agency\nissued: 2026-01-01\nid: AGENCY-Y\nrequirements: []\n")
    code, _, err = run("directives", "validate", str(bad))
    assert code == 2
    assert f"{bad}:6: $.id: duplicate key 'id' (first at line 1)" in err.splitlines()


def test_extra_directive_files_are_validated_before_scanning(make_root: MakeRoot, tmp_path: Path) -> None:
    bad = tmp_path / "agency.yaml"
    bad.write_text("id: AGENCY-X\n")
    code, out, err = run("scan", "--root", str(make_root(HARDENED)), "--directives", str(bad))
    assert code == 2 and out == ""
    assert f"{bad}:1: $: 'title' is a required property" in err.splitlines()


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root to drop to nobody")
def test_non_root_scan_reports_unreadable_facts_as_errors(tree: Callable[..., Path]) -> None:
    """A real process without root: /etc/shadow, /etc/sudoers and root's files are unreadable, so
    their rules are errors, not passes."""
    base = Path(tempfile.mkdtemp(prefix="fedharden-nonroot-"))
    try:
        os.chmod(base, 0o755)
        root = base / "root"
        tree(root, HARDENED, dict(MODES, **{"/etc/shadow": 0o600}))
        for d in [root, *root.rglob("*")]:
            if d.is_dir():
                os.chmod(d, 0o755)
        proc = subprocess.run(
            ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", FEDHARDEN, "scan", "--root", str(root),
             "--directive", "HARDEN-30D", "--format", "json"],
            capture_output=True, text=True, timeout=60, check=False,
        )
        assert proc.returncode in (0, 1), proc.stderr
        report = json.loads(proc.stdout)
        errors = {r["key"]: r["message"] for r in report["results"] if r["status"] == "error"}
        # /etc/shadow, /etc/sudoers (0440) and root's .profile (0600) are root's to read; root's PATH
        # takes sudo's secure_path into account.
        assert set(errors) == {"HARDEN-30D.ACCT.2", "HARDEN-30D.ACCT.6", "HARDEN-30D.ACCT.21", "HARDEN-30D.ACCT.22",
                               "HARDEN-30D.ACCT.25", "HARDEN-30D.ACCT.26", "HARDEN-30D.ACCT.27", "HARDEN-30D.ACCT.29",
                               "HARDEN-30D.SUDO.1", "HARDEN-30D.SUDO.2", "HARDEN-30D.SUDO.3", "HARDEN-30D.SUDO.6"}
        assert all("permission denied" in m for m in errors.values())
    finally:
        shutil.rmtree(base)

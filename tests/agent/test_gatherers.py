"""Fact gatherers on hand-made fixture roots: each file format read with its program's rules."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable


from agent.facts import gather
from agent.facts.context import Context
from agent.hosts import RootfsHost
from checks import sshd
from checks.facts import ConfigFile, FactKey, FileInfo, PackageDB, Unavailable, UnitFile
from checks.sysctld import persisted_sysctl

MakeRoot = Callable[..., Path]


def facts_of(root: Path, *keys: FactKey) -> dict[FactKey, object]:
    facts = gather(Context(RootfsHost(str(root))), keys)
    return {k: facts.get(k) for k in keys}


def test_sshd_include_glob_match_and_first_wins(make_root: MakeRoot) -> None:
    root = make_root({
        "/etc/ssh/sshd_config": (
            "# comment\n"
            "Include /etc/ssh/sshd_config.d/*.conf\n"
            "PermitRootLogin yes\n"
            "MaxAuthTries=3\n"
            "Match User backup\n"
            "    PasswordAuthentication yes\n"
            "Match all\n"
            "X11Forwarding no\n"
        ),
        "/etc/ssh/sshd_config.d/10-hardening.conf": "permitrootlogin no\n",
        "/etc/ssh/sshd_config.d/20-extra.conf": "PermitRootLogin without-password\n",
        "/etc/ssh/sshd_config.d/README": "PermitRootLogin yes\n",  # not matched by *.conf
    })
    key = FactKey("config", "sshd:/etc/ssh/sshd_config")
    conf = facts_of(root, key)[key]
    assert isinstance(conf, ConfigFile)
    effective = conf.effective("PermitRootLogin")
    assert effective is not None
    assert (effective.value, effective.file, effective.line) == ("no", "/etc/ssh/sshd_config.d/10-hardening.conf", 1)
    assert conf.effective("maxauthtries").value == "3"  # type: ignore[union-attr]
    assert conf.effective("passwordauthentication") is None  # only inside the Match block
    assert [s.match for s in conf.scoped("PasswordAuthentication")] == ["User backup"]
    # After "Match all": the global pass reads it too, and every connection gets it.
    assert sshd.resolve(conf, "x11forwarding", None)[0] == "no"
    assert sshd.resolve(conf, "x11forwarding", sshd.Connection("backup", "h", "10.0.0.1"))[0] == "no"
    assert sshd.resolve(conf, "passwordauthentication", sshd.Connection("backup", "h", "10.0.0.1"))[0] == "yes"


def test_sshd_relative_include_and_missing_file(make_root: MakeRoot) -> None:
    root = make_root({"/etc/ssh/sshd_config": "Include conf.d/*\n", "/etc/ssh/conf.d/a": "PermitRootLogin no\n"})
    key = FactKey("config", "sshd:/etc/ssh/sshd_config")
    conf = facts_of(root, key)[key]
    assert conf.effective("permitrootlogin").file == "/etc/ssh/conf.d/a"  # type: ignore[union-attr]
    empty = make_root({"/etc/hostname": "x\n"})
    assert facts_of(empty, key)[key] == ConfigFile("/etc/ssh/sshd_config", "sshd", exists=False)


def test_login_defs_last_wins(make_root: MakeRoot) -> None:
    root = make_root({"/etc/login.defs": "PASS_MAX_DAYS 99999\n#PASS_MAX_DAYS 1\nPASS_MAX_DAYS\t90\n"})
    key = FactKey("config", "login_defs:/etc/login.defs")
    conf = facts_of(root, key)[key]
    assert (conf.effective("PASS_MAX_DAYS").value, conf.effective("PASS_MAX_DAYS").line) == ("90", 3)  # type: ignore[union-attr]


def test_sysctl_precedence(make_root: MakeRoot) -> None:
    root = make_root({
        "/usr/lib/sysctl.d/50-default.conf": "net.ipv4.ip_forward = 1\nkernel.kptr_restrict=1\n",
        "/usr/lib/sysctl.d/60-shadowed.conf": "kernel.randomize_va_space = 0\n",
        "/etc/sysctl.d/60-shadowed.conf": "kernel.randomize_va_space = 2\n",  # same name: /etc wins
        "/etc/sysctl.d/70-fwd.conf": "net/ipv4/ip_forward=0\n",  # later name, slash form
        "/etc/sysctl.conf": "kernel.kptr_restrict = 2\n",  # not on systemd-sysctl's path: not read
    })
    key = FactKey("sysctl_persisted")
    settings = facts_of(root, key)[key]
    assert isinstance(settings, tuple)
    assert persisted_sysctl(settings, "net.ipv4.ip_forward").value == "0"  # type: ignore[union-attr]
    assert persisted_sysctl(settings, "kernel.randomize_va_space").value == "2"  # type: ignore[union-attr]
    assert persisted_sysctl(settings, "kernel.kptr_restrict").file == "/usr/lib/sysctl.d/50-default.conf"  # type: ignore[union-attr]
    assert all(s.file not in ("/usr/lib/sysctl.d/60-shadowed.conf", "/etc/sysctl.conf") for s in settings)


def test_sysctl_conf_read_once_through_link(make_root: MakeRoot) -> None:
    root = make_root({"/etc/sysctl.conf": "fs.suid_dumpable = 0\n", "/etc/sysctl.d/README": ""})
    os.symlink("../sysctl.conf", root / "etc/sysctl.d/99-sysctl.conf")
    key = FactKey("sysctl_persisted")
    settings = facts_of(root, key)[key]
    assert [(s.key, s.file) for s in settings] == [("fs.suid_dumpable", "/etc/sysctl.d/99-sysctl.conf")]  # type: ignore[union-attr]


def test_runtime_facts_are_not_applicable_on_an_image(make_root: MakeRoot) -> None:
    root = make_root({"/etc/hostname": "img\n"})
    got = facts_of(root, FactKey("sysctl", "net.ipv4.ip_forward"), FactKey("sockets"), FactKey("modules_loaded"),
                   FactKey("mounts"))
    assert all(isinstance(v, Unavailable) and v.not_applicable for v in got.values())


def test_dpkg_status(make_root: MakeRoot) -> None:
    root = make_root({"/var/lib/dpkg/status": (
        "Package: openssh-server\nStatus: install ok installed\nArchitecture: amd64\n"
        "Source: openssh (1:9.2p1-2+deb12u3)\nVersion: 1:9.2p1-2+deb12u3\nDescription: x\n more\n\n"
        "Package: libc6\nStatus: install ok installed\nSource: glibc\nVersion: 2.36-9+deb12u7\n\n"
        "Package: telnetd\nStatus: deinstall ok config-files\nVersion: 0.17-44\n"
    )})
    key = FactKey("packages")
    db = facts_of(root, key)[key]
    assert isinstance(db, PackageDB) and db.format == "dpkg"
    assert set(db.packages) == {"openssh-server", "libc6"}  # config-files only is not installed
    ssh = db.packages["openssh-server"][0]
    assert (ssh.source, ssh.source_version, ssh.arch) == ("openssh", "1:9.2p1-2+deb12u3", "amd64")
    assert db.packages["libc6"][0].source_version == "2.36-9+deb12u7"


def test_systemd_unit_states(make_root: MakeRoot) -> None:
    root = make_root({
        "/usr/lib/systemd/system/ssh.service": "[Unit]\n[Service]\n[Install]\nWantedBy=multi-user.target\nAlias=sshd.service\n",
        "/usr/lib/systemd/system/avahi-daemon.service": "[Service]\n[Install]\nWantedBy=multi-user.target\n",
        "/usr/lib/systemd/system/rsync.service": "[Service]\n[Install]\nWantedBy=multi-user.target\n",
        "/usr/lib/systemd/system/systemd-journald.service": "[Service]\n",
        "/etc/systemd/system/multi-user.target.wants/.keep": "",
    })
    etc = root / "etc/systemd/system"
    os.symlink("/usr/lib/systemd/system/ssh.service", etc / "multi-user.target.wants/ssh.service")
    os.symlink("/usr/lib/systemd/system/ssh.service", etc / "sshd.service")
    os.symlink("/dev/null", etc / "rsync.service")
    names = ["ssh.service", "sshd.service", "avahi-daemon.service", "rsync.service", "systemd-journald.service",
             "telnet.socket"]
    got = facts_of(root, *(FactKey("unit", n) for n in names))
    states = {k.arg: v.state for k, v in got.items() if isinstance(v, UnitFile)}
    assert states == {"ssh.service": "enabled", "sshd.service": "enabled", "avahi-daemon.service": "disabled",
                      "rsync.service": "masked", "systemd-journald.service": "static", "telnet.socket": "not-found"}


def test_modprobe_and_fstab(make_root: MakeRoot) -> None:
    root = make_root({
        "/usr/lib/modprobe.d/blacklist.conf": "blacklist cramfs\n",
        "/etc/modprobe.d/cis.conf": "install cramfs /bin/false # no\\\n\ninstall dccp \\\n  /bin/true\n",
        "/etc/fstab": "# <fs> <mp> <type> <opts>\nUUID=1 / ext4 errors=remount-ro 0 1\n"
                      "tmpfs /tmp tmpfs defaults,nodev,nosuid 0 0\n/dev/sdb1 /srv/my\\040data ext4 defaults 0 2\n",
    })
    got = facts_of(root, FactKey("modprobe"), FactKey("fstab"))
    rules = {(r.kind, r.module, r.command.strip(), r.file, r.line) for r in got[FactKey("modprobe")]}  # type: ignore[union-attr]
    assert ("install", "dccp", "/bin/true", "/etc/modprobe.d/cis.conf", 3) in rules
    assert ("blacklist", "cramfs", "", "/usr/lib/modprobe.d/blacklist.conf", 1) in rules
    fstab = {m.mountpoint: m for m in got[FactKey("fstab")]}  # type: ignore[union-attr]
    assert fstab["/tmp"].options == ("defaults", "nodev", "nosuid") and fstab["/tmp"].where == "/etc/fstab:3"
    assert "/srv/my data" in fstab


def test_file_owner_names_come_from_the_target(make_root: MakeRoot) -> None:
    uid, gid = os.getuid(), os.getgid()
    root = make_root({"/etc/passwd": f"someone:x:{uid}:{gid}::/:/bin/sh\n", "/etc/group": f"agroup:x:{gid}:\n",
                      "/etc/shadow": "someone:*:1:0:99999:7:::\n"}, modes={"/etc/shadow": 0o640})
    key = FactKey("file", "/etc/shadow")
    info = facts_of(root, key)[key]
    assert info == FileInfo("/etc/shadow", True, "file", 0o640, uid, gid, "someone", "agroup")


def test_rootfs_symlinks_stay_inside_the_root(make_root: MakeRoot, tmp_path: Path) -> None:
    outside = tmp_path / "outside-secret"
    outside.write_text("PermitRootLogin yes\n")
    root = make_root({"/etc/ssh/real_config": "PermitRootLogin no\n"})
    # An absolute link in an image points into the image, never at the scanning machine.
    os.symlink(str(outside), root / "etc/ssh/sshd_config")
    (root / str(outside).lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
    host = RootfsHost(str(root))
    assert host.resolve("/etc/ssh/sshd_config") == str(root / str(outside).lstrip("/"))
    os.unlink(root / "etc/ssh/sshd_config")
    os.symlink("../../../../../../etc/ssh/real_config", root / "etc/ssh/sshd_config")
    assert host.read("/etc/ssh/sshd_config") == b"PermitRootLogin no\n"  # .. stops at the root

"""Gatherers added for the library: text files by glob, configuration drop-ins."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from agent.facts import gather
from agent.facts.context import Context
from agent.hosts import RootfsHost
from checks.facts import ConfigFile, FactKey, TextFiles

MakeRoot = Callable[..., Path]


def fact(root: Path, key: FactKey) -> object:
    return gather(Context(RootfsHost(str(root))), [key]).get(key)


def test_lines_glob_reads_regular_files_in_order_without_comments(make_root: MakeRoot) -> None:
    root = make_root({
        "/etc/audit/rules.d/50-b.rules": "# identity\n-w /etc/passwd -p wa\n\n",
        "/etc/audit/rules.d/10-a.rules": "-e 2\n",
        "/etc/audit/rules.d/notes.txt": "-w /etc/x -p wa\n",
        "/etc/audit/rules.d/sub.rules/ignored": "",
    })
    got = fact(root, FactKey("lines", "/etc/audit/rules.d/*.rules"))
    assert isinstance(got, TextFiles)
    assert [(f.path, f.lines) for f in got.files] == [
        ("/etc/audit/rules.d/10-a.rules", ((1, "-e 2"),)),
        ("/etc/audit/rules.d/50-b.rules", ((2, "-w /etc/passwd -p wa"),)),
    ]


def test_lines_of_a_missing_file_or_directory(make_root: MakeRoot) -> None:
    root = make_root({"/etc/hostname": "x\n"})
    assert fact(root, FactKey("lines", "/etc/pam.d/su")) == TextFiles("/etc/pam.d/su", ())
    assert fact(root, FactKey("lines", "/etc/nothing/*.conf")) == TextFiles("/etc/nothing/*.conf", ())


def test_config_dropins_override_the_main_file(make_root: MakeRoot) -> None:
    root = make_root({
        "/etc/systemd/journald.conf": "[Journal]\nStorage=persistent\n",
        "/etc/systemd/journald.conf.d/10-a.conf": "[Journal]\nStorage=auto\n",
        "/etc/systemd/journald.conf.d/20-b.conf": "[Journal]\nStorage=volatile\n",
    })
    conf = fact(root, FactKey("config", "keyequals:/etc/systemd/journald.conf|/etc/systemd/journald.conf.d/*.conf"))
    assert isinstance(conf, ConfigFile)
    setting = conf.effective("Storage")
    assert setting is not None and (setting.value, setting.file) == ("volatile", "/etc/systemd/journald.conf.d/20-b.conf")


def test_config_dropins_without_a_main_file(make_root: MakeRoot) -> None:
    root = make_root({"/etc/security/pwquality.conf.d/50.conf": "minlen = 16\n"})
    conf = fact(root, FactKey("config", "keyequals:/etc/security/pwquality.conf|/etc/security/pwquality.conf.d/*.conf"))
    assert isinstance(conf, ConfigFile) and not conf.exists
    assert conf.effective("minlen") is not None


def test_config_systemd_dialect_reads_every_drop_in_folder(make_root: MakeRoot) -> None:
    root = make_root({
        "/etc/systemd/timesyncd.conf": "[Time]\nNTP=etc.example\n",
        "/usr/lib/systemd/timesyncd.conf.d/10-vendor.conf": "[Time]\nNTP=vendor.example\n",
        "/run/systemd/timesyncd.conf.d/50-dhcp.conf": "[Time]\nNTP=dhcp.example\n",
        "/etc/systemd/timesyncd.conf.d/50-dhcp.conf": "[Time]\nFallbackNTP=shadowing.example\n",
    })
    conf = fact(root, FactKey("config", "systemd:/etc/systemd/timesyncd.conf"))
    assert isinstance(conf, ConfigFile) and conf.exists and conf.path == "/etc/systemd/timesyncd.conf"
    setting = conf.effective("Time.NTP")
    # /etc's 50-dhcp.conf shadows /run's, so the vendor drop-in's value is the last NTP=.
    assert setting is not None and (setting.value, setting.file) == (
        "vendor.example", "/usr/lib/systemd/timesyncd.conf.d/10-vendor.conf")


def test_config_postfix_dialect_expands_and_refuses(make_root: MakeRoot) -> None:
    root = make_root({"/etc/postfix/main.cf": "lo = loopback-only\ninet_interfaces = $lo\n"})
    conf = fact(root, FactKey("config", "postfix:/etc/postfix/main.cf"))
    assert isinstance(conf, ConfigFile)
    setting = conf.effective("inet_interfaces")
    assert setting is not None and (setting.value, setting.line) == ("loopback-only", 2)
    broken = make_root({"/etc/postfix/main.cf": "inet_interfaces = all\nnot an assignment\n"})
    refused = fact(broken, FactKey("config", "postfix:/etc/postfix/main.cf"))
    assert not isinstance(refused, ConfigFile) and "Postfix refuses" in str(refused)

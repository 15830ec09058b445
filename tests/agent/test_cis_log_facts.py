"""Gatherers for systemd's configuration files, /var/log's files, banners and AppArmor."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from agent.facts import gather
from agent.facts.context import Context
from agent.hosts import RootfsHost
from checks.facts import AppArmorProfiles, ConfigFile, FactKey, FileTree, TextFile, Unavailable

MakeRoot = Callable[..., Path]


def fact(root: Path, key: FactKey) -> object:
    return gather(Context(RootfsHost(str(root))), [key]).get(key)


def test_systemd_config_reads_every_folder_in_cat_config_order(make_root: MakeRoot) -> None:
    root = make_root({
        "/etc/systemd/journald.conf": "[Journal]\n#Storage=auto\nStorage=volatile\n",
        "/usr/lib/systemd/journald.conf.d/syslog.conf": "[Journal]\nForwardToSyslog=yes\n",
        "/usr/lib/systemd/journald.conf.d/50-a.conf": "[Journal]\nStorage=auto\n",
        "/etc/systemd/journald.conf.d/50-a.conf": "[Journal]\nStorage=persistent\n",
        "/run/systemd/journald.conf.d/.hidden.conf": "[Journal]\nStorage=none\n",
        "/etc/systemd/journald.conf.d/zz.conf": "[Journal]\nCompress=\\\n  no\n[Other]\nStorage=none\n",
    })
    got = fact(root, FactKey("config", "systemd:/etc/systemd/journald.conf"))
    assert isinstance(got, ConfigFile)
    assert list(dict.fromkeys(s.file for s in got.settings)) == [
        "/etc/systemd/journald.conf", "/etc/systemd/journald.conf.d/50-a.conf",
        "/usr/lib/systemd/journald.conf.d/syslog.conf", "/etc/systemd/journald.conf.d/zz.conf"]
    storage = got.effective("Journal.Storage")
    assert storage is not None and (storage.value, storage.file) == ("persistent", "/etc/systemd/journald.conf.d/50-a.conf")
    assert got.effective("Other.Storage") is not None and got.effective("Journal.storage") is None
    compress = got.effective("Journal.Compress")
    assert compress is not None and (compress.value, compress.line) == ("no", 2)


def test_systemd_config_masked_dropin_hides_its_name(make_root: MakeRoot) -> None:
    root = make_root({"/usr/lib/systemd/journald.conf.d/syslog.conf": "[Journal]\nForwardToSyslog=yes\n"})
    (root / "etc/systemd/journald.conf.d").mkdir(parents=True)
    os.symlink("/dev/null", root / "etc/systemd/journald.conf.d/syslog.conf")
    got = fact(root, FactKey("config", "systemd:/etc/systemd/journald.conf"))
    assert isinstance(got, ConfigFile) and got.settings == () and not got.exists


def test_file_tree_lists_regular_files_only(make_root: MakeRoot) -> None:
    root = make_root({"/var/log/dpkg.log": "x", "/var/log/apt/history.log": "y", "/etc/passwd": "root:x:0:0::/:/bin/sh\n",
                      "/etc/group": "root:x:0:\n"})
    os.symlink("../../usr/share/doc/README", root / "var/log/README")
    os.chmod(root / "var/log/dpkg.log", 0o644)
    got = fact(root, FactKey("file_tree", "/var/log"))
    assert isinstance(got, FileTree)
    assert [(e.path, e.mode) for e in got.files] == [("/var/log/apt/history.log", got.files[0].mode),
                                                     ("/var/log/dpkg.log", 0o644)]
    assert got.files[1].owner in ("root", "") and not got.unreadable
    assert fact(root, FactKey("file_tree", "/var/nothing")) == FileTree("/var/nothing", False)


def test_raw_text_keeps_hash_lines_and_says_absent(make_root: MakeRoot) -> None:
    root = make_root({"/etc/issue": "# Debian\n\nAuthorized use only \\l\n"})
    assert fact(root, FactKey("raw_text", "/etc/issue")) == TextFile("/etc/issue", ((1, "# Debian"),
                                                                                  (3, "Authorized use only \\l")))
    assert fact(root, FactKey("raw_text", "/etc/issue.net")) is None


class LiveRoot(RootfsHost):
    live = True


def test_apparmor_profiles_live_and_image(make_root: MakeRoot) -> None:
    root = make_root({"/sys/kernel/security/apparmor/profiles": "/usr/bin/man (enforce)\nlibreoffice-oopslash (complain)\n"})
    key = FactKey("apparmor_profiles")
    live = gather(Context(LiveRoot(str(root))), [key]).get(key)
    assert live == AppArmorProfiles(True, (("/usr/bin/man", "enforce"), ("libreoffice-oopslash", "complain")))
    image = fact(root, key)
    assert isinstance(image, Unavailable) and image.not_applicable
    bare = make_root({"/etc/hostname": "x\n"})
    assert gather(Context(LiveRoot(str(bare))), [key]).get(key) == AppArmorProfiles(False)

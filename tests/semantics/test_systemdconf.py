"""systemd's configuration files: which files fedharden reads for /etc/systemd/timesyncd.conf (and journald.conf,
journal-upload.conf) and in which order, against the real ``systemd-analyze cat-config --root=ROOT
systemd/NAME`` on generated trees (never this machine's /etc).

CASES trees seeded with SEED (``random.Random``): the main file in none, one or several of
/etc, /run, /usr/local/lib and /usr/lib; drop-ins ``NN-name.conf`` in the four
``timesyncd.conf.d`` folders, the same name in several (the earlier folder shadows), masked by
a link to /dev/null (cat-config prints its name over nothing; fedharden leaves it out),
with another suffix, or hidden (a name starting with a dot, which systemd skips). How a
file's lines read (sections, comments, continuations, the last assignment winning) follows systemd.syntax(7) and conf-parser.c; no
offline program prints timesyncd's parsed settings, so that half is pinned by the unit tests
below and the TIME scenarios.
"""
from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from agent.facts.context import Context
from agent.facts.systemdconf import conf_files, parse_unit_text
from agent.hosts.rootfs import RootfsHost
from checks.facts import ConfigFile
from tests.semantics.oracle import isolated, require

CASES = 80
SEED = 20261205
ROOTS = ("etc", "run", "usr/local/lib", "usr/lib")
NAMES = ("10-a.conf", "50-agency.conf", "50-agency.conf.disabled", "90-z.conf", ".hidden.conf")


def build(root: Path, rng: random.Random, conf: str) -> None:
    for base in ROOTS:
        folder = root / base / "systemd"
        (folder / f"{conf}.d").mkdir(parents=True)
        if rng.random() < 0.3:
            (folder / conf).write_text(f"[Time]\n#NTP= main in {base}\n")
        for name in NAMES:
            roll = rng.random()
            if roll < 0.25:
                (folder / f"{conf}.d" / name).write_text(f"[Time]\nNTP={base.replace('/', '-')}.example\n")
            elif roll < 0.32:
                os.symlink("/dev/null", folder / f"{conf}.d" / name)


# The files HARDEN-30D reads this way: TIME.3 timesyncd.conf, LOG.1/10/11/13 journald.conf,
# LOG.7 journal-upload.conf.
@pytest.mark.parametrize("conf", ["timesyncd.conf", "journald.conf", "journal-upload.conf"])
def test_files_and_order_match_systemd_analyze_cat_config(tmp_path: Path, conf: str) -> None:
    analyze = require("systemd-analyze")
    rng = random.Random(SEED)
    disagreements, lengths = [], set()
    for number in range(CASES):
        root = tmp_path / f"tree{number}"
        build(root, rng, conf)
        result = isolated([analyze, "cat-config", f"--root={root}", f"systemd/{conf}"], check=True)
        # cat-config shows a masked drop-in as an empty file; fedharden skips it: neither reads a line.
        theirs = [path for path in (line[2:].removeprefix(str(root)) for line in result.stdout.splitlines()
                                    if line.startswith(f"# {root}/"))
                  if not (root / path.lstrip("/")).is_symlink()]
        ours = [path for path, _ in conf_files(Context(RootfsHost(str(root))), f"/etc/systemd/{conf}")]
        lengths.add(len(ours))
        if ours != theirs:
            disagreements.append((root.name, ours, theirs))
    assert disagreements == [], disagreements[:3]
    assert {1, 2, 3, 4} <= lengths, lengths


def test_lines_read_as_conf_parser_reads_them() -> None:
    text = ("NTP=outside.example\n[Time]\n; comment\nNTP=a.example \\\n# comment inside a continuation\n"
            "  b.example\nntp=lower.example\nFallbackNTP\n[Other]\nNTP=other.example\n[Time]\nNTP=\n"
            "[Broken\nNTP=after.example\n")
    settings, problems, whole = parse_unit_text(text, "/etc/systemd/timesyncd.conf")
    assert [(s.key, s.value, s.line) for s in settings] == [
        ("Time.NTP", "a.example    b.example", 4), ("Time.ntp", "lower.example", 7),
        ("Other.NTP", "other.example", 10), ("Time.NTP", "", 12)]
    assert not whole and len(problems) == 3  # outside a section, no '=', the broken header
    conf = ConfigFile("/etc/systemd/timesyncd.conf", "systemd", True, tuple(settings), case_sensitive=True)
    effective = conf.effective("Time.NTP")
    assert effective is not None and effective.value == ""  # NTP= empties the list: nothing configured
    assert conf.effective("time.ntp") is None  # keys are case-sensitive

"""systemd's configuration files: which files fedharden reads for journald.conf and in which
order (agent/facts/systemdconf.py), against ``systemd-analyze cat-config --root=ROOT
systemd/journald.conf`` on the same generated tree (a temporary root; nothing of this machine
is read or changed).

CASES trees seeded with SEED: the main file in none or some of /etc, /run, /usr/local/lib and
/usr/lib; drop-ins in the four NAME.d folders with shared names (the earlier folder hides the
later), links to /dev/null (a mask: cat-config prints its name and nothing, fedharden reads
nothing and the name stays hidden), names that are not ``*.conf`` or start with a dot. The
files fedharden reads must be those cat-config prints, masks left out, in the same order; and
the value of Storage= (the last assignment of [Journal]) fedharden gives must be the one the
printed files, read in that order, give. How a line reads (sections, case-sensitive keys,
continuations, comments) follows conf-parser.c and is pinned by the LOG scenarios; no offline
program prints journald's parsed settings.
"""
from __future__ import annotations

import os
import random
import subprocess
import tempfile
from pathlib import Path

from agent.facts import systemdconf
from agent.facts.context import Context
from agent.hosts.rootfs import RootfsHost
from tests.semantics.oracle import require

CASES = 200
SEED = 20261208
FOLDERS = ("etc/systemd", "run/systemd", "usr/local/lib/systemd", "usr/lib/systemd")
NAMES = ("10-a.conf", "20-b.conf", "50-c.conf", "99-z.conf", "syslog.conf", ".hidden.conf", "x.conf~", "notes.txt")
VALUES = ("persistent", "volatile", "auto", "none")


def build(root: Path, rng: random.Random) -> None:
    for folder in FOLDERS:
        base = root / folder
        base.mkdir(parents=True, exist_ok=True)
        if rng.random() < 0.3:
            (base / "journald.conf").write_text(f"[Journal]\nStorage={rng.choice(VALUES)}\n")
        dropins = base / "journald.conf.d"
        for name in rng.sample(NAMES, rng.randint(0, 4)):
            dropins.mkdir(exist_ok=True)
            if rng.random() < 0.15:
                os.symlink("/dev/null", dropins / name)
            else:
                section = "Journal" if rng.random() < 0.9 else "Other"
                (dropins / name).write_text(f"[{section}]\nStorage={rng.choice(VALUES)}\n")


def cat_config(analyze: str, root: Path) -> list[str]:
    """The files cat-config prints, as paths inside the root, masks left out."""
    proc = subprocess.run([analyze, "cat-config", f"--root={root}", "systemd/journald.conf"],
                          capture_output=True, text=True, timeout=30, check=False)
    assert proc.returncode == 0, proc.stderr
    out = []
    for line in proc.stdout.splitlines():
        if line.startswith(f"# {root}/"):
            path = line[2 + len(str(root)):]
            local = root / path.lstrip("/")
            if not (local.is_symlink() and os.readlink(local) == "/dev/null"):
                out.append(path)
    return out


def storage(root: Path, files: list[str]) -> str | None:
    value = None
    for path in files:
        for setting in systemdconf.parse_text((root / path.lstrip("/")).read_text(), path):
            if setting.key == "Journal/Storage":
                value = setting.value
    return value


def test_files_and_order_match_cat_config() -> None:
    analyze = require("systemd-analyze")
    rng = random.Random(SEED)
    disagreements = []
    read = 0
    for case in range(CASES):
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            build(root, rng)
            theirs = cat_config(analyze, root)
            conf = systemdconf.parse(Context(RootfsHost(str(root))), "/etc/systemd/journald.conf")
            mine = list(conf.notes)
            effective = conf.effective("Journal/Storage")
            read += len(theirs) > 1
            if mine != theirs or (effective.value if effective else None) != storage(root, theirs):
                disagreements.append((case, theirs, mine))
    assert disagreements == []
    assert read > CASES // 2, "most trees have more than one file to order"

"""GLib key files (GDM's /etc/gdm3/daemon.conf): the value fedharden reads for a key, against
GLib's own GKeyFile (``g_key_file_load_from_file`` then ``g_key_file_get_value``, what GDM's
settings backend calls), run by the system Python's GObject bindings on the same files in a
temporary directory.

CASES generated files, seeded with SEED: groups (repeated, indented, with trailing blanks),
keys set twice, blanks around ``=``, trailing blanks in values, indented comments, translated
keys (``Enable[de]``), keys in another case, and lines GLib refuses (a key before any group,
a line without ``=``, an unclosed group header), after which GLib keeps what it read. For every
key asked, the value (or its absence) must be the same.
"""
from __future__ import annotations

import json
import random
import subprocess
from pathlib import Path

import pytest

from agent.facts.config import keyfile

CASES = 300
SEED = 20261205
SYSTEM_PYTHON = "/usr/bin/python3"
KEYS = (("xdmcp", "Enable"), ("daemon", "AutomaticLoginEnable"), ("security", "DisallowTCP"))

ORACLE = r"""
import json, sys
from gi.repository import GLib
out = []
for path in json.loads(sys.argv[1]):
    kf = GLib.KeyFile()
    try:
        kf.load_from_file(path, GLib.KeyFileFlags.KEEP_COMMENTS | GLib.KeyFileFlags.KEEP_TRANSLATIONS)
        refused = False
    except GLib.Error:
        refused = True
    values = {}
    for group, key in json.loads(sys.argv[2]):
        try:
            values[group + "/" + key] = kf.get_value(group, key)
        except GLib.Error:
            values[group + "/" + key] = None
    out.append({"refused": refused, "values": values})
print(json.dumps(out))
"""

LINES = ("# a comment", "   # an indented comment", "", "Enable=true", "Enable=false", "Enable = 1", "Enable=TRUE  ",
         "enable=true", "Enable[de]=true", "AutomaticLoginEnable=true", "DisallowTCP = false", "DisallowTCP=true")
REFUSED = ("junk", "[unclosed", "= value")


def generate(rng: random.Random, path: Path) -> None:
    lines: list[str] = []
    if rng.random() < 0.1:
        lines.append(rng.choice(("Enable=true", "# before any group")))
    for _ in range(rng.randrange(1, 5)):
        group = rng.choice(("xdmcp", "daemon", "security", "debug"))
        lines.append(rng.choice((f"[{group}]", f"  [{group}]", f"[{group}]  ")))
        lines += rng.sample(LINES, rng.randrange(4))
        if rng.random() < 0.05:
            lines.append(rng.choice(REFUSED))
    path.write_text("\n".join(lines) + ("\n" if rng.random() < 0.8 else ""))


def test_keyfile_matches_glib(tmp_path: Path) -> None:
    probe = subprocess.run([SYSTEM_PYTHON, "-c", "from gi.repository import GLib"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.fail("the oracle GLib (python3-gi) is not installed: run the suite through tests/run")
    rng = random.Random(SEED)
    paths = []
    for number in range(CASES):
        path = tmp_path / f"daemon{number}.conf"
        generate(rng, path)
        paths.append(path)
    done = subprocess.run([SYSTEM_PYTHON, "-c", ORACLE, json.dumps([str(p) for p in paths]), json.dumps(KEYS)],
                          capture_output=True, text=True, timeout=120, check=True)
    disagreements = []
    refused = 0
    for path, answer in zip(paths, json.loads(done.stdout)):
        mine = keyfile(path.read_text(), str(path))
        refused += answer["refused"]
        if answer["refused"] != bool(mine.problems):
            disagreements.append((path.name, "refused", mine.problems, answer["refused"]))
        for group, key in KEYS:
            setting = mine.effective(f"{group}/{key}")
            ours = setting.value if setting else None
            if ours != answer["values"][f"{group}/{key}"]:
                disagreements.append((path.name, f"{group}/{key}", ours, answer["values"][f"{group}/{key}"]))
    assert disagreements == [], disagreements[:5]
    assert refused > CASES // 20, refused

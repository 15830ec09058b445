"""Postfix main.cf: the inet_interfaces value fedharden says Postfix uses, against the real
``postconf -c DIR -xh inet_interfaces`` on generated files in a scratch folder (never this
machine's /etc/postfix).

CASES files seeded with SEED (``random.Random``): inet_interfaces set zero to three times, with
values continued on indented lines, comment lines (indented or not) between them, references to
other parameters (``$name``, ``${name}``, ``$(name)``, chained), a stray indented line at the
top and lines without ``=`` (postconf stops on those, and fedharden must refuse the same files).
Values are loopback ones only: postconf resolves inet_interfaces and stops on an address this
machine does not have.
"""
from __future__ import annotations

import os
import random
import subprocess
from pathlib import Path

from agent.facts.postfix import MainCfError, parse_main_cf
from tests.semantics.oracle import require

CASES = 100
SEED = 20261205
VALUES = ("all", "loopback-only", "localhost", "127.0.0.1", "[::1]", "127.0.0.1, [::1]", "localhost,127.0.0.1")
ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C"}
REFERENCES = ("$iface", "${iface}", "$(iface)", "$chain")


def generate(rng: random.Random) -> str:
    lines = ["# generated"]
    if rng.random() < 0.2:
        lines.insert(0, "   stray = 1")
    defined = {"iface": rng.choice(VALUES)}
    lines.append(f"iface = {defined['iface']}")
    lines.append("chain = ${iface}")
    for _ in range(rng.randrange(4)):
        value = rng.choice(VALUES + REFERENCES)
        if "," in value and rng.random() < 0.5:
            first, rest = value.split(",", 1)
            lines.append(f"inet_interfaces{rng.choice(('=', ' = ', '  =  '))}{first},")
            if rng.random() < 0.4:
                lines.append(rng.choice(("# between", "   # indented comment", "")))
            lines.append(f"{rng.choice(('  ', chr(9)))}{rest.strip()}   ")
        else:
            lines.append(f"inet_interfaces = {value}")
        if rng.random() < 0.3:
            lines.append(rng.choice(("no equals sign here", "myhostname = mail.example", "  # x")))
    rng.shuffle(lines[2:]) if rng.random() < 0.3 else None
    return "\n".join(lines) + "\n"


def test_inet_interfaces_matches_postconf(tmp_path: Path) -> None:
    postconf = require("postconf")
    rng = random.Random(SEED)
    disagreements, seen = [], set()
    for number in range(CASES):
        folder = tmp_path / f"conf{number}"
        folder.mkdir()
        text = generate(rng)
        (folder / "main.cf").write_text(text)
        (folder / "master.cf").write_text("")
        for name in ("main.cf", "master.cf"):  # Postfix waits for a file changed this very second to settle
            os.utime(folder / name, (1_700_000_000, 1_700_000_000))
        # postconf -c reads only that folder: a scratch folder needs no namespace around it.
        result = subprocess.run([postconf, "-c", str(folder), "-xh", "inet_interfaces"], capture_output=True,
                                text=True, timeout=30, check=False, stdin=subprocess.DEVNULL, env=ENV)
        theirs = " ".join(result.stdout.split()) if result.returncode == 0 else "refused"
        try:
            setting = parse_main_cf(text, str(folder / "main.cf")).effective("inet_interfaces")
        except MainCfError:
            seen.add("refused")
            if theirs != "refused":
                disagreements.append((folder.name, "refused", theirs))
            continue
        ours = " ".join(setting.value.split()) if setting else "all"  # Postfix's built-in default
        seen.add(ours)
        if ours != theirs:
            disagreements.append((folder.name, ours, theirs))
    assert disagreements == [], disagreements[:5]
    assert len(seen) >= 5 and "refused" in seen, seen

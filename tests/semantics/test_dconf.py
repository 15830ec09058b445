"""dconf: the value fedharden reads for a key through a profile of system databases (keyfiles
and locks, agent.facts.dconf and checks.dconf), against ``dconf read`` after the real
``dconf compile`` built the databases, in a private mount namespace with the generated
/etc/dconf bound over the real one.

CASES generated cases, seeded with SEED: a profile ``user-db:user``, ``system-db:a``,
``system-db:b``; each system database gets keyfiles (names sorted as dconf reads them, the same
key in several files, comment lines, two groups) and lock files; the user's own database is
compiled too (into $XDG_CONFIG_HOME/dconf/user), so that a key nobody locks reads the user's
value and a locked one the system's. For every key, the value dconf reads must be the one
fedharden predicts: the user's when no system database locks the key and the user set it, else
the value checks.dconf.lookup finds from the lowest lock down.
"""
from __future__ import annotations

import json
import random
import sys
from pathlib import Path

from agent.facts.context import Context
from agent.facts.dconf import keyfile, load
from agent.hosts.rootfs import RootfsHost
from checks.dconf import lookup
from checks.facts import DconfValue
from tests.semantics.oracle import isolated, require

CASES = 120
SEED = 20261205
KEYS = {"/org/test/one/idle-delay": ("uint32 0", "uint32 300", "uint32 900"),
        "/org/test/one/lock-enabled": ("true", "false"),
        "/org/test/two/automount": ("true", "false"),
        "/org/test/two/autorun-never": ("true", "false")}

# Inside the namespace: for each case, its /etc/dconf bound over the real one, dconf compile of
# each database (as dconf update does), then dconf read of every key with the case's profile.
BATCH = r"""
import json, os, subprocess, sys
out = []
spec = json.loads(sys.argv[1])
for case in spec["cases"]:
    subprocess.run(["mount", "--bind", case + "/etc/dconf", "/etc/dconf"], check=True)
    for name in ("a", "b"):
        subprocess.run(["dconf", "compile", f"/etc/dconf/db/{name}", f"/etc/dconf/db/{name}.d"], check=True)
    os.makedirs(case + "/home/dconf", exist_ok=True)
    subprocess.run(["dconf", "compile", case + "/home/dconf/user", case + "/user.d"], check=True)
    env = dict(os.environ, DCONF_PROFILE="/etc/dconf/profile/user", XDG_CONFIG_HOME=case + "/home",
               XDG_RUNTIME_DIR=case + "/run")
    reads = {}
    for key in spec["keys"]:
        reads[key] = subprocess.run(["dconf", "read", key], env=env, capture_output=True, text=True, check=True).stdout.strip()
    subprocess.run(["umount", "/etc/dconf"], check=True)
    out.append(reads)
print(json.dumps(out))
"""


def _keyfile(rng: random.Random) -> str:
    lines = ["# generated"] if rng.random() < 0.3 else []
    for group in ("one", "two"):
        keys = [k for k in KEYS if k.split("/")[3] == group]
        chosen = rng.sample(keys, rng.randrange(len(keys) + 1))
        if chosen:
            lines.append(f"[org/test/{group}]")
            lines += [f"{k.rsplit('/', 1)[1]}={rng.choice(KEYS[k])}" for k in chosen]
    return "\n".join(lines) + "\n"


def generate(rng: random.Random, case: Path) -> None:
    dconf = case / "etc/dconf"
    (dconf / "profile").mkdir(parents=True)
    (dconf / "profile/user").write_text("user-db:user\nsystem-db:a\nsystem-db:b\n")
    for name in ("a", "b"):
        directory = dconf / "db" / f"{name}.d"
        (directory / "locks").mkdir(parents=True)
        for file in rng.sample(("00-base", "10-local", "50-site", "99-zz"), rng.randrange(4)):
            (directory / file).write_text(_keyfile(rng))
        if rng.random() < 0.6:
            locked = rng.sample(sorted(KEYS), rng.randrange(1, 3))
            (directory / "locks" / "00-locks").write_text("".join(f"{k}\n" for k in locked))
    (case / "user.d").mkdir()
    (case / "user.d/user").write_text(_keyfile(rng))
    (case / "run").mkdir()


def test_dconf_read_matches_dconf(tmp_path: Path) -> None:
    require("dconf")
    rng = random.Random(SEED)
    cases = []
    for number in range(CASES):
        case = tmp_path / f"case{number}"
        generate(rng, case)
        cases.append(case)
    done = isolated([sys.executable, "-c", BATCH, json.dumps({"cases": [str(c) for c in cases], "keys": sorted(KEYS)})],
                    timeout=600)
    assert done.returncode == 0, done.stderr
    disagreements = []
    locked = user_wins = 0
    for case, reads in zip(cases, json.loads(done.stdout)):
        profile = load(Context(RootfsHost(str(case))), "user")
        user: dict[str, DconfValue] = {}
        keyfile((case / "user.d/user").read_text(), "user", user)
        for key in sorted(KEYS):
            found, lock = lookup(profile, key)
            if not lock and key in user:
                expected, user_wins = user[key].value, user_wins + 1
            else:
                expected = found.value if found else ""
                locked += bool(lock)
            if expected != reads[key]:
                disagreements.append((case.name, key, expected, reads[key]))
    assert disagreements == [], disagreements[:5]
    assert locked > CASES // 4 and user_wins > CASES // 4, (locked, user_wins)

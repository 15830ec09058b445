"""Account lock states (ACCT.25, ACCT.27) against ``passwd -S -a`` (shadow-utils' own reading).

Hypothesis generates /etc/passwd and /etc/shadow (password fields locked with ``!`` or ``*``,
``!!``, ``*LK*``, hashes, empty, ``x``; accounts with and without a shadow line); fedharden
reads them through a RootfsHost and ``passwd -S -a`` runs with the same files bound over the
real ones in a private mount namespace (one for all cases). For every account with a shadow
line, ``passwd`` must report L exactly when fedharden calls the account locked, NP exactly when
the field is empty, and P otherwise. 100 cases, seed 20261205; 0 disagreements allowed.
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Iterator

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from agent.facts.accounts import parse_shadow
from checks.accounts import locked
from tests.semantics.oracle import require
from tests.semantics.worker import Run, namespace

FIELDS = ["*", "!", "!!", "*LK*", "!*", "!$y$j9T$abc$def", "$y$j9T$abc$def", "$6$salt$hash", "", "x", "abcDES12345xy",
          " !", "!x"]


@st.composite
def databases(draw: Any) -> tuple[str, str]:
    names = draw(st.lists(st.sampled_from(["alice", "bob", "carol", "dave", "svc", "ftp", "nobody"]), min_size=1,
                          max_size=7, unique=True))
    passwd = ["root:x:0:0:root:/root:/bin/bash"]
    shadow = [f"root:{draw(st.sampled_from(FIELDS))}:19000:0:99999:7:::"]
    for uid, name in enumerate(names, 1000):
        passwd.append(f"{name}:x:{uid}:{uid}::/home/{name}:/bin/sh")
        if draw(st.integers(0, 5)):
            shadow.append(f"{name}:{draw(st.sampled_from(FIELDS))}:19000:0:99999:7:::")
    return "\n".join(passwd) + "\n", "\n".join(shadow) + "\n"


@pytest.fixture(scope="module")
def stage() -> Iterator[tuple[Path, Run]]:
    with tempfile.TemporaryDirectory() as tmp:
        etc = Path(tmp) / "etc"
        etc.mkdir()
        for name in ("passwd", "shadow"):
            (etc / name).write_text("")
        with namespace([("bind", str(etc / "passwd"), "/etc/passwd"),
                        ("bind", str(etc / "shadow"), "/etc/shadow")]) as run:
            yield Path(tmp), run


@seed(20261205)
@settings(max_examples=100, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(databases())
def test_lock_state_is_what_passwd_reports(stage: tuple[Path, Run], files: tuple[str, str]) -> None:
    root, run = stage
    passwd, shadow = files
    (root / "etc/passwd").write_text(passwd)  # in place: the bound files are these very inodes
    (root / "etc/shadow").write_text(shadow)
    done = run([require("passwd"), "-S", "-a"])
    assert done.returncode == 0, done.stderr
    reported = {line.split()[0]: line.split()[1] for line in done.stdout.splitlines() if line.strip()}
    for entry in parse_shadow(shadow):
        ours = "L" if locked(entry) else "NP" if entry.hash == "" else "P"
        assert reported.get(entry.name) == ours, (entry, reported, passwd, shadow)

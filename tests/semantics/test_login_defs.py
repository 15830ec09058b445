"""login.defs: fedharden's reading (agent/facts/logindefs.py) against shadow's own tools.

Hypothesis generates a login.defs (decimal, hexadecimal, octal and negative numbers, quoted
values, trailing "comments" that shadow does not treat as comments, lower-case names,
repeated names). The shadow tools read it from a throwaway root, in a private mount namespace
with empty /var/log and /var/mail so nothing of this machine is touched (one namespace for
all cases, tests/semantics/worker.py):

- ``useradd --prefix ROOT -m -l`` creates a user: its /etc/shadow line carries the
  PASS_MIN_DAYS and PASS_MAX_DAYS in force (ACCT.5, ACCT.4), and its home directory's mode is
  0777 without the UMASK in force (ACCT.7);
- ``chgpasswd --root ROOT`` sets a group password, hashed with the ENCRYPT_METHOD in force
  (ACCT.16): the hash's prefix names the method.

300 cases, seed 20261204; 0 disagreements allowed.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Iterator

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from agent.facts.logindefs import REJECTED, parse
from tests.semantics.oracle import require
from tests.semantics.worker import Run, namespace

CASES = 300
SEED = 20261204
PREFIXES = {"$1$": "MD5", "$5$": "SHA256", "$6$": "SHA512", "$2b$": "BCRYPT", "$y$": "YESCRYPT"}
# What the tools use when a key is absent or its value rejected (useradd.c, salt.c).
TOOL_DEFAULTS = {"PASS_MAX_DAYS": -1, "PASS_MIN_DAYS": -1, "UMASK": 0o22, "ENCRYPT_METHOD": "DES"}

numbers = st.sampled_from(["90", "365", "99999", "-1", "0", "0x5a", "010", "+7", "08", "90 # days", "abc",
                           '"60"', "1e3", "2147483648"])
umasks = st.sampled_from(["027", "077", "022", "0027", "27", "0x17", "007", "abc", "027 # private"])
methods = st.sampled_from(["SHA512", "YESCRYPT", "MD5", "SHA256", "DES", "sha512", "Yescrypt", '"SHA512"',
                           "SHA512 # strong", "BLOWFISH"])


@st.composite
def entry(draw: Any) -> str:
    key = draw(st.sampled_from(["PASS_MAX_DAYS", "PASS_MIN_DAYS", "UMASK", "ENCRYPT_METHOD"]))
    value = draw({"UMASK": umasks, "ENCRYPT_METHOD": methods}.get(key, numbers))
    name = key.lower() if draw(st.integers(0, 9)) == 0 else key
    indent = draw(st.sampled_from(["", "", " ", "\t"]))
    sep = draw(st.sampled_from([" ", "\t", "  ", " \t"]))
    return f"{indent}{name}{sep}{value}{draw(st.sampled_from(['', '', ' ', chr(9)]))}"


lines = st.lists(st.one_of(entry(), entry(), st.sampled_from(["# PASS_MAX_DAYS 1", "", "MAIL_DIR /var/mail",
                                                               "PASS_MAX_DAYS"])), max_size=8)


@pytest.fixture(scope="module")
def shadow_tools() -> Iterator[Run]:
    with namespace([("tmpfs", "/var/log"), ("tmpfs", "/var/mail")]) as run:
        yield run


def tool_view(run: Run, root: Path) -> dict[str, Any]:
    """What useradd and chgpasswd used, read from the files they wrote."""
    made = run([require("useradd"), "--prefix", str(root), "-m", "-l", "-U", "fhtest"])
    assert made.returncode == 0, made.stderr
    fields = next(line for line in (root / "etc/shadow").read_text().splitlines() if line.startswith("fhtest:")).split(":")
    mode = os.stat(root / "home/fhtest").st_mode & 0o777
    hashed = run([require("chgpasswd"), "--root", str(root)], stdin="fhtest:secret\n")
    assert hashed.returncode == 0, hashed.stderr
    group_hash = next(line for line in (root / "etc/gshadow").read_text().splitlines()
                      if line.startswith("fhtest:")).split(":")[1]
    method = next((m for p, m in PREFIXES.items() if group_hash.startswith(p)), "DES")
    return {"PASS_MIN_DAYS": int(fields[3]) if fields[3] else -1, "PASS_MAX_DAYS": int(fields[4]) if fields[4] else -1,
            "UMASK": 0o777 & ~mode, "ENCRYPT_METHOD": method}


def fedharden_view(text: str) -> dict[str, Any]:
    last = {s.key.upper(): s.value for s in parse(text, "/etc/login.defs")}
    out: dict[str, Any] = {}
    for key, default in TOOL_DEFAULTS.items():
        value = last.get(key)
        if value is None or value.startswith(REJECTED):
            out[key] = default
        elif key == "UMASK":
            out[key] = int(value, 8)
        elif key == "ENCRYPT_METHOD":
            out[key] = value
        else:
            out[key] = int(value)
    return out


BASE = {"etc/passwd": "root:x:0:0:root:/root:/bin/bash\n", "etc/shadow": "root:*:19000:0:99999:7:::\n",
        "etc/group": "root:x:0:\n", "etc/gshadow": "root:*::\n", "etc/default/useradd": "CREATE_MAIL_SPOOL=no\n"}


@seed(SEED)
@settings(max_examples=CASES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(lines)
def test_login_defs_matches_shadow_tools(shadow_tools: Run, entries: list[str]) -> None:
    text = "\n".join(entries) + "\n"
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for rel, content in {**BASE, "etc/login.defs": text}.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(content)
        (root / "home").mkdir()
        assert fedharden_view(text) == tool_view(shadow_tools, root), text

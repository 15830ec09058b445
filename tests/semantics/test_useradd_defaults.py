"""/etc/default/useradd (ACCT.17) against ``useradd -D``, which prints the defaults useradd applies.

Hypothesis generates the file (INACTIVE lines with blanks around the name or the '=', quotes,
octal and hexadecimal numbers, signs, junk, comments, other names, several INACTIVE lines);
fedharden reads it with the ``useradd`` dialect, and ``useradd -D`` runs in a private mount
namespace with the file bound over /etc/default/useradd (one namespace for all cases). The
INACTIVE value must agree. 200 cases, seed 20261205; 0 disagreements allowed.
"""
from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any, Iterator

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from agent.facts.config import parse
from agent.facts.context import Context
from agent.hosts.rootfs import RootfsHost
from checks.facts import ConfigFile
from tests.semantics.oracle import require
from tests.semantics.worker import Run, namespace

VALUES = ["30", "45", "0", "-1", "-2", "030", "0x1e", " 30", "30 ", '"30"', "30x", "", "+7", "99999999999", "1e2"]


@st.composite
def line(draw: Any) -> str:
    kind = draw(st.integers(0, 5))
    if kind == 0:
        return draw(st.sampled_from(["# INACTIVE=5", "SHELL=/bin/sh", "GROUP=100", "EXPIRE=", "", "INACTIVEX=7"]))
    name = draw(st.sampled_from(["INACTIVE", "INACTIVE", "INACTIVE", " INACTIVE", "INACTIVE ", "inactive"]))
    return f"{name}={draw(st.sampled_from(VALUES))}"


@pytest.fixture(scope="module")
def stage() -> Iterator[tuple[Path, Run]]:
    with tempfile.TemporaryDirectory() as tmp:
        target = Path(tmp) / "etc/default/useradd"
        target.parent.mkdir(parents=True)
        target.write_text("")
        with namespace([("bind", str(target), "/etc/default/useradd")]) as run:
            yield Path(tmp), run


@seed(20261205)
@settings(max_examples=200, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(st.lists(line(), max_size=5))
def test_inactive_is_what_useradd_applies(stage: tuple[Path, Run], lines: list[str]) -> None:
    root, run = stage
    (root / "etc/default/useradd").write_text("\n".join(lines) + "\n")  # in place: the bound inode
    done = run([require("useradd"), "-D"])
    assert done.returncode == 0, done.stderr
    found = re.search(r"^INACTIVE=(-?\d+)$", done.stdout, re.M)
    assert found, done.stdout
    conf = parse(Context(RootfsHost(str(root))), "useradd", "/etc/default/useradd", "")
    assert isinstance(conf, ConfigFile)
    setting = conf.effective("INACTIVE")
    assert (setting.value if setting else "-1") == found.group(1), (lines, done.stdout, done.stderr)

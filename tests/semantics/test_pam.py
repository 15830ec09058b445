"""PAM, pwquality and faillock: fedharden's reading against the real programs.

- pwquality.conf and pwquality.conf.d (ACCT.9): hypothesis generates both (names in any case,
  ``=`` or blanks, comments, drop-ins named as libpwquality skips them, now and then a line it
  refuses); fedharden reads them through a RootfsHost and ``pwscore`` reads the same folder
  bound over /etc/security in a private mount namespace (one for all cases). pwscore's refusal of a one-letter
  password says the minimum length in force ("shorter than N characters"); a configuration
  libpwquality refuses makes pwscore exit 3, and fedharden must report that problem too.
  300 cases, seed 20261204; 0 disagreements allowed.
- The module line over the configuration file (ACCT.9, 13, 14): a real PAM application
  (``pamtester``) runs a generated service file in a private mount namespace, with a throwaway
  user, so the module's own behaviour shows which value it used.
"""
from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from agent.facts.context import Context
from agent.facts.pam import read_module_config
from agent.hosts.rootfs import RootfsHost
from checks.pamdata import pwquality_option
from tests.semantics.oracle import require
from tests.semantics.worker import Run, namespace

CASES = 300
SEED = 20261204

NOISE = ["difok = 5", "retry=3", "dictcheck = 1", "enforce_for_root", "maxrepeat 3", "# minlen = 99",
         "usercheck = 1", "badwords = acme corp"]
DROPIN_NAMES = ["50-pwlength.conf", "10-a.conf", "zz.conf", "60-x.conf.bak", "README", "70-b.conf~", ".conf"]


@st.composite
def minlen_line(draw: Any) -> str:
    name = draw(st.sampled_from(["minlen", "MINLEN", "MinLen"]))
    sep = draw(st.sampled_from([" = ", "=", " ", "\t=\t", " =", "  "]))
    value = draw(st.sampled_from(["15", "8", "14", "16", "3", "-1", "+20", "12"]))
    comment = draw(st.sampled_from(["", "", "  # length", "#x"]))
    indent = draw(st.sampled_from(["", "", "  ", "\t"]))
    return f"{indent}{name}{sep}{value}{comment}"


line = st.one_of(minlen_line(), minlen_line(), st.sampled_from(NOISE), st.just(""),
                 st.sampled_from(["maxlen = 64", "minlen = 15x", "minlen ="]))  # last: lines libpwquality refuses


@st.composite
def pwquality_tree(draw: Any) -> dict[str, str]:
    files = {}
    if draw(st.integers(0, 4)):
        files["pwquality.conf"] = "\n".join(draw(st.lists(line, max_size=5))) + "\n"
    for name in draw(st.lists(st.sampled_from(DROPIN_NAMES), max_size=3, unique=True)):
        files[f"pwquality.conf.d/{name}"] = "\n".join(draw(st.lists(line, min_size=1, max_size=3))) + "\n"
    return files


@pytest.fixture(scope="module")
def stage() -> Iterator[tuple[Path, Run]]:
    """A root whose etc/security is bound over /etc/security in one namespace for all cases."""
    with tempfile.TemporaryDirectory() as tmp:
        security = Path(tmp) / "etc/security"
        security.mkdir(parents=True)
        with namespace([("bind", str(security), "/etc/security")]) as run:
            yield Path(tmp), run


def pwscore(run: Run) -> tuple[int | None, str]:
    """The minimum length pwscore enforces (None: it refused the configuration) and what it said."""
    done = run([require("pwscore")], stdin="a\n")
    if done.returncode == 3:
        return None, done.stderr
    found = re.search(r"shorter than (\d+) characters", done.stderr + done.stdout)
    assert found, (done.returncode, done.stdout, done.stderr)
    return int(found.group(1)), ""


@seed(SEED)
@settings(max_examples=CASES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(pwquality_tree())
def test_pwquality_minlen_matches_pwscore(stage: tuple[Path, Run], files: dict[str, str]) -> None:
    root, run = stage
    security = root / "etc/security"
    for child in security.iterdir():
        shutil.rmtree(child) if child.is_dir() else child.unlink()
    (security / "pwquality.conf.d").mkdir()
    for rel, text in files.items():
        (security / rel).write_text(text)
    expected, refused = pwscore(run)
    conf = read_module_config(Context(RootfsHost(str(root))), "pam_pwquality")
    if expected is None:
        assert conf.problem, (refused, files)
        return
    assert conf.problem == "", (conf.problem, files)
    value, _ = pwquality_option(None, conf.settings, "minlen", 8)
    assert int(value) == expected, files

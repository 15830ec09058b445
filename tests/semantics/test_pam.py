"""PAM, pwquality and faillock: fedharden's reading against the real programs.

- pwquality.conf and pwquality.conf.d (ACCT.9): hypothesis generates both (names in any case,
  ``=`` or blanks, comments, drop-ins named as libpwquality skips them, now and then a line it
  refuses); fedharden reads them through a RootfsHost and ``pwscore`` reads the same folder
  bound over /etc/security in a private mount namespace (one for all cases). pwscore's refusal of a one-letter
  password says the minimum length in force ("shorter than N characters"); a configuration
  libpwquality refuses makes pwscore exit 3, and fedharden must report that problem too.
  300 cases, seed 20261204; 0 disagreements allowed.
- The module line over the configuration file (ACCT.9, 13, 14): a real PAM application
  (``pamtester``) runs a generated service file with /etc/pam.d and /etc/security bound over
  in a private mount namespace; what the module does (accepting a 10-character password,
  locking after N failures, announcing the minutes left) shows the value it used, and
  fedharden must compute the same one from the same files.
- Control fields (ACCT.10, ACCT.12): pamtester on a generated control over pam_deny: an
  enforcing module's refusal must fail the stack, an ignored one must not. 200 cases,
  seed 20261204.
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


# --- the module line over the configuration file, proven by a real PAM application ---------

@pytest.fixture(scope="module")
def pam_stage() -> Iterator[tuple[Path, Run]]:
    """A root whose etc/pam.d and etc/security are bound over the real ones in one namespace."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for folder in ("etc/pam.d", "etc/security"):
            (root / folder).mkdir(parents=True)
        with namespace([("bind", str(root / "etc/pam.d"), "/etc/pam.d"),
                        ("bind", str(root / "etc/security"), "/etc/security")]) as run:
            yield root, run


def stage_files(root: Path, files: dict[str, str]) -> None:
    for folder in ("etc/pam.d", "etc/security"):
        for child in (root / folder).iterdir():
            shutil.rmtree(child) if child.is_dir() else child.unlink()
    for rel, text in files.items():
        (root / rel).write_text(text)


FAILLOCK_CASES = {
    # name: (faillock.conf, arguments on both pam_faillock lines)
    "argument_over_conf_r7": ("deny = 5\nunlock_time = 900\n", "deny=2 unlock_time=60"),
    "conf_alone": ("deny = 2\nunlock_time = 120\n", ""),
    "argument_raises": ("deny = 2\n", "deny=4"),
    "built_in_defaults": (None, ""),
    "conf_argument_names_another_file": ("deny = 2\n", "conf=/etc/security/alt.conf"),
    "never_unlocks": ("deny=3\nunlock_time = never\n", ""),
}


@pytest.mark.parametrize("case", sorted(FAILLOCK_CASES))
def test_faillock_deny_and_unlock_time_as_pam_faillock_applies_them(pam_stage: tuple[Path, Run], case: str) -> None:
    """pamtester authenticates a throwaway-stack login that always fails (pam_deny) until
    pam_faillock's preauth reports the lock: the number of failures it reports is the deny in
    force, the minutes it announces follow unlock_time."""
    from agent.facts.pam import read_stack
    from checks.pamdata import faillock_option

    root, run = pam_stage
    conf, args = FAILLOCK_CASES[case]
    tally = root / "etc/security/tally"
    service = (f"auth required pam_faillock.so preauth dir=/etc/security/tally nodelay {args}\n"
               "auth [default=bad] pam_deny.so\n"
               f"auth [default=die] pam_faillock.so authfail dir=/etc/security/tally nodelay {args}\n")
    files = {"etc/pam.d/fhauth": service, "etc/security/alt.conf": "deny = 4\nunlock_time = 300\n"}
    if conf is not None:
        files["etc/security/faillock.conf"] = conf
    stage_files(root, files)
    tally.mkdir()
    reported = None
    for attempt in range(1, 12):  # noqa: B007 (the count is read after the loop)
        done = run([require("pamtester"), "fhauth", "nobody", "authenticate"])
        found = re.search(r"locked due to (\d+) failed logins\.(?:\n\((\d+) minutes? left)?", done.stdout)
        if found:
            reported = (int(found.group(1)), found.group(2))
            break
    assert reported is not None, "pam_faillock never locked the account"
    stack = read_stack(Context(RootfsHost(str(root))), "/etc/pam.d/fhauth")
    preauth = stack.lines[0]
    deny, _ = faillock_option(preauth, preauth.config, "deny", 3)
    unlock, _ = faillock_option(preauth, preauth.config, "unlock_time", 600)
    assert attempt == int(deny) + 1 and reported[0] == int(deny), (case, attempt, reported, deny)
    minutes = None if int(unlock) == 0 else str((int(unlock) + 59) // 60)
    assert reported[1] == minutes, (case, reported, unlock)


PWQUALITY_CASES = {
    # name: (pwquality.conf, arguments of pam_pwquality)
    "argument_lowers_r7": ("minlen = 15\n", "minlen=8"),
    "argument_raises": ("minlen = 8\n", "minlen=15"),
    "conf_alone": ("minlen = 15\n", ""),
    "argument_case_insensitive": ("minlen = 15\n", "MINLEN=9"),
    "bad_argument_ignored": ("minlen = 15\n", "minlen=8x"),
}


@pytest.mark.parametrize("case", sorted(PWQUALITY_CASES))
def test_pwquality_minlen_as_pam_pwquality_applies_it(pam_stage: tuple[Path, Run], case: str) -> None:
    """pamtester changes a password to a 10-character one through a stack of pam_pwquality and
    pam_permit: pam_pwquality accepts it exactly when the minlen in force is at most 10."""
    from agent.facts.pam import read_stack

    root, run = pam_stage
    conf, args = PWQUALITY_CASES[case]
    stage_files(root, {"etc/pam.d/fhpw": f"password requisite pam_pwquality.so retry=1 dictcheck=0 enforce_for_root {args}\n"
                                         "password required pam_permit.so\n",
                       "etc/security/pwquality.conf": conf})
    done = run([require("pamtester"), "fhpw", "root", "chauthtok"], stdin="Xq7#mLp2vZ\nXq7#mLp2vZ\n")
    line = read_stack(Context(RootfsHost(str(root))), "/etc/pam.d/fhpw").lines[0]
    value, _ = pwquality_option(line, line.config, "minlen", 8)
    assert (done.returncode == 0) == (10 >= int(value)), (case, value, done.stdout, done.stderr)


# --- control fields: when a module's refusal fails the stack --------------------------------

CODES = ["success", "auth_err", "new_authtok_reqd", "ignore", "default", "perm_denied"]
ACTIONS_DRAWN = ["ignore", "ok", "done", "bad", "die", "reset", "1"]


@st.composite
def control(draw: Any) -> str:
    if draw(st.integers(0, 3)) == 0:
        return draw(st.sampled_from(["required", "requisite", "optional", "sufficient", "Required", "REQUISITE"]))
    pairs = draw(st.lists(st.tuples(st.sampled_from(CODES), st.sampled_from(ACTIONS_DRAWN)), min_size=1, max_size=3,
                          unique_by=lambda p: p[0]))
    blank = draw(st.sampled_from(["", " "]))
    return "[" + " ".join(f"{c}{blank}={blank}{a}" for c, a in pairs) + "]"


@seed(SEED)
@settings(max_examples=200, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(control())
def test_control_field_decides_as_libpam(pam_stage: tuple[Path, Run], ctrl: str) -> None:
    """``auth CTRL pam_deny.so`` then ``auth required pam_permit.so``, run by pamtester: when
    fedharden calls the refusing module enforcing (its code maps to bad or die) the stack must
    fail, and when it maps to ignore the stack must succeed. 200 cases, seed 20261204."""
    from agent.facts.pam import read_stack

    root, run = pam_stage
    stage_files(root, {"etc/pam.d/fhctl": f"auth {ctrl} pam_deny.so\nauth required pam_permit.so\n"})
    done = run([require("pamtester"), "fhctl", "nobody", "authenticate"])
    line = read_stack(Context(RootfsHost(str(root))), "/etc/pam.d/fhctl").lines[0]
    action = line.action("auth_err")
    if line.enforcing():
        assert done.returncode != 0, (ctrl, action, done.stdout, done.stderr)
    if action == "ignore":
        assert done.returncode == 0, (ctrl, action, done.stdout, done.stderr)

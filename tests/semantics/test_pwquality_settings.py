"""pwquality settings of PAM.4 to PAM.10, as libpwquality applies them.

- maxrepeat, maxsequence, minclass, the negative credits and dictcheck (PAM.5 to PAM.8): each
  case writes pwquality.conf and drop-ins setting one of them (files in both places, ``=`` or
  blanks, names in any case, a drop-in the main file overrides); fedharden computes the value
  from the files, and ``pwscore`` (libpwquality itself) is probed with passwords built so that
  its verdicts reveal the value in force: the shortest run of one character it refuses, the
  shortest sequence, the fewest classes it accepts, the fewest digits (letters, others) it
  accepts, and whether it runs the dictionary check (this machine has no cracklib dictionary,
  so a check that runs fails loading it). Every other setting is held harmless by a drop-in
  that sorts first (minlen 6, dictcheck 0 unless dictcheck is the setting under test).
- enforcing and enforce_for_root (PAM.9, PAM.10): a real PAM application (``pamtester``)
  changes root's password to a weak one through pam_pwquality: libpwquality refuses it exactly
  when fedharden says the line enforces for root (enforcing not 0 and enforce_for_root set in
  a file or on the line).
- difok (PAM.4) compares with the old password, which neither pwscore nor a root password
  change gives to the module; its value is read by the same code as the settings above and
  minlen (test_pam.py).
"""
from __future__ import annotations

import shutil
from pathlib import Path
from typing import Callable

import pytest

from agent.facts.context import Context
from agent.facts.pam import read_module_config, read_stack
from agent.hosts.rootfs import RootfsHost
from checks.pamdata import pwquality_option
from tests.semantics.oracle import require
from tests.semantics.test_pam import pam_stage, stage, stage_files  # noqa: F401 (fixtures)
from tests.semantics.worker import Run

BASE = "minlen = 6\ndictcheck = 0\n"
# Characters chosen so that no other rule fires: no repeats, no sequences, all four classes.
RICH = "Zx9!Pq4%"


def write(root: Path, files: dict[str, str]) -> None:
    security = root / "etc/security"
    for child in security.iterdir():
        shutil.rmtree(child) if child.is_dir() else child.unlink()
    (security / "pwquality.conf.d").mkdir()
    for rel, text in files.items():
        (security / rel).write_text(text)


def accepted(run: Run, password: str) -> bool:
    done = run([require("pwscore")], stdin=password + "\n")
    assert done.returncode in (0, 1), (done.returncode, done.stderr)
    return done.returncode == 0


def shortest_refused(run: Run, make: Callable[[int], str], upto: int = 6) -> int:
    """The smallest n for which make(n) is refused; 0 when none is (the check is off)."""
    return next((n for n in range(1, upto + 1) if not accepted(run, make(n))), 0)


def fewest_accepted(run: Run, make: Callable[[int], str], start: int = 0, upto: int = 4) -> int:
    return next(n for n in range(start, upto + 1) if accepted(run, make(n)))


CLASSES = ["qwzmxnbv", "qwzmXNBV", "qwzmXNB7", "qwzmXN7%"]
PROBES: dict[str, Callable[[Run], int]] = {
    # refused from maxrepeat + 1 repeated characters on
    "maxrepeat": lambda run: max(0, shortest_refused(run, lambda n: RICH + "m" * n) - 1),
    # refused from a monotonic run of maxsequence + 1 characters on
    "maxsequence": lambda run: max(0, shortest_refused(run, lambda n: RICH + "cdefgh"[:n]) - 1),
    # accepted from minclass classes on (0 and 1 alike: one class is always there)
    "minclass": lambda run: fewest_accepted(run, lambda n: CLASSES[n - 1], start=1),
    # a credit of -N asks for N characters of the class
    "dcredit": lambda run: -fewest_accepted(run, lambda n: "QwZm%Xn" + "7350"[:n]),
    "ucredit": lambda run: -fewest_accepted(run, lambda n: "q7z%m4x" + "QWZM"[:n]),
    "lcredit": lambda run: -fewest_accepted(run, lambda n: "Q7Z%M4X" + "qwzm"[:n]),
    "ocredit": lambda run: -fewest_accepted(run, lambda n: "Q7Zq4Xm" + "%!#&"[:n]),
}
CASES = [
    # (setting, its built-in default, files)
    ("maxrepeat", 0, {"pwquality.conf": "maxrepeat = 3\n"}),
    ("maxrepeat", 0, {"pwquality.conf": "MaxRepeat 2\n"}),
    ("maxrepeat", 0, {"pwquality.conf.d/50-cis.conf": "maxrepeat=1\n"}),
    ("maxrepeat", 0, {"pwquality.conf.d/50-cis.conf": "maxrepeat = 2\n", "pwquality.conf": "maxrepeat = 0\n"}),
    ("maxrepeat", 0, {"pwquality.conf.d/50-cis.conf": "maxrepeat = 4\n", "pwquality.conf.d/60-x.conf": "maxrepeat 2\n"}),
    ("maxrepeat", 0, {"pwquality.conf": "# maxrepeat = 3\n"}),
    ("maxsequence", 0, {"pwquality.conf": "maxsequence = 3\n"}),
    ("maxsequence", 0, {"pwquality.conf.d/50-cis.conf": "maxsequence\t2\n"}),
    ("maxsequence", 0, {"pwquality.conf.d/50-cis.conf": "maxsequence = 2\n", "pwquality.conf": "MAXSEQUENCE=4\n"}),
    ("maxsequence", 0, {}),
    ("minclass", 0, {"pwquality.conf": "minclass = 4\n"}),
    ("minclass", 0, {"pwquality.conf": "minclass = 3\n"}),
    ("minclass", 0, {"pwquality.conf.d/50-cis.conf": "minclass = 4\n", "pwquality.conf": "minclass = 2\n"}),
    ("minclass", 0, {}),
    ("dcredit", 0, {"pwquality.conf": "dcredit = -1\n"}),
    ("dcredit", 0, {"pwquality.conf.d/50-cis.conf": "dcredit = -3\n"}),
    ("dcredit", 0, {"pwquality.conf.d/50-cis.conf": "dcredit = -3\n", "pwquality.conf": "dcredit=-2\n"}),
    ("ucredit", 0, {"pwquality.conf": "ucredit = -2\n"}),
    ("ucredit", 0, {}),
    ("lcredit", 0, {"pwquality.conf": "LCREDIT -1\n"}),
    ("ocredit", 0, {"pwquality.conf": "ocredit = -1\n"}),
    ("ocredit", 0, {"pwquality.conf.d/50-cis.conf": "ocredit = -2\n"}),
]


@pytest.mark.parametrize(("name", "default", "files"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_setting_in_force_is_what_pwscore_applies(stage: tuple[Path, Run], name: str, default: int,  # noqa: F811
                                                  files: dict[str, str]) -> None:
    root, run = stage
    write(root, {"pwquality.conf.d/00-base.conf": BASE, **files})
    conf = read_module_config(Context(RootfsHost(str(root))), "pam_pwquality")
    assert conf.problem == "", conf.problem
    value, _ = pwquality_option(None, conf.settings, name, default)
    expected = max(int(value), 1) if name == "minclass" else int(value)
    assert PROBES[name](run) == expected, (name, value, files)


DICTCHECK = [{"pwquality.conf": "dictcheck = 0\n"}, {"pwquality.conf": "dictcheck = 1\n"}, {},
             {"pwquality.conf.d/50-x.conf": "dictcheck = 0\n", "pwquality.conf": "DictCheck 1\n"},
             {"pwquality.conf.d/50-x.conf": "dictcheck = 1\n", "pwquality.conf": "dictcheck=0\n"}]


@pytest.mark.parametrize("files", DICTCHECK, ids=[str(i) for i in range(len(DICTCHECK))])
def test_dictcheck_in_force_is_what_pwscore_applies(stage: tuple[Path, Run], files: dict[str, str]) -> None:  # noqa: F811
    root, run = stage
    write(root, {"pwquality.conf.d/00-base.conf": "minlen = 6\n", **files})
    conf = read_module_config(Context(RootfsHost(str(root))), "pam_pwquality")
    value, _ = pwquality_option(None, conf.settings, "dictcheck", 1)
    done = run([require("pwscore")], stdin=RICH + "\n")
    ran = "dictionary" in done.stdout + done.stderr
    assert ran == (int(value) != 0), (value, files, done.stdout, done.stderr)


ENFORCE = [
    # (pwquality.conf, arguments on the pam_pwquality line)
    ("", ""),
    ("enforce_for_root\n", ""),
    ("", "enforce_for_root"),
    ("enforce_for_root\nenforcing = 0\n", ""),
    ("enforce_for_root\n", "enforcing=0"),
    ("enforcing = 0\n", "enforce_for_root enforcing=1"),
    ("# enforce_for_root\n", ""),
]


@pytest.mark.parametrize(("conf", "args"), ENFORCE, ids=[str(i) for i in range(len(ENFORCE))])
def test_enforcing_for_root_as_pam_pwquality_applies_it(pam_stage: tuple[Path, Run], conf: str, args: str) -> None:  # noqa: F811
    """pamtester changes root's password to a short one: refused exactly when fedharden reads the
    line as enforcing (enforcing not 0) for root (enforce_for_root)."""
    root, run = pam_stage
    stage_files(root, {"etc/pam.d/fhroot": f"password requisite pam_pwquality.so retry=1 {args}\n"
                                           "password required pam_permit.so\n",
                       "etc/security/pwquality.conf": "minlen = 12\ndictcheck = 0\n" + conf})
    done = run([require("pamtester"), "fhroot", "root", "chauthtok"], stdin="Zx9!\nZx9!\n")
    line = read_stack(Context(RootfsHost(str(root))), "/etc/pam.d/fhroot").lines[0]
    enforcing, _ = pwquality_option(line, line.config, "enforcing", 1)
    for_root, _ = pwquality_option(line, line.config, "enforce_for_root", "no")
    refused = done.returncode != 0
    assert refused == (int(enforcing) != 0 and for_root == "yes"), (conf, args, enforcing, for_root, done.stdout,
                                                                   done.stderr)

"""sudoers: fedharden's reading (agent/facts/sudoers.py) against sudo's own parser.

Hypothesis generates a policy (a main /etc/sudoers, files in /etc/sudoers.d, some of them
named as sudo skips them, an included file in a sub-folder), fedharden reads it through a
RootfsHost, and the real programs read the same files bound over /etc/sudoers and
/etc/sudoers.d in a private mount namespace (one for all cases, tests/semantics/worker.py): the policy must be one sudo accepts, and
``cvtsudoers -f json`` (the same parser: it refuses what visudo refuses) gives the Defaults and the commands in the order sudo parsed them.
Compared: the global value in force (the last) of use_pty, logfile, authenticate and
timestamp_timeout (SUDO.1, SUDO.2, SUDO.3, SUDO.6), every scoped Defaults entry of those options with its binding, and whether
each command of each user specification runs without a password (NOPASSWD, tags carried).

300 cases, seed 20261204; 0 disagreements allowed.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from agent.facts.context import Context
from agent.facts.sudoers import read_sudoers
from agent.hosts.rootfs import RootfsHost
from tests.semantics.oracle import isolated, mirror, require
from tests.semantics.worker import Run, namespace

CASES = 300
SEED = 20261204
KEYS = ("use_pty", "logfile", "authenticate", "timestamp_timeout")

ws = st.sampled_from([" ", "  ", "\t"])
opt_ws = st.sampled_from(["", " ", "\t"])
names = st.sampled_from(["alice", "bob", "root", "ops"])


@st.composite
def flag(draw: Any) -> str:
    name = draw(st.sampled_from(["use_pty", "authenticate", "env_reset", "mail_badpass"]))
    bangs = draw(st.sampled_from(["", "!", "!!", "! "]))
    return f"{bangs}{name}"


@st.composite
def logfile(draw: Any) -> str:
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return "!logfile"
    path = draw(st.sampled_from(["/var/log/sudo.log", "/var/log/sudo-io.log"]))
    around = draw(st.sampled_from(["=", " = ", "= "]))
    if kind == 1:
        return f'logfile{around}"{path}"'
    if kind == 2:
        return f"logfile{around}{path}"
    return f"logfile{around}/var/log/my\\ sudo.log"


@st.composite
def timeout(draw: Any) -> str:
    """timestamp_timeout (SUDO.6): minutes, a fraction, a sign, never (-1) or negated (0)."""
    value = draw(st.sampled_from(["15", "5", "-1", "0", "2.5", "+7", "20", "015"]))
    around = draw(st.sampled_from(["=", " = ", "= "]))
    return "!timestamp_timeout" if draw(st.integers(0, 4)) == 0 else f"timestamp_timeout{around}{value}"


@st.composite
def defaults_line(draw: Any) -> str:
    options = draw(st.lists(st.one_of(flag(), logfile(), timeout()), min_size=1, max_size=3))
    joiner = draw(st.sampled_from([",", ", ", " ,", ",\\\n    "]))
    scope = draw(st.sampled_from(["", "", ":", "@", "!", ">"]))
    head = "Defaults"
    if scope:
        pool = {"@": st.sampled_from(["db1", "web2"]), "!": st.sampled_from(["/usr/bin/vi", "/bin/ls"])}.get(scope, names)
        bound = draw(st.lists(pool, min_size=1, max_size=2, unique=True))
        head += scope + draw(st.sampled_from([",", ", "])).join(bound)
    comment = draw(st.sampled_from(["", "", " # trailing comment"]))
    return f"{head}{draw(ws)}{joiner.join(options)}{comment}"


@st.composite
def command(draw: Any) -> str:
    tags = draw(st.lists(st.sampled_from(["NOPASSWD", "PASSWD", "NOEXEC", "SETENV"]), max_size=2))
    tagtext = "".join(f"{t}{draw(st.sampled_from([':', ': ', ' : ']))}" for t in tags)
    runas = draw(st.sampled_from(["", "", "(root) ", "(ALL:ALL) ", "(root : ops) "]))
    cmd = draw(st.sampled_from(["ALL", "/bin/ls", "/usr/bin/systemctl restart nginx", "/bin/cat /var/log/x\\,y",
                                "sha256:" + "0" * 64 + " /bin/true"]))
    return f"{runas}{tagtext}{cmd}"


@st.composite
def user_spec(draw: Any) -> str:
    user = draw(st.sampled_from(["alice", "%ops", "#1000", "bob, alice"]))
    privileges = []
    for _ in range(draw(st.integers(1, 2))):
        host = draw(st.sampled_from(["ALL", "db1"]))
        cmds = draw(st.lists(command(), min_size=1, max_size=3))
        privileges.append(f"{host}{draw(opt_ws)}={draw(opt_ws)}{', '.join(cmds)}")
    return f"{user}{draw(ws)}{' : '.join(privileges)}"


plain_line = st.one_of(defaults_line(), user_spec(), st.just("# a comment"), st.just(""))
INCLUDES = ["@includedir /etc/sudoers.d", "#includedir /etc/sudoers.d", "@include /etc/sudoers.d/sub/extra",
            "#include sudoers.d/sub/extra", "# includedir /etc/sudoers.d"]
DROPIN_NAMES = ["10-hardening", "zz-local", "50-hardening.conf", "ops.dpkg-old", "backup~", "README", "Z9"]


@st.composite
def policy(draw: Any) -> dict[str, str]:
    main = draw(st.lists(st.one_of(plain_line, st.sampled_from(INCLUDES)), min_size=1, max_size=8))
    if draw(st.booleans()):
        main.insert(0, "Cmnd_Alias SHUTDOWN = /sbin/halt, /sbin/reboot")
    files = {"sudoers": "\n".join(main) + "\n", "sudoers.d/sub/extra": "\n".join(draw(st.lists(plain_line, max_size=3))) + "\n"}
    for name in draw(st.lists(st.sampled_from(DROPIN_NAMES), max_size=4, unique=True)):
        files[f"sudoers.d/{name}"] = "\n".join(draw(st.lists(plain_line, min_size=1, max_size=3))) + "\n"
    return files


def verdict(done: Any) -> tuple[bool, str, dict[str, Any]]:
    if done.returncode != 0:
        return False, done.stdout + done.stderr, {}
    return True, "", json.loads(done.stdout) if done.stdout.strip() else {}


def oracle(root: Path, program: str) -> tuple[bool, str, dict[str, Any]]:
    """One program run on ``root``'s sudoers in a namespace of its own."""
    argv = [require("visudo"), "-c", "-f", "/etc/sudoers"] if program == "visudo" else \
        [require("cvtsudoers"), "-f", "json", "/etc/sudoers"]
    return verdict(isolated(argv, [mirror(root, "/etc/sudoers"), mirror(root, "/etc/sudoers.d")]))


@pytest.fixture(scope="module")
def stage() -> Iterator[tuple[Path, Run]]:
    """A root whose etc/sudoers and etc/sudoers.d are bound over the real ones in one
    namespace for all cases; each case rewrites them in place."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "etc/sudoers.d").mkdir(parents=True)
        (root / "etc/sudoers").write_text("")
        with namespace([mirror(root, "/etc/sudoers"), mirror(root, "/etc/sudoers.d")]) as run:
            yield root, run


def oracle_view(data: dict[str, Any]) -> tuple[dict[str, Any], list[Any], list[bool]]:
    last: dict[str, Any] = {}
    scoped: list[Any] = []
    for entry in data.get("Defaults", []):
        for option in entry["Options"]:
            ((name, value),) = option.items()
            if name not in KEYS:
                continue
            if "Binding" in entry:
                scoped.append((tuple(next(iter(b.values())) for b in entry["Binding"]), name, value))
            else:
                last[name] = value
    nopasswd = []
    for spec in data.get("User_Specs", []):
        for cmnd_spec in spec["Cmnd_Specs"]:
            options = {k: v for o in cmnd_spec.get("Options", []) for k, v in o.items()}
            nopasswd.extend([options.get("authenticate") is False] * len(cmnd_spec["Commands"]))
    return last, scoped, nopasswd


def fedharden_view(root: Path) -> tuple[dict[str, Any], list[Any], list[bool], tuple[str, ...]]:
    parsed = read_sudoers(Context(RootfsHost(str(root))), "/etc/sudoers")
    last = {k: d.value for k in KEYS if (d := parsed.global_value(k)) is not None}
    scoped = [(d.binding, d.name, d.value) for d in parsed.defaults if d.scope and d.name in KEYS]
    nopasswd = ["NOPASSWD" in c.tags for c in parsed.commands]
    return last, scoped, nopasswd, parsed.problems


@seed(SEED)
@settings(max_examples=CASES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(policy())
def test_sudoers_matches_cvtsudoers(stage: tuple[Path, Run], files: dict[str, str]) -> None:
    root, run = stage
    dropins = root / "etc/sudoers.d"
    for child in dropins.iterdir():
        shutil.rmtree(child) if child.is_dir() else child.unlink()
    for rel, text in files.items():
        target = root / "etc" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)  # in place: the bound /etc/sudoers is this very file
        os.chmod(target, 0o440)
    # cvtsudoers refuses what visudo refuses (the same parser), so one run does both.
    accepted, why, data = verdict(run([require("cvtsudoers"), "-f", "json", "/etc/sudoers"]))
    assert accepted, f"generated policy rejected by sudo's parser: {why}\n{files}"
    last, scoped, nopasswd = oracle_view(data)
    ours = fedharden_view(root)
    assert ours[3] == (), (ours[3], files)
    assert ours[:3] == (last, scoped, nopasswd), files


def test_missing_include_is_refused_by_both(tmp_path: Path) -> None:
    """A policy whose @include names no file: visudo refuses it, fedharden reports it."""
    (tmp_path / "etc/sudoers.d").mkdir(parents=True)
    (tmp_path / "etc/sudoers").write_text("Defaults use_pty\n@include /etc/sudoers.d/absent\n")
    accepted, why, _ = oracle(tmp_path, "visudo")
    assert not accepted and "/etc/sudoers.d/absent: No such file" in why
    assert oracle(tmp_path, "cvtsudoers")[0] is False
    assert fedharden_view(tmp_path)[3] == ("/etc/sudoers:2: included file /etc/sudoers.d/absent does not exist "
                                           "(sudo refuses the policy)",)

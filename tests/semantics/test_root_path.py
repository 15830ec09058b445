"""Root's PATH (ACCT.29): every directory a real login shell gives root is among those fedharden
judges, and a PATH with an empty, '.' or relative entry is failed.

Hypothesis generates /etc/login.defs (ENV_SUPATH), /etc/profile (with Debian's uid branch),
/etc/profile.d snippets and root's .profile / .bash_profile / .bashrc, with assignments that
prepend, append (``+=`` too), replace, quote, export, sit in conditions, or add '.', an empty entry or a
relative one. fedharden reads the tree through a RootfsHost; bash runs it as root would log in
(``env -i HOME=/root PATH=<ENV_SUPATH> bash -l -c 'printf %s "$PATH"'``) in a private mount
namespace with the generated /etc/profile, /etc/profile.d and /root bound over the real ones.
100 cases, seed 20261205; 0 disagreements allowed.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from agent.facts.context import Context
from agent.facts.rootpath import gather_root_path
from agent.hosts.rootfs import RootfsHost
from checks import evaluate
from checks.facts import FactKey, Facts, RootPath
from checks.model import Status
from tests.semantics.oracle import require
from tests.semantics.worker import Run, namespace

DIRS = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin", "/opt/tools/bin", ".", "",
        "bin", "/srv/app/bin"]


@st.composite
def path_value(draw: Any) -> str:
    entries = draw(st.lists(st.sampled_from(DIRS), min_size=1, max_size=4))
    where = draw(st.integers(0, 2))
    if where == 0:
        entries = ["$PATH", *entries]
    elif where == 1:
        entries = [*entries, draw(st.sampled_from(["$PATH", "${PATH}"]))]
    return ":".join(entries)


@st.composite
def assignment(draw: Any) -> str:
    value = draw(path_value())
    quote = draw(st.sampled_from(['"', "", "'"]))
    if quote == "'" and "$" in value:
        quote = '"'
    form = draw(st.integers(0, 5))
    text = f"PATH={quote}{value}{quote}"
    if form == 5:  # bash's append
        return f'PATH+=":{draw(st.sampled_from(DIRS))}"'
    if form == 1:
        return f"export {text}"
    if form == 2:
        return f'if [ "$(id -u)" -eq 0 ]; then\n  {text}\nfi\nexport PATH'
    if form == 3:
        return f'if [ "$(id -u)" -ne 0 ]; then\n  {text}\nfi'
    return text


@st.composite
def tree(draw: Any) -> dict[str, str]:
    supath = draw(path_value()).replace('$PATH:', '').replace(':$PATH', '').replace(':${PATH}', '').replace('${PATH}:', '')
    files = {"etc/login.defs": f"ENV_SUPATH\tPATH={supath}\n"}
    files["etc/profile"] = "\n".join(draw(st.lists(assignment(), max_size=2))) + "\nexport PATH\n" \
        "if [ -d /etc/profile.d ]; then\n  for i in /etc/profile.d/*.sh; do\n    [ -r $i ] && . $i\n  done\nfi\n"
    if draw(st.booleans()):
        files["etc/profile.d/50-tools.sh"] = draw(assignment()) + "\n"
    for name in draw(st.lists(st.sampled_from([".profile", ".bash_profile", ".bashrc"]), max_size=2, unique=True)):
        files[f"root/{name}"] = draw(assignment()) + "\n"
    return files


@pytest.fixture(scope="module")
def stage() -> Iterator[tuple[Path, Run]]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for folder in ("etc/profile.d", "root", "usr/local/sbin", "usr/local/bin", "usr/sbin", "usr/bin", "sbin", "bin"):
            (root / folder).mkdir(parents=True, exist_ok=True)
        (root / "etc/profile").write_text("")
        with namespace([("bind", str(root / "etc/profile"), "/etc/profile"),
                        ("bind", str(root / "etc/profile.d"), "/etc/profile.d"),
                        ("bind", str(root / "root"), "/root")]) as run:
            yield root, run


@seed(20261205)
@settings(max_examples=100, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(tree())
def test_root_gets_only_judged_directories(stage: tuple[Path, Run], files: dict[str, str]) -> None:
    root, run = stage
    for folder in ("etc/profile.d", "root"):
        for child in (root / folder).iterdir():
            shutil.rmtree(child) if child.is_dir() else child.unlink()
    (root / "etc/profile").write_text("")
    for rel, text in files.items():
        (root / rel).write_text(text)  # /etc/profile in place: the bound file is this very inode
    supath = files["etc/login.defs"].split("PATH=", 1)[1].strip()
    done = run(["env", "-i", "HOME=/root", f"PATH={supath}", require("bash"), "-l", "-c", 'printf %s "$PATH"'])
    assert done.returncode == 0, done.stderr
    real = done.stdout.split(":")
    fact = gather_root_path(Context(RootfsHost(str(root))), [""])[""]
    assert isinstance(fact, RootPath)
    judged = {item.entry for item in fact.entries}
    assert set(real) <= judged, (real, sorted(judged), files)
    status = evaluate({"type": "root_path"}, Facts({FactKey("root_path"): fact})).status
    if any(entry in ("", ".") or not entry.startswith("/") for entry in real):
        assert status is Status.FAIL, (real, files)
    # The trees name no other variable: manual only for directories missing outside login.defs and /root.
    missing = [e for e in fact.entries if e.info is not None and not e.info.exists]
    assert status in (Status.FAIL, Status.PASS) or (status is Status.MANUAL and missing), (status, files)

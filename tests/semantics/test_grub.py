"""grub: the variables fedharden evaluates from /etc/default/grub and /etc/default/grub.d/*.cfg,
against the shell running grub-mkconfig's own lines for it (the block that sources those files,
cut from the installed /usr/sbin/grub-mkconfig), with both /bin/sh (dash, the script's
interpreter) and bash, in a mount namespace with the generated /etc/default bound over the
real one. Only this test runs the files; fedharden reads them.

CASES cases seeded with SEED (``random.Random``: the cases run in one namespace, so they are
generated up front): assignments quoted every way (double quotes with ``\\"``, ``\\$``, ``\\\\``,
single quotes, backslashes, unquoted words), ``$NAME`` and ``${NAME}`` of variables set before or
never, several assignments on a line, ``export``/``unset``, comments, ``;``, continued lines,
drop-ins named to test the glob (``.cfg`` only, no dot files, sorted), and constructs the
evaluator refuses (command substitution, backquotes, ``${X:-y}``, ``+=``, commands, ``if``).
Every case fedharden evaluates must give each variable exactly the shell's value (or leave it
unset); the refused ones are counted, and must be refused for the reason generated.
"""
from __future__ import annotations

import json
import random
import re
import sys
from pathlib import Path

from agent.facts.context import Context
from agent.facts.grub import load
from agent.hosts.rootfs import RootfsHost
from tests.semantics.oracle import isolated, require

CASES = 300
SEED = 20261206
NAMES = ("GRUB_CMDLINE_LINUX", "GRUB_CMDLINE_LINUX_DEFAULT", "GRUB_DISABLE_RECOVERY", "BASE")
DROPINS = ("50-console.cfg", "10-audit.cfg", "99-local.cfg", "Z.cfg", "a.cfg", "60-x.cfg.bak", ".hidden.cfg", "README")
PIECES = ("audit=1", "audit_backlog_limit=8192", "quiet", "console=ttyS0", "audit=0", "splash", "$GRUB_CMDLINE_LINUX",
          "${GRUB_CMDLINE_LINUX}", "$BASE", "${BASE}", "$UNSET_VAR", "\\\"x\\\"", "\\$HOME", "\\\\", "it's", "a\\\nb",
          "$", "tab\there", "#not-a-comment")
REFUSED = ("$(echo hi)", "`echo hi`", "${BASE:-x}")

BATCH = r"""
import json, subprocess, sys
spec = json.loads(sys.argv[1])
out = []
for etc_default in spec["cases"]:
    subprocess.run(["mount", "--bind", etc_default, "/etc/default"], check=True)
    answer = {}
    for shell in ("/bin/sh", "/bin/bash"):
        done = subprocess.run([shell, "-c", spec["script"]], capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})
        answer[shell] = {"rc": done.returncode, "out": done.stdout, "err": done.stderr}
    subprocess.run(["umount", "/etc/default"], check=True)
    out.append(answer)
print(json.dumps(out))
"""


def sourcing_block() -> str:
    """grub-mkconfig's lines that source the defaults, as installed."""
    text = Path(require("grub-mkconfig")).read_text()
    found = re.search(r"^if test -f \$\{sysconfdir\}/default/grub ; then\n.*?^done\n", text, re.M | re.S)
    assert found, "grub-mkconfig no longer sources /etc/default/grub the way this test expects"
    return found.group(0)


def _value(rng: random.Random) -> str:
    pieces = [rng.choice(PIECES) for _ in range(rng.randrange(0, 4))]
    style = rng.randrange(4)
    body = " ".join(pieces)
    if style == 0:
        return f'"{body}"'
    if style == 1:
        return "'" + body.replace("'", "") + "'"
    if style == 2:
        return rng.choice(("audit=1", "true", "\\ quiet", "x\\ y", "$BASE", '"$BASE"more', "''", "a'b c'd"))
    return f'"{body}"'


def _line(rng: random.Random) -> tuple[str, bool]:
    """A line, and whether it holds something the evaluator must refuse."""
    roll = rng.random()
    name = rng.choice(NAMES)
    if roll < 0.06:
        bad = rng.choice(REFUSED)
        return f'{name}="{bad}"', True
    if roll < 0.09:
        return rng.choice(("echo hi", "if true; then BASE=1; fi", f"{name}+=x", ". /etc/default/other")), True
    if roll < 0.15:
        return rng.choice(("# comment", "", "   ", "\t# indented comment")), False
    if roll < 0.2:
        return f"export {name}" if rng.random() < 0.5 else f"unset {name}", False
    if roll < 0.25:
        return f"export {name}={rng.choice(('audit=1', 'quiet', 'true'))}", False
    if roll < 0.32:
        other = rng.choice(NAMES)
        return f"{name}={_value(rng)} {other}={_value(rng)}", False
    if roll < 0.37:
        return f"{name}={_value(rng)}; {rng.choice(NAMES)}={_value(rng)} # trailing", False
    return f"{name}={_value(rng)}", False


def generate(rng: random.Random, etc_default: Path) -> bool:
    """One case; whether a refused construct was written."""
    refused = False
    etc_default.mkdir(parents=True)
    texts = {}
    for name in ["grub"] * (rng.random() < 0.9) + [f"grub.d/{n}" for n in rng.sample(DROPINS, rng.randrange(0, 4))]:
        lines = []
        sourced = name == "grub" or (name.endswith(".cfg") and not name.startswith("grub.d/."))
        for _ in range(rng.randrange(1, 6)):
            line, bad = _line(rng)
            refused |= bad and sourced
            lines.append(line)
        texts[name] = "\n".join(lines) + "\n"
    for name, text in texts.items():
        (etc_default / name).parent.mkdir(parents=True, exist_ok=True)
        (etc_default / name).write_text(text)
    return refused


def test_grub_defaults_match_the_shell(tmp_path: Path) -> None:
    require("bash")
    printer = "".join(f'printf "%s\\0%s\\0" "${{{n}+set}}" "${n}"\n' for n in NAMES)
    script = "sysconfdir=/etc\n" + sourcing_block() + printer
    rng = random.Random(SEED)
    cases = []
    for number in range(CASES):
        root = tmp_path / f"case{number}"
        cases.append((root, generate(rng, root / "etc/default")))
    done = isolated([sys.executable, "-c", BATCH,
                     json.dumps({"script": script, "cases": [str(r / "etc/default") for r, _ in cases]})], timeout=600)
    assert done.returncode == 0, done.stderr
    answers = json.loads(done.stdout)
    disagreements = []
    evaluated = refused = 0
    for (root, bad), answer in zip(cases, answers):
        mine = load(Context(RootfsHost(str(root))))
        if mine.error:
            refused += 1
            if not bad:
                disagreements.append((root.name, "refused a case of the subset", mine.error))
            continue
        if bad:
            disagreements.append((root.name, "evaluated a refused construct", dict(mine.values)))
            continue
        evaluated += 1
        for shell, result in answer.items():
            assert result["rc"] == 0, (root.name, shell, result["err"])
            fields = result["out"].split("\0")
            theirs = {n: fields[2 * i + 1] for i, n in enumerate(NAMES) if fields[2 * i] == "set"}
            ours = {n: v for n, v in mine.values if n in NAMES}
            if ours != theirs:
                disagreements.append((root.name, shell, ours, theirs))
    assert disagreements == [], disagreements[:4]
    assert evaluated > CASES // 2 and refused > CASES // 20, (evaluated, refused)

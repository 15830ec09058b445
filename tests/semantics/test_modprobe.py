"""modprobe.d: fedharden's reading against libkmod itself (modprobe -c and modprobe -n -v).

Hypothesis generates configuration trees: the modprobe.d folders of libkmod's search path with
shared file names (shadowing), names libkmod skips (no .conf/.alias suffix, a leading dot),
files masked by a link to /dev/null, /etc/modprobe.conf (which libkmod does not read), and
lines of every kind: install and blacklist rules with dash or underscore spellings and module
patterns, comments at and after column 0, backslash continuations, stray backslashes, tabs,
options and alias lines. In a private mount namespace the tree is bound over /etc, /run,
/usr/local/lib and /usr/lib/modprobe.d, and the oracle is:

- ``modprobe -c``: the install and blacklist rules libkmod read, in its order;
- ``modprobe -n -v MODULE`` for three of the modules the shipped requirements name: the install
  command modprobe would run instead of loading the module (a dry run: nothing is executed),
  once with the module installed (``-d`` on a tree of stub modules indexed by the real depmod,
  where libkmod takes the first install rule whose pattern matches) and once with no modules
  (where it takes the first rule naming the module exactly).

Cases: 300 trees (15 hypothesis examples of 20), seed 17 (docs/semantics.md).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from agent.facts.context import Context
from agent.facts.modules import gather_modprobe
from agent.hosts.rootfs import RootfsHost
from checks.facts import ModprobeRule
from checks.kernel_module import canonical, install_rule, install_rule_by_name
from tests.semantics.oracle import isolated, require

CASES = 300
BATCH = 20
SEED = 17
PROBED = 3  # modules dry-run per tree (chosen by hypothesis), each with and without installed modules

# The modules of the shipped MOD requirements, as the directive spells them.
MODULES = ("cramfs", "dccp", "sctp", "usb-storage", "freevxfs", "jffs2", "hfs", "hfsplus", "rds", "tipc")
SPELLINGS = ("cramfs", "dccp", "sctp", "usb-storage", "usb_storage", "hfs", "hfsplus", "tipc", "rds",
             "cram*", "hfs*", "usb[-_]storage", "usb?storage", "hfs?lus", "[a-z]ds", "t[!x]pc")
COMMANDS = ("/bin/false", "/bin/true", "/usr/bin/false", "  /bin/false", "/bin/false # disabled", "/bin/fa\\lse",
            "/sbin/modprobe --ignore-install {m}", "/bin/true\t", "true")
DIRS = ("etc/modprobe.d", "run/modprobe.d", "usr/local/lib/modprobe.d", "usr/lib/modprobe.d")
NAMES = ("10-a.conf", "cramfs.conf", "50-b.alias", "local", ".hidden.conf", "x.conf~", "blacklist.conf")

_ORACLE = r"""
import ctypes, json, os, subprocess, sys
libc = ctypes.CDLL(None, use_errno=True)
MS_BIND = 4096
def call(result, what):
    if result != 0:
        raise SystemExit(f"{what}: {os.strerror(ctypes.get_errno())}")
spec = json.loads(sys.argv[1])
binds = (("etc", "/etc"), ("run", "/run"), ("usr/local/lib", "/usr/local/lib"), ("usr/lib/modprobe.d", "/usr/lib/modprobe.d"))
out = []
for root in spec["roots"]:
    for source, target in binds:
        call(libc.mount(os.path.join(root, source).encode(), target.encode(), None, MS_BIND, None), "mount " + target)
    config = subprocess.run([spec["program"], "-c"], capture_output=True, text=True).stdout
    dry = {}
    for where, base in (("installed", spec["modules_dir"]), ("configured", spec["empty_dir"])):
        for module in spec["probes"][len(out)]:
            done = subprocess.run([spec["program"], "-d", base, "-n", "-v", module], capture_output=True, text=True)
            dry[where + ":" + module] = done.stdout
    for _, target in reversed(binds):
        call(libc.umount2(target.encode(), 0), "umount " + target)
    out.append({"config": config, "dry": dry})
print(json.dumps(out))
"""


@st.composite
def lines(draw: Any) -> str:
    kind = draw(st.sampled_from(["install", "install", "install", "blacklist", "blacklist", "comment", "other", "junk"]))
    pad = draw(st.sampled_from(["", "", " ", "\t"]))
    sep = draw(st.sampled_from([" ", " ", "\t", "  "]))
    module = draw(st.sampled_from(SPELLINGS))
    if kind == "comment":
        return pad + "#" + draw(st.sampled_from(["install cramfs /bin/false", " blacklist dccp", ""]))
    if kind == "other":
        return draw(st.sampled_from(["options nf_conntrack hashsize=1024", "alias net-pf-42 rds", "softdep hfs pre: crc32"]))
    if kind == "junk":
        return draw(st.sampled_from(["install", "install cramfs", "blacklist", "include /etc/other.conf", "install [x /bin/false"]))
    if kind == "blacklist":
        return f"{pad}blacklist{sep}{module}"
    command = draw(st.sampled_from(COMMANDS)).format(m=module.strip("*?[]!-_"))
    if draw(st.integers(0, 5)) == 0:  # a continued line
        return f"{pad}install{sep}{module} \\\n{command}"
    return f"{pad}install{sep}{module}{sep}{command}"


@st.composite
def trees(draw: Any) -> dict[str, Any]:
    files: dict[str, str] = {}
    masked: list[str] = []
    for directory in DIRS:
        for name in draw(st.lists(st.sampled_from(NAMES), unique=True, max_size=3)):
            if draw(st.integers(0, 9)) == 0:
                masked.append(f"{directory}/{name}")
            else:
                files[f"{directory}/{name}"] = "\n".join(draw(st.lists(lines(), max_size=6))) + "\n"
    if draw(st.booleans()):
        files["etc/modprobe.conf"] = "\n".join(draw(st.lists(lines(), max_size=3))) + "\n"
    probe = draw(st.lists(st.sampled_from(MODULES), min_size=PROBED, max_size=PROBED, unique=True))
    return {"files": files, "masked": masked, "probe": sorted(probe)}


def write(tree: dict[str, Any], root: Path) -> None:
    for directory in DIRS:
        (root / directory).mkdir(parents=True, exist_ok=True)
    (root / "lib").symlink_to("usr/lib")  # merged /usr, as on Debian 12: /lib/modprobe.d is /usr/lib/modprobe.d
    for path, text in tree["files"].items():
        (root / path).write_text(text)
    for path in tree["masked"]:
        (root / path).symlink_to("/dev/null")


def model(root: Path) -> tuple[ModprobeRule, ...]:
    rules = gather_modprobe(Context(RootfsHost(str(root))), [])[""]
    assert isinstance(rules, tuple), rules
    return rules


def configured(rules: tuple[ModprobeRule, ...]) -> list[str]:
    """The rules as ``modprobe -c`` prints them: blacklists first, then install commands."""
    return ([f"blacklist {r.module}" for r in rules if r.kind == "blacklist"]
            + [f"install {r.module} {r.command}" for r in rules if r.kind == "install"])


def dry_runs(rules: tuple[ModprobeRule, ...], modules: list[str]) -> dict[str, str | None]:
    """The install command ``modprobe -n -v`` says it would run for each module, when the
    module is installed (stub modules indexed by depmod) and when only the configuration
    names it (no modules at all)."""
    out: dict[str, str | None] = {}
    for module in modules:
        for where, find in (("installed", install_rule), ("configured", install_rule_by_name)):
            rule = find(rules, canonical(module))
            out[f"{where}:{module}"] = rule.command.strip() if rule is not None else None
    return out


@pytest.fixture(scope="module")
def module_dirs(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A modules tree for the running kernel's release with a stub module (an object file
    with a .modinfo section, indexed by the real depmod) for each module, and an empty one."""
    base = tmp_path_factory.mktemp("modules")
    release = os.uname().release
    kernel = base / "lib/modules" / release / "kernel"
    kernel.mkdir(parents=True)
    for module in MODULES:
        name = canonical(module)
        source = base / f"{name}.c"
        source.write_text(f'__attribute__((section(".modinfo"), used)) static const char n[] = "name={name}";\n')
        subprocess.run(["gcc", "-c", str(source), "-o", str(kernel / f"{name}.ko")], check=True)
    subprocess.run(["depmod", "-b", str(base), release], check=True, capture_output=True)
    empty = tmp_path_factory.mktemp("nomodules")
    return str(base), str(empty)


def oracle(roots: list[Path], probes: list[list[str]], program: str, dirs: tuple[str, str]) -> list[dict[str, Any]]:
    spec = json.dumps({"roots": [str(r) for r in roots], "probes": probes, "program": program,
                       "modules_dir": dirs[0], "empty_dir": dirs[1]})
    done = isolated([sys.executable, "-I", "-S", "-c", _ORACLE, spec], timeout=120)
    assert done.returncode == 0, done.stderr
    out = []
    for answer in json.loads(done.stdout):
        config = answer["config"].split("# End of configuration files")[0]
        rules = [line for line in config.split("\n") if line.startswith(("install ", "blacklist "))]
        dry = {}
        for key, text in answer["dry"].items():
            commands = [line.removeprefix("install ").strip() for line in text.split("\n") if line.startswith("install ")]
            assert len(commands) <= 1, text
            dry[key] = commands[0] if commands else None
        out.append({"config": rules, "dry": dry})
    return out


@seed(SEED)
# No shrinking: a batch is reported by the one tree that disagrees, which is already small.
@settings(max_examples=CASES // BATCH, deadline=None, database=None, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large])
@given(batch=st.lists(trees(), min_size=BATCH, max_size=BATCH))
def test_libkmod_agrees(batch: list[dict[str, Any]], tmp_path_factory: Any, module_dirs: tuple[str, str]) -> None:
    program = require("modprobe")
    roots = []
    for tree in batch:
        roots.append(tmp_path_factory.mktemp("modprobe"))
        write(tree, roots[-1])
    for tree, root, truth in zip(batch, roots, oracle(roots, [t["probe"] for t in batch], program, module_dirs)):
        rules = model(root)
        ours = {"config": configured(rules), "dry": dry_runs(rules, tree["probe"])}
        assert ours == truth, f"disagreement on {tree}"


def test_reproduction_r17_modprobe_conf_is_not_read(tmp_path: Path, module_dirs: tuple[str, str]) -> None:
    tree = {"files": {"etc/modprobe.conf": "install cramfs /bin/false\n"}, "masked": []}
    write(tree, tmp_path)
    [truth] = oracle([tmp_path], [["cramfs"]], require("modprobe"), module_dirs)
    assert truth["dry"]["installed:cramfs"] is None and not truth["config"]
    assert model(tmp_path) == ()


def test_first_matching_pattern_wins_for_an_installed_module(tmp_path: Path, module_dirs: tuple[str, str]) -> None:
    tree = {"files": {"etc/modprobe.d/10-fs.conf": "install cram* /bin/true\n",
                      "etc/modprobe.d/20-cramfs.conf": "install cramfs /sbin/modprobe --ignore-install cramfs\n"},
            "masked": []}
    write(tree, tmp_path)
    [truth] = oracle([tmp_path], [["cramfs"]], require("modprobe"), module_dirs)
    assert truth["dry"]["installed:cramfs"] == "/bin/true"
    assert truth["dry"]["configured:cramfs"] == "/sbin/modprobe --ignore-install cramfs"
    assert dry_runs(model(tmp_path), ["cramfs"]) == truth["dry"]

"""sysctl: fedharden's reading of sysctl.d against systemd-sysctl itself.

Hypothesis generates sysctl.d trees (the four folders of systemd-sysctl's search path, file
names shared between them so that shadowing happens, /etc/sysctl.conf with or without the
99-sysctl.conf link, masked files, explicit keys, globs, ``-key`` exclusions, slash form,
comments, whitespace and lines that are not assignments). ``systemd-sysctl`` applies each tree
in a fresh network namespace with the tree bound over the real folders, and the values are read
back from /proc/sys inside that namespace. Only per-namespace ``net.*`` parameters are ever
written, so this machine's own kernel parameters are never touched.

To tell "left alone" from "set to the value it already had", the oracle runs systemd-sysctl
twice in the namespace, after setting every parameter to 0 and then to 1, and fedharden must
predict what every parameter reads after each run (checks.sysctld.simulate, which also knows
that switching IPv4 forwarding resets conf/all/accept_redirects).

Cases: 300 trees (15 hypothesis examples of 20), seed 16 (docs/semantics.md).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from agent.facts.context import Context
from agent.facts.sysctl import gather_persisted
from agent.hosts.rootfs import RootfsHost
from checks import sysctld
from tests.semantics.oracle import isolated, require

CASES = 300  # trees, in examples of BATCH trees each (one network namespace per example)
BATCH = 20
SEED = 16

CONF4 = ("accept_redirects", "send_redirects", "secure_redirects", "log_martians", "rp_filter", "accept_source_route")
CONF6 = ("accept_ra", "accept_redirects", "accept_source_route")
IFACES = ("all", "default", "lo")  # the interfaces of a fresh network namespace
# Every parameter the shipped NET requirements judge, and nothing a network namespace does not own.
# IPv6 forwarding: only "all" (writing it sets every interface's and default's value as well).
SCALARS = {"net/ipv4/ip_forward": (0, 1), "net/ipv6/conf/all/forwarding": (0, 1), "net/ipv4/tcp_syncookies": (0, 1, 2),
           "net/ipv4/icmp_echo_ignore_broadcasts": (0, 1), "net/ipv4/icmp_ignore_bogus_error_responses": (0, 1)}
KEYS: dict[str, tuple[int, ...]] = {
    **SCALARS,
    **{f"net/ipv4/conf/{i}/{p}": (0, 1, 2) for i in IFACES for p in CONF4},
    **{f"net/ipv6/conf/{i}/{p}": (0, 1, 2) for i in IFACES for p in CONF6},
}
GLOBS = {  # interface-component globs, each over parameters taking 0..2
    **{f"net/ipv4/conf/{g}/{p}": (0, 1, 2) for g in ("*", "[ad]*", "l?", "d*t") for p in CONF4},
    **{f"net/ipv6/conf/{g}/{p}": (0, 1, 2) for g in ("*", "[!a]*") for p in CONF6},
}
FORWARD = "net/ipv4/ip_forward"  # written first: turning it on or off resets all/accept_redirects
DIRS = ("etc/sysctl.d", "run/sysctl.d", "usr/local/lib/sysctl.d", "usr/lib/sysctl.d")
NAMES = ("10-a.conf", "50-b.conf", "60-net.conf", "99-z.conf", "notes.txt")

_ORACLE = r"""
import ctypes, json, os, subprocess, sys
libc = ctypes.CDLL(None, use_errno=True)
MS_BIND = 4096
def call(result, what):
    if result != 0:
        raise SystemExit(f"{what}: {os.strerror(ctypes.get_errno())}")
spec = json.loads(sys.argv[1])
dirs = ("etc/sysctl.d", "run/sysctl.d", "usr/local/lib/sysctl.d", "usr/lib/sysctl.d", "etc/sysctl.conf")
for d in ("run/sysctl.d", "usr/local/lib/sysctl.d"):
    os.makedirs("/" + d, exist_ok=True)
out = []
for root in spec["roots"]:
    for d in dirs:
        call(libc.mount(os.path.join(root, d).encode(), ("/" + d).encode(), None, MS_BIND, None), "mount " + d)
    reads = []
    for baseline in ("0", "1"):
        for key in spec["keys"]:
            with open("/proc/sys/" + key, "w") as fh:
                fh.write(baseline)
        subprocess.run([spec["program"]], capture_output=True)
        values = {}
        for key in spec["keys"]:
            with open("/proc/sys/" + key) as fh:
                values[key] = fh.read().strip()
        reads.append(values)
    for d in dirs:
        call(libc.umount2(("/" + d).encode(), 0), "umount " + d)
    out.append(reads)
print(json.dumps(out))
"""


def key_text(key: str, slash: bool) -> str:
    return key if slash else sysctld.dotted(key)


@st.composite
def lines(draw: Any) -> str:
    kind = draw(st.sampled_from(["set", "set", "set", "glob", "glob", "exclude", "comment", "blank", "junk"]))
    if kind == "comment":
        return draw(st.sampled_from(["# net.ipv4.conf.all.rp_filter = 2", "; net.ipv4.ip_forward = 1", "  #x"]))
    if kind == "blank":
        return draw(st.sampled_from(["", "   ", "\t"]))
    if kind == "junk":
        return draw(st.sampled_from(["net.ipv4.ip_forward", "not an assignment"]))
    pool = GLOBS if kind == "glob" else KEYS
    key = draw(st.sampled_from(sorted(pool)))
    text = key_text(key, draw(st.booleans()))
    pad = draw(st.sampled_from(["", " ", "\t", "  "]))
    if kind == "exclude":
        return f"{pad}-{text}{pad}"
    value = draw(st.sampled_from(pool[key]))
    dash = "-" if draw(st.integers(0, 5)) == 0 else ""
    eq = draw(st.sampled_from(["=", " = ", "\t=  ", " ="]))
    return f"{pad}{dash}{text}{eq}{value}{pad}"


@st.composite
def trees(draw: Any) -> dict[str, Any]:
    files: dict[str, str] = {}
    masked: list[str] = []
    for directory in DIRS:
        for name in draw(st.lists(st.sampled_from(NAMES), unique=True, max_size=3)):
            if draw(st.integers(0, 9)) == 0:
                masked.append(f"{directory}/{name}")
            else:
                files[f"{directory}/{name}"] = "\n".join(draw(st.lists(lines(), max_size=8))) + "\n"
    sysctl_conf = "\n".join(draw(st.lists(lines(), max_size=4))) + "\n"
    return {"files": files, "masked": masked, "sysctl_conf": sysctl_conf, "linked": draw(st.booleans())}


def write(tree: dict[str, Any], root: Path) -> None:
    for directory in DIRS:
        (root / directory).mkdir(parents=True, exist_ok=True)
    for path, text in tree["files"].items():
        (root / path).write_text(text)
    for path in tree["masked"]:
        (root / path).symlink_to("/dev/null")
    (root / "etc/sysctl.conf").write_text(tree["sysctl_conf"])
    if tree["linked"] and not (root / "etc/sysctl.d/99-sysctl.conf").exists():
        (root / "etc/sysctl.d/99-sysctl.conf").symlink_to("../sysctl.conf")


def model(root: Path) -> list[dict[str, str]]:
    """fedharden's answer, from the gatherer reading the tree as an image: what each parameter
    reads after systemd-sysctl, from each of the two baselines."""
    settings = gather_persisted(Context(RootfsHost(str(root))), [])[""]
    assert isinstance(settings, tuple), settings
    opts = sysctld.options(settings)
    return [sysctld.simulate(opts, {k: baseline for k in KEYS}) for baseline in ("0", "1")]


def oracle(roots: list[Path], program: str) -> list[list[dict[str, str]]]:
    """What every parameter reads after systemd-sysctl applied each tree, from each baseline:
    all trees one after the other in one network namespace, each bound over the real folders."""
    spec = json.dumps({"roots": [str(r) for r in roots], "keys": sorted(KEYS, key=lambda k: k != FORWARD),
                       "program": program})
    done = isolated([sys.executable, "-I", "-S", "-c", _ORACLE, spec], [("tmpfs", "/run"), ("tmpfs", "/usr/local/lib")], net=True,
                    timeout=120)
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout))


def test_vocabulary_is_per_namespace() -> None:
    # The oracle writes these in a network namespace; none may be a machine-wide parameter.
    assert all(k.startswith(("net/ipv4/conf/", "net/ipv6/conf/")) or k in SCALARS for k in [*KEYS, *GLOBS])
    assert all(g.split("/")[3] not in ("", "*") or g.count("/") == 4 for g in GLOBS)


@seed(SEED)
# No shrinking: a batch is reported by the one tree that disagrees, which is already small.
@settings(max_examples=CASES // BATCH, deadline=None, database=None, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large])
@given(batch=st.lists(trees(), min_size=BATCH, max_size=BATCH))
def test_systemd_sysctl_agrees(batch: list[dict[str, Any]], tmp_path_factory: Any) -> None:
    program = require("systemd-sysctl")
    roots = []
    for tree in batch:
        roots.append(tmp_path_factory.mktemp("sysctl"))
        write(tree, roots[-1])
    truth = oracle(roots, program)
    for tree, root, reads in zip(batch, roots, truth):
        assert model(root) == reads, f"disagreement on {tree}"


def test_reproduction_r15_explicit_key_beats_glob(tmp_path: Path) -> None:
    tree = {"files": {"etc/sysctl.d/10-cis.conf": "net.ipv4.conf.all.log_martians = 1\n",
                      "etc/sysctl.d/50-vendor.conf": "net.ipv4.conf.*.log_martians = 0\n"},
            "masked": [], "sysctl_conf": "\n", "linked": False}
    write(tree, tmp_path)
    [truth] = oracle([tmp_path], require("systemd-sysctl"))
    for reads in truth:
        assert reads["net/ipv4/conf/all/log_martians"] == "1" and reads["net/ipv4/conf/default/log_martians"] == "0"
    assert model(tmp_path) == truth

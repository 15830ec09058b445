"""sshd: fedharden's reading of sshd_config (agent.facts.sshd + checks.sshd) against ``sshd -T``.

CASES configurations are generated with hypothesis from SEED: a main sshd_config, Includes
(relative and absolute globs, inside Match blocks too), Match blocks (``all``, User, Address,
Host, LocalPort, combinations, negations), keyword case, ``=`` separators, quoting, comments,
time units, aliases and algorithm lists (``+``, ``-``, ``^``), now and then a line sshd refuses,
and the options Debian's ssh.service passes from /etc/default/ssh (``SSHD_OPTS``). Each is
written as a tree, read by fedharden as a scanned image, and given to the real sshd in a
private mount namespace with the tree bound over /etc/ssh: ``sshd -T -f /etc/ssh/sshd_config``
with the SSHD_OPTS words, once without ``-C`` and once per connection in CONNECTIONS. For every
keyword a shipped SSH requirement checks, fedharden's value must be the one sshd prints, and
fedharden must refuse exactly the configurations sshd refuses. The issue's reproductions R1-R4
are judged against the values sshd applies too.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from agent.facts.context import Context
from agent.facts.sshd import parse_sshd
from agent.hosts.rootfs import RootfsHost
from checks import sshd
from checks.facts import ConfigFile
from tests.semantics.oracle import isolated, require

SEED = 20261204
CASES = 300
# Every keyword a shipped HARDEN-30D SSH requirement judges (DisableForwarding and
# AllowAgentForwarding for the forwarding override, HostKey for SSH.16).
KEYWORDS = ("permitrootlogin", "permitemptypasswords", "maxauthtries", "x11forwarding", "hostbasedauthentication",
            "ignorerhosts", "clientaliveinterval", "clientalivecountmax", "logingracetime", "ciphers", "macs",
            "kexalgorithms", "loglevel", "permituserenvironment", "maxsessions", "banner", "allowtcpforwarding",
            "disableforwarding", "allowagentforwarding", "hostkey", "maxstartups", "usepam")
# Access lists (SSH.20): only whether sshd -T prints one for the connection is compared.
PRESENCE = ("allowusers", "allowgroups", "denyusers", "denygroups")
CONNECTIONS = (
    sshd.Connection("alice", "web1.example.com", "10.1.2.3", "127.0.0.1", 22),
    sshd.Connection("bob", "gw.other.org", "192.168.5.6", "10.0.0.1", 2222),
    sshd.Connection("root", "db.example.com", "203.0.113.9", "127.0.0.1", 22),
)

# --- generation -------------------------------------------------------------------------------

FLAG = ["yes", "no", "YES", "No"]
VALUES: dict[str, list[str]] = {
    "PermitRootLogin": ["yes", "no", "prohibit-password", "without-password", "forced-commands-only", "NO"],
    "PermitEmptyPasswords": FLAG,
    "MaxAuthTries": ["3", "6", "+4", "07", "0", "10"],
    "X11Forwarding": FLAG,
    "HostbasedAuthentication": FLAG,
    "IgnoreRhosts": ["yes", "no", "shosts-only", "Yes"],
    "ClientAliveInterval": ["0", "300", "900", "15m", "1h", "2h30m", "90s", "1w", "5M", "1m30"],
    "ClientAliveCountMax": ["0", "1", "3", "+2"],
    "LoginGraceTime": ["0", "60", "2m", "90s", "1m30s", "2h30m", "1w", "30S"],
    "Ciphers": ["aes256-ctr,aes128-ctr", "+aes128-cbc", "-aes128*", "^aes256-gcm@openssh.com",
                "chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes256-ctr,aes256-ctr", "-*-cbc,3des*"],
    "MACs": ["hmac-sha2-512,hmac-sha2-256", "+hmac-md5", "-*sha1*", "-umac-64*,hmac-sha1*",
             "^hmac-sha2-512-etm@openssh.com"],
    "KexAlgorithms": ["curve25519-sha256,diffie-hellman-group14-sha256", "+diffie-hellman-group1-sha1",
                      "-ecdh-*", "^diffie-hellman-group18-sha512", "-*sha1"],
    "LogLevel": ["INFO", "VERBOSE", "quiet", "debug", "DEBUG3", "Error"],
    "PermitUserEnvironment": ["no", "yes", "LANG,LC_*", "NO"],
    "MaxSessions": ["1", "4", "10", "64"],
    "Banner": ["/etc/issue.net", "none", "NONE", "/etc/ssh/banner"],
    "AllowTcpForwarding": ["yes", "no", "local", "remote", "all", "No"],
    "DisableForwarding": FLAG,
    "AllowAgentForwarding": FLAG,
    "HostKey": ["/etc/ssh/ssh_host_ed25519_key", "/etc/ssh/extra_ed25519_key"],
    "MaxStartups": ["10:30:60", "10", "+4:30:60", "010:030:060", "20:100:100", "1:1:1", "7", "12:30:100x",
                    "10:30"],
    "UsePAM": FLAG,
    "AllowUsers": ["alice", "bob carol", "*@10.0.0.0/8"],
    "AllowGroups": ["sshusers"],
    "DenyUsers": ["root", "guest*"],
    "DenyGroups": ["nossh"],
}
GLOBAL_ONLY = {"LoginGraceTime", "Ciphers", "MACs", "KexAlgorithms", "PermitUserEnvironment", "HostKey",
               "MaxStartups", "UsePAM"}
MATCHES = ["all", "User alice", "User bob,carol", "User !root,*", "User root", "Address 10.0.0.0/8",
           "Address 192.168.*", "Address !10.1.2.3,10.0.0.0/8", "Host *.example.com", "LocalPort 2222",
           "LocalAddress 127.0.0.1", "User alice Address 10.1.2.0/24", "ALL", "user=bob", "User *"]
REFUSED = ["LoginGraceTime soon", "PermitRootLogin maybe", "MaxAuthTries 4x", "X11Forwarding", 'Banner "/etc/x',
           "PermitRootLogin no yes", "Match Bogus x", "Ciphers aes999-ctr"]


def spelled(keyword: str) -> st.SearchStrategy[str]:
    return st.sampled_from([keyword, keyword.lower(), keyword.upper()])


@st.composite
def setting_line(draw: st.DrawFn, global_scope: bool) -> str:
    keys = sorted(VALUES) if global_scope else sorted(set(VALUES) - GLOBAL_ONLY)
    keyword = draw(st.sampled_from(keys))
    value = draw(st.sampled_from(VALUES[keyword]))
    key = draw(spelled(keyword))
    form = draw(st.integers(0, 5))
    if form == 1:
        return f"{key}={value}"
    if form == 2:
        return f"\t{key} = {value}"
    if form == 3:
        return f'{key} "{value}"'
    if form == 4:
        return f"  {key}\t{value}   # set by hand"
    return f"{key} {value}"


@st.composite
def block(draw: st.DrawFn, match: str | None, include_names: list[str]) -> list[str]:
    """A run of lines: global (match None) or under one Match line."""
    lines = [] if match is None else [f"Match {match}"]
    global_scope = match is None or match.lower() == "all"
    for _ in range(draw(st.integers(0, 5))):
        kind = draw(st.integers(0, 19))
        if kind == 0 and include_names:
            lines.append(f"Include {draw(st.sampled_from(include_names))}")
        elif kind == 1:
            lines.append(draw(st.sampled_from(["# a comment", "", "   ", "#PermitRootLogin yes"])))
        else:
            lines.append(draw(setting_line(global_scope)))
    return lines


@st.composite
def config_text(draw: st.DrawFn, include_names: list[str]) -> str:
    lines = draw(block(None, include_names))
    for _ in range(draw(st.integers(0, 3))):
        lines += draw(block(draw(st.sampled_from(MATCHES)), include_names))
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Case:
    files: dict[str, str]  # path under /etc/ssh -> text
    sshd_opts: str | None  # SSHD_OPTS in /etc/default/ssh

    def describe(self) -> str:
        return json.dumps({"files": self.files, "SSHD_OPTS": self.sshd_opts}, indent=1)


@st.composite
def cases(draw: st.DrawFn) -> Case:
    includes = {"sshd_config.d/10-a.conf": "sshd_config.d/*.conf", "sshd_config.d/20-b.conf": "sshd_config.d/*.conf",
                "extra.conf": "/etc/ssh/extra.conf", "nested.conf": "nested.conf"}
    files: dict[str, str] = {}
    for path in includes:
        if draw(st.booleans()):
            # Included files include no further (nested.conf aside), so nothing recurses forever.
            files[path] = draw(config_text(["nested.conf"] if path != "nested.conf" else []))
    names = sorted(set(includes.values()) | {"missing/*.conf", "sshd_config.d/*.conf /etc/ssh/extra.conf"})
    main = draw(config_text(names))
    if draw(st.integers(0, 9)) == 0:
        lines = main.splitlines()
        lines.insert(draw(st.integers(0, len(lines))), draw(st.sampled_from(REFUSED)))
        main = "\n".join(lines) + "\n"
    files["sshd_config"] = main
    opts = None
    if draw(st.integers(0, 3)) == 0:
        words = []
        for _ in range(draw(st.integers(1, 3))):
            keyword = draw(st.sampled_from(sorted(VALUES)))
            value = draw(st.sampled_from(VALUES[keyword]))
            words += draw(st.sampled_from([["-o", f"{keyword}={value}"], [f"-o{keyword}={value}"]]))
        if draw(st.booleans()):
            words += ["-g", draw(st.sampled_from(VALUES["LoginGraceTime"]))]
        opts = " ".join(words)
    return Case(files, opts)


def generate() -> list[Case]:
    found: list[Case] = []

    @seed(SEED)
    @settings(max_examples=CASES, database=None, deadline=None, phases=(Phase.generate,),
              suppress_health_check=list(HealthCheck))
    @given(cases())
    def collect(case: Case) -> None:
        found.append(case)

    collect()
    return found


# --- the oracle -------------------------------------------------------------------------------

# Runs inside one private mount namespace (tests.semantics.oracle.isolated): for each case,
# bind its tree over /etc/ssh, run every sshd -T, unbind. argv lists only, never a shell.
_RUNNER = r"""
import json, subprocess, sys
spec = json.load(open(sys.argv[1]))
from concurrent.futures import ThreadPoolExecutor
def run(argv):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    return [p.returncode, p.stdout, p.stderr]
out = []
with ThreadPoolExecutor(4) as pool:
    for case in spec:
        subprocess.run(["mount", "--bind", case["tree"], "/etc/ssh"], check=True)
        out.append(list(pool.map(run, case["runs"])))
        subprocess.run(["umount", "/etc/ssh"], check=True)
json.dump(out, open(sys.argv[2], "w"))
"""


@pytest.fixture(scope="session")
def host_key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One ed25519 host key for every generated tree (sshd -T needs a key it can load)."""
    directory = tmp_path_factory.mktemp("sshd-hostkey")
    key = directory / "ssh_host_ed25519_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True, timeout=30,
                   stdin=subprocess.DEVNULL)
    return key


def build(root: Path, case: Case, key: Path) -> None:
    ssh = root / "etc/ssh"
    ssh.mkdir(parents=True)
    for path, text in case.files.items():
        (ssh / path).parent.mkdir(parents=True, exist_ok=True)
        (ssh / path).write_text(text)
    for name in ("ssh_host_ed25519_key", "extra_ed25519_key"):
        shutil.copy(key, ssh / name)
        (ssh / name).chmod(0o600)
    if case.sshd_opts is not None:
        (root / "etc/default").mkdir(parents=True)
        (root / "etc/default/ssh").write_text(f'# Options to pass to sshd\nSSHD_OPTS="{case.sshd_opts}"\n')


def dump(text: str) -> dict[str, str]:
    """sshd -T output: keyword -> value (repeated keywords such as hostkey joined by spaces)."""
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        out.setdefault(key, []).append(value)
    return {k: " ".join(v) for k, v in out.items()}


def ours(conf: ConfigFile, conn: sshd.Connection | None) -> dict[str, str]:
    return {k: str(sshd.resolve(conf, k, conn)[0]) for k in KEYWORDS}


@dataclass
class Comparison:
    cases: int = 0
    refused: int = 0  # cases sshd refuses (fedharden must too)
    values: int = 0  # (case, connection, keyword) values compared
    disagreements: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def compared(tmp_path_factory: pytest.TempPathFactory, host_key: Path) -> Iterator[Comparison]:
    sshd_path = require("sshd")
    work = tmp_path_factory.mktemp("sshd-cases")
    generated = generate()
    spec, confs = [], []
    for index, case in enumerate(generated):
        root = work / f"case{index}"
        build(root, case, host_key)
        confs.append(parse_sshd(Context(RootfsHost(str(root))), "/etc/ssh/sshd_config"))
        base = [sshd_path, "-T", "-f", "/etc/ssh/sshd_config", *(case.sshd_opts or "").split()]
        bare = [] if "localport" in json.dumps(case.files).lower() else [base]  # -T without -C needs lport then
        spec.append({"tree": str(root / "etc/ssh"), "runs": bare + [[*base, "-C", c.spec()] for c in CONNECTIONS]})
    (work / "spec.json").write_text(json.dumps(spec))
    done = isolated([sys.executable, "-c", _RUNNER, str(work / "spec.json"), str(work / "out.json")],
                    timeout=1200)
    assert done.returncode == 0, done.stderr
    results = json.loads((work / "out.json").read_text())
    result = Comparison(cases=len(generated))
    disagreements = result.disagreements
    for case, conf, runs in zip(generated, confs, results):
        connections: list[sshd.Connection | None] = [*CONNECTIONS]
        if len(runs) > len(CONNECTIONS):
            connections.insert(0, None)
        for conn, (rc, stdout, stderr) in zip(connections, runs):
            refused_by_sshd, refused_by_us = rc != 0, bool(conf.problems)
            if refused_by_sshd or refused_by_us:
                result.refused += refused_by_sshd
                if refused_by_sshd != refused_by_us:
                    verdict = "refuses" if refused_by_sshd else "accepts"
                    disagreements.append(f"sshd {verdict} ({stderr.strip()[:200]}), "
                                         f"fedharden problems {list(conf.problems)}\n{case.describe()}")
                break
            theirs, mine = dump(stdout), ours(conf, conn)
            for key in PRESENCE:
                result.values += 1
                if (key in theirs) != (sshd.resolve(conf, key, conn)[0] is not None):
                    disagreements.append(f"{key} for {conn.spec() if conn else 'sshd -T'}: sshd {theirs.get(key)!r}, "
                                         f"fedharden {sshd.resolve(conf, key, conn)[0]!r}\n{case.describe()}")
            for key in KEYWORDS:
                result.values += 1
                if theirs.get(key) != mine[key]:
                    disagreements.append(f"{key} for {conn.spec() if conn else 'sshd -T'}: sshd {theirs.get(key)!r}, "
                                         f"fedharden {mine[key]!r}\n{case.describe()}")
                # What the checks judge without knowing the connection must include every real one.
                reached = {r.value for r in sshd.reachable(conf, key, sshd.DEFAULTS.get(key))}
                if conn is not None and key != "hostkey" and theirs.get(key) not in reached:
                    disagreements.append(f"{key} reachable for {conn.spec()}: sshd {theirs.get(key)!r} not in "
                                         f"{sorted(reached)}\n{case.describe()}")
    yield result


def test_the_generated_cases_exercise_sshd(compared: Comparison) -> None:
    """CASES distinct configurations, most of them accepted, so values are really compared."""
    assert compared.cases == CASES
    assert 0 < compared.refused < CASES // 3
    assert compared.values >= (CASES - compared.refused) * len(CONNECTIONS) * (len(KEYWORDS) + len(PRESENCE))


def test_shipped_defaults_are_sshds(host_key: Path, tmp_path: Path) -> None:
    """The ``default`` an SSH requirement states is what sshd -T prints for an empty file."""
    from directives import load_library

    build(tmp_path, Case({"sshd_config": "\n"}, None), host_key)
    done = isolated([require("sshd"), "-T", "-f", "/etc/ssh/sshd_config"],
                    [("bind", str(tmp_path / "etc/ssh"), "/etc/ssh")])
    assert done.returncode == 0, done.stderr
    printed = dump(done.stdout)
    stated = {}
    for directive in load_library():
        for requirement in directive.requirements:
            specs = requirement.check.get("all", [requirement.check])
            for spec in specs:
                if spec.get("dialect") == "sshd" and "default" in spec:
                    key = spec["key"].lower()
                    stated[(requirement.id, key)] = sshd.normalize(key, [str(spec["default"])])
    assert stated, "no shipped sshd requirement states a default"
    assert {k: v for k, v in stated.items() if printed[k[1]] != v} == {}


def test_every_judged_keyword_agrees_with_sshd_T(compared: Comparison) -> None:
    wrong = compared.disagreements
    kinds = sorted({w.split(" for ")[0] + ": " + w.split(": ", 1)[1].split("\n")[0] for w in wrong})
    assert wrong == [], f"{len(wrong)} disagreements:\n" + "\n".join(kinds[:40]) + "\nfirst:\n" + "\n\n".join(wrong[:2])


# The reproductions of the issue, with the truth taken from sshd itself: for every connection
# in CONNECTIONS (and sshd -T without -C), does the value sshd applies meet the requirement?
REPRODUCTIONS = [
    ("R1", "PermitRootLogin no\nMatch all\nPermitRootLogin yes\n", ["HARDEN-30D.SSH.1"], "fail"),
    ("R2", "LoginGraceTime 0\n", ["HARDEN-30D.SSH.7"], "fail"),
    ("R3", "ClientAliveInterval 900\nClientAliveCountMax 0\n", ["HARDEN-30D.SSH.6"], "fail"),
    ("R4", "DisableForwarding yes\nX11Forwarding yes\n", ["HARDEN-30D.SSH.4", "HARDEN-30D.SSH.17"], "pass"),
]


@pytest.mark.parametrize(("name", "text", "requirements", "truth"), REPRODUCTIONS,
                         ids=[r[0] for r in REPRODUCTIONS])
def test_reproductions_are_judged_as_sshd_applies_them(name: str, text: str, requirements: list[str], truth: str,
                                                       host_key: Path, tmp_path: Path) -> None:
    from checks import expect
    from directives import load_library

    build(tmp_path, Case({"sshd_config": text}, None), host_key)
    conf = parse_sshd(Context(RootfsHost(str(tmp_path))), "/etc/ssh/sshd_config")
    base = [require("sshd"), "-T", "-f", "/etc/ssh/sshd_config"]
    printed = []
    for argv in [base, *([*base, "-C", c.spec()] for c in CONNECTIONS)]:
        done = isolated(argv, [("bind", str(tmp_path / "etc/ssh"), "/etc/ssh")])
        assert done.returncode == 0, done.stderr
        printed.append(dump(done.stdout))
    library = {r.id: r for d in load_library() for r in d.requirements}
    for rid in requirements:
        specs = library[rid].check.get("all", [library[rid].check])
        # sshd_config(5): DisableForwarding overrides every forwarding keyword sshd -T still prints.
        applied = [{k: "no" if k in sshd.FORWARDING and p["disableforwarding"] == "yes" else v
                    for k, v in p.items()} for p in printed]
        sshd_truth = all(expect.satisfied(s, p[s["key"].lower()]) for s in specs for p in applied)
        ours = [sshd.judge(s, conf).status.value for s in specs]
        assert ("pass" if sshd_truth else "fail") == truth, (name, rid, applied)
        assert ("fail" if "fail" in ours else "pass") == truth, (name, rid, ours)

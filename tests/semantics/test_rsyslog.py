"""rsyslog's network inputs: HARDEN-30D.LOG.14 (rsyslog does not accept logs from the network)
against the real rsyslogd, run on the same files.

CASES configurations seeded with SEED: /etc/rsyslog.conf and /etc/rsyslog.d/*.conf drawn from
legacy (``$ModLoad imtcp``, by name or by path, ``$InputTCPServerRun``, ``$UDPServerRun``...) and RainerScript
(``module(load=...)``, ``input(type=...)``, over one or several lines) forms of imtcp, imptcp and
imudp, in any order and case, commented out or not, with or without the include of rsyslog.d
(``$IncludeConfig`` or ``include()``), among lines that open nothing. Each is bound over /etc in
a private mount and network namespace, where ``rsyslogd -n -f /etc/rsyslog.conf`` runs for a
moment while the namespace's /proc/net/{tcp,tcp6,udp,udp6} are read: the truth is whether it
listened.

Required: no configuration on which rsyslogd listened passes LOG.14 (the check is never more
lenient than rsyslog), and every configuration that names no network input passes. Between the
two, LOG.14 is stricter than rsyslog by design, as CIS's and ComplianceAsCode's audits are: a
network input module loaded without a listener, a listener rsyslog rejects (its module not yet
loaded) or a file rsyslog does not include still fails it.
"""
from __future__ import annotations

import random
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from agent.facts import gather
from agent.facts.context import Context
from agent.hosts.rootfs import RootfsHost
from checks import evaluate, needs
from checks.model import Status
from directives import load_library
from tests.semantics.oracle import isolated, require

CASES = 100
SEED = 20261209

# Inside the namespace: start rsyslogd, watch the namespace's sockets, stop it, print the ports.
PROBE = r"""
import subprocess, sys, time
p = subprocess.Popen(["rsyslogd", "-n", "-f", "/etc/rsyslog.conf", "-i", sys.argv[1]],
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
ports = set()
deadline = time.time() + 1.0
while time.time() < deadline and p.poll() is None:
    for kind in ("tcp", "tcp6", "udp", "udp6"):
        for line in open("/proc/net/" + kind).read().splitlines()[1:]:
            fields = line.split()
            if kind.startswith("udp") or fields[3] == "0A":
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    time.sleep(0.05)
p.terminate()
p.wait(timeout=10)
print(" ".join(str(x) for x in sorted(ports)))
"""

MODULES = {"imtcp": ("$InputTCPServerRun {port}", 'input(type="imtcp" port="{port}")'),
           "imptcp": ("$InputPTCPServerRun {port}", 'input(type="imptcp" port="{port}")'),
           "imudp": ("$UDPServerRun {port}", 'input(type="imudp" port="{port}")'),
           "imudp ": ("$InputUDPServerRun {port}", 'input(type="imudp" port="{port}" address="127.0.0.1")')}
BENIGN = ("$FileCreateMode 0640", "$RepeatedMsgReduction on", 'template(name="t" type="string" string="%msg%\\n")',
          "# a comment", "")


def network_lines(rng: random.Random, port: int) -> tuple[list[str], bool]:
    """Lines for one network input, and whether they name it at all (comments aside)."""
    legacy_listener, rainer_listener = MODULES[key := rng.choice(sorted(MODULES))]
    module = key.strip()
    load = rng.choice([f"$ModLoad {module}", f"$modload {module}", f'module(load="{module}")',
                       f"$ModLoad /usr/lib/x86_64-linux-gnu/rsyslog/{module}.so",
                       f'module(\n  load="{module}"\n)', f'module(load="{module}" )'])
    listen = rng.choice([legacy_listener, rainer_listener, f'input(\n  type="{module}"\n  port="{{port}}"\n)'])
    listen = listen.format(port=port)
    lines = rng.choice([[load, listen], [load], [listen, load], [load, listen], [load, listen]])
    if rng.random() < 0.25:
        return ["#" + line.replace("\n", "\n#") for line in lines], False
    return lines, True


def generate(rng: random.Random, root: Path) -> bool:
    """Write /etc/rsyslog.conf and rsyslog.d under root; whether any network input is named."""
    named = False
    main: list[str] = [rng.choice(BENIGN) for _ in range(rng.randint(0, 2))]
    dropins: dict[str, list[str]] = {}
    port = 10514
    for _ in range(rng.choice([0, 1, 1, 2])):
        lines, mentioned = network_lines(rng, port)
        port += 1
        named |= mentioned
        target = main if rng.random() < 0.5 else dropins.setdefault(rng.choice(["10-a.conf", "50-remote.conf"]), [])
        target.extend(lines)
    include = rng.choice(["$IncludeConfig /etc/rsyslog.d/*.conf", 'include(file="/etc/rsyslog.d/*.conf")', ""])
    main += [include, "*.* /dev/null"]
    (root / "etc/rsyslog.d").mkdir(parents=True)
    (root / "etc/rsyslog.conf").write_text("\n".join(main) + "\n")
    for name, lines in dropins.items():
        (root / "etc/rsyslog.d" / name).write_text("\n".join(lines) + "\n")
    (root / "var/lib/dpkg").mkdir(parents=True)
    (root / "var/lib/dpkg/status").write_text("Package: rsyslog\nStatus: install ok installed\nVersion: 8.2302.0-1\n")
    return named


def verdict(root: Path) -> Status:
    requirement = next(r for d in load_library() for r in d.requirements if r.id == "HARDEN-30D.LOG.14")
    facts = gather(Context(RootfsHost(str(root))), needs(requirement.check))
    return evaluate(requirement.check, facts).status


def listened(root: Path) -> bool:
    mounts = [("bind", str(root / "etc/rsyslog.conf"), "/etc/rsyslog.conf"),
              ("bind", str(root / "etc/rsyslog.d"), "/etc/rsyslog.d")]
    proc = isolated([sys.executable, "-c", PROBE, str(root / "rsyslogd.pid")], mounts, net=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    return bool(proc.stdout.split())


def test_log14_is_never_more_lenient_than_rsyslogd() -> None:
    require("rsyslogd")
    rng = random.Random(SEED)
    with tempfile.TemporaryDirectory() as tmp:
        roots = []
        for case in range(CASES):
            root = Path(tmp) / str(case)
            roots.append((root, generate(rng, root)))
        with ThreadPoolExecutor(max_workers=3) as pool:
            truths = list(pool.map(lambda item: listened(item[0]), roots))
        results = [(case, named, truth, verdict(root)) for case, ((root, named), truth) in enumerate(zip(roots, truths))]
    lenient = [r for r in results if r[2] and r[3] is not Status.FAIL]
    unnamed_failed = [r for r in results if not r[1] and r[3] is not Status.PASS]
    assert lenient == [] and unnamed_failed == []
    assert sum(1 for r in results if r[2]) > CASES // 8, "enough configurations really listen"
    assert sum(1 for r in results if not r[1]) > CASES // 10, "enough configurations name no network input"

"""iptables-restore files: the chains, policies and rules fedharden computes for a rules.v4 /
rules.v6 file, against what the kernel holds after the real loader ran on it, in a fresh network
namespace: ``iptables-restore --test`` first (netfilter-persistent loads nothing when it fails),
then ``iptables-restore`` and ``iptables-save`` (``ip6tables-*`` for IPv6).

CASES generated files, seeded with SEED: comments (and lines iptables refuses: an indented
``#``, a ``#`` after a rule, ``-t``), tables (filter mostly; nat, raw, a bogus name), built-in
chain declarations with ACCEPT, DROP or a bad policy, with or without counters, user chains,
``-A``/``-I`` (with positions)/``-P``/``-N``/``-F`` commands, rules in short and long option forms
(``--in-interface``, ``--source``, ``--jump``), addresses written as iptables normalizes them
(``127.0.0.1/8``, a dotted mask, a comma list, ``::1``), ports (``--dport``, ``-m tcp``, multiport
``--dports``, ranges, ``-p 6``), quoted comments, and a missing COMMIT. A refused file must be
refused by both; otherwise every chain of the filter table must have the same policy and the same
rules in the same order, each compared as fedharden reads it (interfaces, negations, source
network, protocol, destination ports, target, whether anything else narrows it): the rules of
the raw file against the rules iptables-save prints.
"""
from __future__ import annotations

import json
import random
from collections import Counter
import sys
from pathlib import Path

from agent.facts.iptables import parse
from checks.facts import IptRuleset
from checks.iptables import loopback_in, loopback_out, loopback_source_dropped, matches
from tests.semantics.oracle import isolated, require

CASES = 300
SEED = 20261205

# Inside the namespace: for each case, an empty ruleset, the loader's test, the load, the listing.
BATCH = r"""
import json, subprocess, sys
out = []
for path, v6 in json.loads(sys.argv[1]):
    tool = "ip6tables" if v6 else "iptables"
    subprocess.run(["nft", "flush", "ruleset"], check=True)
    with open(path) as f:
        test = subprocess.run([tool + "-restore", "--test"], stdin=f, capture_output=True, text=True)
    saved, rc, err = "", test.returncode, test.stderr
    if test.returncode == 0:
        with open(path) as f:
            load = subprocess.run([tool + "-restore"], stdin=f, capture_output=True, text=True)
        rc, err = load.returncode, load.stderr  # what --test accepts may still fail to load
        saved = subprocess.run([tool + "-save", "-t", "filter"], capture_output=True, text=True, check=True).stdout
    out.append({"rc": rc, "stderr": err, "saved": saved})
print(json.dumps(out))
"""

CHAINS = ("INPUT", "FORWARD", "OUTPUT")
COMMON = ("-i lo -j ACCEPT", "--in-interface lo --jump ACCEPT", "-o lo -j ACCEPT", "--out-interface lo -j ACCEPT",
          "-p tcp --dport 22 -j ACCEPT", "-p tcp -m tcp --dport 22 -j ACCEPT", "-p 6 --dport 80 -j ACCEPT",
          "-p udp -m multiport --dports 53,123 -j ACCEPT", "-p tcp --dport 1000:2000 -j DROP",
          "-m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT", '-i lo -m comment --comment "loop back" -j ACCEPT',
          "-i eth0 -j ACCEPT", "-j DROP", "-i lo -p tcp -j ACCEPT", "! -i lo -j ACCEPT", "-j LOCAL",
          "-p tcp ! --dport 22 -j REJECT")
V4 = ("-s 127.0.0.0/8 -j DROP", "! -i lo -s 127.0.0.0/8 -j DROP", "-s 127.0.0.1/8 -j DROP",
      "--source 127.0.0.0/255.0.0.0 -j REJECT", "-s 10.0.0.0/8,127.0.0.0/8 -j DROP", "! -s 127.0.0.0/8 -j DROP",
      "-s 127.0.0.0/16 -j DROP", "-s 0.0.0.0/0 -j DROP", "-d 127.0.0.0/8 -j DROP")
V6 = ("-s ::1 -j DROP", "-s ::1/128 -j DROP", "! -i lo -s ::1/128 -j DROP", "-s ::/0 -j REJECT",
      "-s fe80::/10,::1 -j DROP", "-i lo -s ::1 -j DROP")
REFUSED_LINES = ("  # an indented comment", "-A INPUT -j ACCEPT # a trailing comment", "-t filter -A INPUT -j DROP",
                 "-A NOCHAIN -j DROP", ":INPUT drop [0:0]", "-P LOCAL DROP")


def _rule(rng: random.Random, v6: bool) -> str:
    return rng.choice(COMMON + (V6 if v6 else V4))


def _filter_table(rng: random.Random, v6: bool) -> list[str]:
    lines = ["*filter"]
    for chain in CHAINS:
        if rng.random() < 0.8:
            counters = rng.choice((" [0:0]", "", " [12:3400]"))
            lines.append(f":{chain} {rng.choice(('ACCEPT', 'DROP', 'DROP'))}{counters}")
    if rng.random() < 0.6:
        lines.append(":LOCAL - [0:0]")
    for _ in range(rng.randrange(8)):
        pick = rng.random()
        chain = rng.choice(CHAINS + ("LOCAL",) * ("LOCAL" in " ".join(lines)))
        if pick < 0.65:
            lines.append(f"-A {chain} {_rule(rng, v6)}")
        elif pick < 0.8:
            position = rng.choice(("", " 1", " 2"))
            lines.append(f"-I {chain}{position} {_rule(rng, v6)}")
        elif pick < 0.88:
            lines.append(f"-P {rng.choice(CHAINS)} {rng.choice(('ACCEPT', 'DROP'))}")
        elif pick < 0.93:
            lines.append(f"-F {chain}")
        elif pick < 0.97:
            lines.append("# a comment")
        else:
            lines.append("")
    if rng.random() < 0.07:
        lines.insert(rng.randrange(1, len(lines) + 1), rng.choice(REFUSED_LINES))
    if rng.random() < 0.95:
        lines.append("COMMIT")
    return lines


def generate(rng: random.Random, path: Path, v6: bool) -> None:
    lines = [f"# Generated by {'ip6' if v6 else 'ip'}tables-save v1.8.9"]
    if rng.random() < 0.2:
        lines += [rng.choice(("*raw", "*nat", "*mangle")), "COMMIT"]
    lines += _filter_table(rng, v6)
    if rng.random() < 0.2:
        lines += _filter_table(rng, v6)  # a second filter section replaces the first
    if rng.random() < 0.03:
        lines += ["*bogus", "COMMIT"]
    path.write_text("\n".join(lines) + "\n")


def view(ruleset: IptRuleset) -> dict[str, tuple[object, ...]]:
    """Each filter chain: its policy and its rules as fedharden reads them."""
    out = {}
    for chain in ruleset.chains:
        if chain.table != "filter":
            continue
        rules = [(m.in_iface, m.in_negated, m.out_iface, m.out_negated, m.source, m.source_negated, m.proto,
                  m.dports, m.target, bool(m.other)) for r in chain.rules for m in matches(r)]
        out[chain.name] = (chain.policy, tuple(_canonical(rules)))
    return out


def _canonical(rules: list[tuple[object, ...]]) -> list[tuple[object, ...]]:
    """A comma list of addresses becomes one rule per address, in an order of iptables' own:
    sort each run of rules that differ only in their source."""
    out: list[tuple[object, ...]] = []
    run: list[tuple[object, ...]] = []
    for rule in rules + [()]:
        if run and (not rule or rule[:4] + rule[5:] != run[0][:4] + run[0][5:]):
            out += sorted(run, key=repr)
            run = []
        if rule:
            run.append(rule)
    return out


def test_iptables_restore_matches_iptables(tmp_path: Path) -> None:
    require("iptables-restore")
    require("nft")
    rng = random.Random(SEED)
    cases = []
    for number in range(CASES):
        v6 = number % 2 == 1
        path = tmp_path / f"rules{number}.v{'6' if v6 else '4'}"
        generate(rng, path, v6)
        cases.append((str(path), v6))
    done = isolated([sys.executable, "-c", BATCH, json.dumps(cases)], net=True, timeout=600)
    assert done.returncode == 0, done.stderr
    disagreements = []
    refused = loaded = 0
    seen: Counter[str] = Counter()
    for (path, v6), answer in zip(cases, json.loads(done.stdout)):
        mine = parse(Path(path).read_text(), path)
        assert not mine.error, mine.error
        if (answer["rc"] != 0) != bool(mine.refused):
            disagreements.append((path, "refused", mine.refused, answer["stderr"]))
            continue
        if mine.refused:
            refused += 1
            continue
        loaded += 1
        theirs = view(parse(answer["saved"], "iptables-save"))
        ours = view(mine)
        if not any(c.table == "filter" for c in mine.chains):  # the kernel lists an untouched table as empty
            ours = {name: ("ACCEPT", ()) for name in CHAINS}
        if ours != theirs:
            disagreements.append((path, ours, theirs))
        source = "::1/128" if v6 else "127.0.0.0/8"
        for m in (m for c in mine.chains for r in c.rules for m in matches(r)):
            seen["lo in"] += loopback_in(m)
            seen["lo out"] += loopback_out(m)
            seen["lo source"] += loopback_source_dropped(m, source)
    (tmp_path / "disagreements.txt").write_text("\n\n".join(repr(d) for d in disagreements))
    assert disagreements == [], (len(disagreements), tmp_path / "disagreements.txt")
    assert refused > CASES // 20 and loaded > CASES // 2, (refused, loaded)
    assert min(seen.values()) >= 20 and len(seen) == 3, seen  # what the loopback requirements look for

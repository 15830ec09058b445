"""nftables: the chains, hooks and policies fedharden computes for a ruleset file, against what
the kernel holds after the real ``nft -f`` loaded it (``nft -j list ruleset``), in a fresh
network namespace with the generated /etc bound over the real one.

CASES generated rulesets, seeded with SEED (a ``random.Random``: every case runs in one
namespace, so the cases are generated up front rather than one by one by hypothesis). They mix
table blocks and ``add`` commands, base chains of every hook with the policy on its own line,
on the type line or absent, named and numeric priorities, ``flags dormant``, ``define``d values in rules,
``include`` of globs (absolute and relative to /etc, with files the glob must skip),
``flush ruleset [family]``, ``delete table``, ``rename chain``, and files nft refuses (a policy
set twice, a policy on a regular chain, a base chain redeclared with another hook or priority,
a chain in a missing table). A refused file must be refused by both; otherwise every table
(family, name, dormant) and every chain (family, table, name, type, hook, priority, policy)
must be equal.
"""
from __future__ import annotations

import ipaddress
import json
import random
from collections import Counter
import shutil
import sys
from pathlib import Path

from agent.facts.context import Context
from agent.facts.nftables import load
from checks.facts import NftRule
from checks.nftables import LOOPBACK_SOURCES, accepts_loopback, drops_loopback_source
from agent.hosts.rootfs import RootfsHost
from tests.semantics.oracle import isolated, require

CASES = 300
SEED = 20261204

FAMILIES = ("inet", "ip", "ip6")
TABLES = ("filter", "fw")
CHAINS = ("inbound", "outbound", "routed", "allowed")
HOOK_OF = {"inbound": "input", "outbound": "output", "routed": "forward", "allowed": "input"}
HOOKS = ("input", "forward", "output", "prerouting", "postrouting")
PRIORITIES = ("0", "filter", "filter + 5", "-10", "raw", "security", "mangle - 3", "10")
RULES = ("ct state established,related accept", 'iifname "lo" accept', "tcp dport { 22, 443 } accept",
         "tcp dport $SSH accept", "counter drop", 'iif "lo" accept', "iif lo counter accept", 'meta iif "lo" accept',
         'iifname "lo" counter packets 0 bytes 0 accept', 'iif "lo" accept comment "loopback"', 'iif "lo" drop',
         'iif != "lo" accept', 'iif "lo" tcp dport 22 accept')
RULES_OF = {  # loopback sources, only where the table's family has that protocol
    "ip": ("ip saddr 127.0.0.0/8 counter drop", 'iif != "lo" ip saddr 127.0.0.0/8 drop', "ip saddr 127.0.0.0/16 drop",
           "ip saddr 127.0.0.0/7 counter drop", "ip saddr 10.0.0.0/8 drop", "ip saddr 127.0.0.0/8 accept"),
    "ip6": ("ip6 saddr ::1 counter drop", 'iifname != "lo" ip6 saddr ::1 drop', "ip6 saddr ::1/128 drop",
            "ip6 saddr fe80::/10 drop"),
}
RULES_OF["inet"] = RULES_OF["ip"] + RULES_OF["ip6"]

# Inside the namespace: for each case, its etc over /etc, a clean ruleset, nft -f, the listing.
BATCH = r"""
import json, subprocess, sys
out = []
for etc in json.loads(sys.argv[1]):
    subprocess.run(["mount", "--bind", etc, "/etc"], check=True)
    subprocess.run(["nft", "flush", "ruleset"], check=True)
    loaded = subprocess.run(["nft", "-f", "/etc/nftables.conf"], capture_output=True, text=True)
    listed = subprocess.run(["nft", "-j", "list", "ruleset"], capture_output=True, text=True, check=True)
    subprocess.run(["umount", "/etc"], check=True)
    out.append({"rc": loaded.returncode, "stderr": loaded.stderr, "ruleset": json.loads(listed.stdout)})
print(json.dumps(out))
"""


def _hook(rng: random.Random, chain: str) -> str:
    """Mostly the same hook and priority for a chain's name, so redeclarations often agree."""
    if rng.random() < 0.85:
        return f"type filter hook {HOOK_OF[chain]} priority {PRIORITIES[CHAINS.index(chain)]}"
    return f"type filter hook {rng.choice(HOOKS)} priority {rng.choice(PRIORITIES)}"


def _chain_block(rng: random.Random, chain: str, base: bool, family: str) -> list[str]:
    lines = []
    if base:
        typeline = _hook(rng, chain)
        policy = rng.choice(("drop", "accept", ""))
        style = rng.randrange(3)
        if policy and style == 0:
            lines.append(f"{typeline}; policy {policy};")
        elif policy and style == 1:
            lines += [typeline, f"policy {policy}"]
        else:
            lines.append(typeline + ("" if not policy else f"\npolicy {policy}"))
    elif rng.random() < 0.05:
        lines.append("policy drop")  # refused: a policy on a regular chain
    if base and rng.random() < 0.05:
        lines.append("policy accept")  # refused when a policy was already set
    lines += rng.sample(RULES + RULES_OF[family], rng.randrange(4))
    return lines


def _table_block(rng: random.Random) -> str:
    family, name = rng.choice(FAMILIES), rng.choice(TABLES)
    body = []
    if rng.random() < 0.15:
        body.append("flags dormant")
    for chain in rng.sample(CHAINS, rng.randrange(1, 3)):
        inner = "\n    ".join(_chain_block(rng, chain, chain != "allowed" and rng.random() < 0.8, family))
        body.append(f"chain {chain} {{\n    {inner}\n  }}")
    return f"table {family} {name} {{\n  " + "\n  ".join(body) + "\n}"


def _command(rng: random.Random) -> str:
    family, table, chain = rng.choice(FAMILIES), rng.choice(TABLES), rng.choice(CHAINS)
    pick = rng.choices(range(8), weights=(4, 2, 2, 1, 2, 0.3, 1, 1))[0]
    if pick == 0:
        return f"add table {family} {table}"
    if pick == 1:
        return f"add chain {family} {table} {chain} {{ {_hook(rng, chain)}; policy {rng.choice(('drop', 'accept'))}; }}"
    if pick == 2:
        return f"add chain {family} {table} {chain} {{ policy {rng.choice(('drop', 'accept'))}; }}"
    if pick == 3:
        return f"delete table {family} {table}"
    if pick == 4:
        return rng.choice(("flush ruleset", f"flush ruleset {family}"))
    if pick == 5:
        return f"rename chain {family} {table} {chain} {chain}_r"
    if pick == 6:
        verb = rng.choice(("add", "add", "insert"))
        return f"{verb} rule {family} {table} {chain} {rng.choice(RULES + RULES_OF[family])}"
    return f"add chain {family} {table} {chain}"


def _statements(rng: random.Random, count: int) -> list[str]:
    return [_table_block(rng) if rng.random() < 0.75 else _command(rng) for _ in range(count)]


def generate(rng: random.Random, etc: Path) -> None:
    """One case: /etc/nftables.conf and /etc/nftables.d/ under ``etc``."""
    dropins = etc / "nftables.d"
    dropins.mkdir(parents=True)
    for name in rng.sample(("10-base.nft", "50-local.nft", "90-open.nft", "60-extra.conf", ".hidden.nft"),
                           rng.randrange(4)):
        (dropins / name).write_text("\n".join(_statements(rng, rng.randrange(1, 3))) + "\n")
    main = ["#!/usr/sbin/nft -f", "define SSH = 22"]
    if rng.random() < 0.6:
        main.append("flush ruleset")
    body = _statements(rng, rng.randrange(1, 4))
    include = rng.choice(('include "/etc/nftables.d/*.nft"', 'include "nftables.d/*.nft"',
                          'include "/etc/nftables.d/50-local.nft"', ""))
    if include:
        body.insert(rng.randrange(len(body) + 1), include)
    (etc / "nftables.conf").write_text("\n".join(main + body) + "\n")
    for name in ("services", "protocols"):  # what nft may look names up in
        shutil.copy(f"/etc/{name}", etc / name)


def kind(rule: NftRule) -> str:
    """What the loopback requirement sees in a rule: one of the three it looks for, or other."""
    if accepts_loopback(rule):
        return "accept lo"
    for protocol in ("IPv4", "IPv6"):
        if drops_loopback_source(rule, protocol):
            return f"drop {protocol} loopback source"
    return "other"


def oracle_kind(exprs: list[dict[str, object]]) -> str:
    """The same, from a rule as the kernel holds it (nft -j)."""
    body = [e for e in exprs if "counter" not in e]
    verdict = next(iter(body[-1])) if body else ""
    matches = [e["match"] for e in body[:-1] if "match" in e]
    if len(matches) != len(body) - 1:
        return "other"
    def meta(m: dict[str, object]) -> str:
        left = m["left"]
        return left["meta"]["key"] if isinstance(left, dict) and "meta" in left else ""  # type: ignore[index]
    if verdict == "accept" and len(matches) == 1 and meta(matches[0]) in ("iif", "iifname") \
            and matches[0]["op"] == "==" and matches[0]["right"] == "lo":
        return "accept lo"
    if verdict in ("drop", "reject") and matches:
        if len(matches) == 2 and meta(matches[0]) in ("iif", "iifname") and matches[0]["op"] == "!=" \
                and matches[0]["right"] == "lo":
            matches = matches[1:]
        if len(matches) == 1 and matches[0]["op"] == "==" and "payload" in matches[0]["left"]:
            payload, right = matches[0]["left"]["payload"], matches[0]["right"]
            net = f"{right['prefix']['addr']}/{right['prefix']['len']}" if isinstance(right, dict) else str(right)
            for protocol, (keyword, source) in LOOPBACK_SOURCES.items():
                if payload == {"protocol": keyword, "field": "saddr"} and \
                        ipaddress.ip_network(source).subnet_of(ipaddress.ip_network(net, strict=False)):  # type: ignore[arg-type]
                    return f"drop {protocol} loopback source"
    return "other"


def oracle_rules(ruleset: dict[str, object]) -> dict[tuple[str, str, str], tuple[str, ...]]:
    out: dict[tuple[str, str, str], list[str]] = {}
    for item in ruleset["nftables"]:  # type: ignore[union-attr]
        if "rule" in item:
            r = item["rule"]
            out.setdefault((r["family"], r["table"], r["chain"]), []).append(oracle_kind(r["expr"]))
    return {k: tuple(v) for k, v in out.items()}


def oracle_view(ruleset: dict[str, object]) -> tuple[set[tuple[object, ...]], set[tuple[object, ...]]]:
    tables, chains = set(), set()
    for item in ruleset["nftables"]:  # type: ignore[union-attr]
        if "table" in item:
            t = item["table"]
            tables.add((t["family"], t["name"], "flags" in t))  # 1.0.6 prints dormant as "flags"
        elif "chain" in item:
            c = item["chain"]
            chains.add((c["family"], c["table"], c["name"], c.get("type", ""), c.get("hook", ""), c.get("prio"),
                        c.get("policy", "")))
    return tables, chains


def test_nftables_matches_nft(tmp_path: Path) -> None:
    require("nft")
    rng = random.Random(SEED)
    roots = []
    for number in range(CASES):
        root = tmp_path / f"case{number}"
        generate(rng, root / "etc")
        roots.append(root)
    done = isolated([sys.executable, "-c", BATCH, json.dumps([str(r / "etc") for r in roots])], net=True, timeout=600)
    assert done.returncode == 0, done.stderr
    answers = json.loads(done.stdout)
    disagreements = []
    refused = loaded = unevaluated = 0
    kinds: Counter[str] = Counter()
    for root, answer in zip(roots, answers):
        mine = load(Context(RootfsHost(str(root))), "/etc/nftables.conf")
        if mine.error:  # judged as error, never as a guess
            unevaluated += 1
            continue
        if (answer["rc"] != 0) != bool(mine.refused):
            disagreements.append((root.name, "refused", mine.refused, answer["stderr"]))
            continue
        if mine.refused:
            refused += 1
            continue
        loaded += 1
        tables = {(f, n, d) for f, n, d in mine.tables}
        chains = {(c.family, c.table, c.name, c.type, c.hook, c.priority, c.policy) for c in mine.chains}
        if (tables, chains) != oracle_view(answer["ruleset"]):
            disagreements.append((root.name, (tables, chains), oracle_view(answer["ruleset"])))
        rules = {(c.family, c.table, c.name): tuple(kind(r) for r in c.rules) for c in mine.chains if c.rules}
        kinds.update(k for ks in rules.values() for k in ks)
        if rules != oracle_rules(answer["ruleset"]):
            disagreements.append((root.name, rules, oracle_rules(answer["ruleset"])))
    (tmp_path / "disagreements.txt").write_text("\n\n".join(repr(d) for d in disagreements))
    assert disagreements == [], (len(disagreements), tmp_path / "disagreements.txt")
    # Both outcomes are exercised, not just one.
    assert refused > CASES // 10 and loaded > CASES // 3 and unevaluated < CASES // 10, (refused, loaded, unevaluated)
    assert min(kinds[k] for k in ("accept lo", "drop IPv4 loopback source", "drop IPv6 loopback source")) > 20, kinds

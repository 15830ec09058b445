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

import json
import random
import shutil
import sys
from pathlib import Path

from agent.facts.context import Context
from agent.facts.nftables import load
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
         "tcp dport $SSH accept", "counter drop")

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


def _chain_block(rng: random.Random, chain: str, base: bool) -> list[str]:
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
    lines += rng.sample(RULES, rng.randrange(3))
    return lines


def _table_block(rng: random.Random) -> str:
    family, name = rng.choice(FAMILIES), rng.choice(TABLES)
    body = []
    if rng.random() < 0.15:
        body.append("flags dormant")
    for chain in rng.sample(CHAINS, rng.randrange(1, 3)):
        inner = "\n    ".join(_chain_block(rng, chain, chain != "allowed" and rng.random() < 0.8))
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
        return f"add rule {family} {table} {chain} counter accept"
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
    assert disagreements == [], disagreements[:5]
    # Both outcomes are exercised, not just one.
    assert refused > CASES // 10 and loaded > CASES // 3 and unevaluated < CASES // 10, (refused, loaded, unevaluated)

"""nftables: the ruleset nftables.service loads gives a hook a default policy, for IPv4 and IPv6.

``path`` lists the file the service loads on each distribution (``/etc/nftables.conf``,
``/etc/sysconfig/nftables.conf``): the first that exists is judged. A packet passes every base
chain registered on its hook; one that drops by default drops what no rule accepted. So IPv4
needs such a chain in an ``ip`` or ``inet`` table, IPv6 in an ``ip6`` or ``inet`` table; a
chain of a dormant table registers no hook. A file nft refuses loads nothing, and fails.

Other aspects of the same ruleset, one per spec: ``table: exists`` (at least one table is
loaded); ``base_chains: [input, forward, output]`` (IPv4 and IPv6 packets each meet a base
chain on every listed hook); ``loopback: true`` (an input base chain accepts what arrives on
``lo``, ``iif "lo" accept``, and drops packets from another interface claiming a loopback source,
``ip saddr 127.0.0.0/8 drop`` and ``ip6 saddr ::1 drop``; counters, comments and an
``iif != "lo"`` condition are allowed around them).
"""
from __future__ import annotations

import ipaddress
from typing import Any, Mapping

from checks.facts import FactKey, Facts, NftChain, NftRule, NftRuleset
from checks.model import Evidence, Outcome, Status, Verdict

PROTOCOLS = {"IPv4": ("ip", "inet"), "IPv6": ("ip6", "inet")}


def paths(params: Mapping[str, Any]) -> list[str]:
    raw = params["path"]
    return [raw] if isinstance(raw, str) else list(raw)


def hooked(ruleset: NftRuleset, hook: str, families: tuple[str, ...]) -> list[NftChain]:
    """The base chains a packet of those families meets on ``hook``, in priority order."""
    found = [c for c in ruleset.chains if c.hook == hook and c.family in families and not c.dormant]
    return sorted(found, key=lambda c: c.priority or 0)


LOOPBACK_SOURCES = {"IPv4": ("ip", "127.0.0.0/8"), "IPv6": ("ip6", "::1/128")}


def plain(words: tuple[str, ...]) -> list[str]:
    """A rule's words without what decides nothing: counters, comments, a leading ``meta``."""
    out: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        if word == "counter":
            i += 1
            if words[i:i + 1] == ("packets",):
                i += 4  # counter packets N bytes M
            continue
        if word == "comment":
            i += 2
            continue
        if word != "meta":
            out.append(word)
        i += 1
    return out


def accepts_loopback(rule: NftRule) -> bool:
    w = [x for x in plain(rule.words) if x != "=="]
    return w in (["iif", "lo", "accept"], ["iifname", "lo", "accept"])


def drops_loopback_source(rule: NftRule, protocol: str) -> bool:
    keyword, loopback = LOOPBACK_SOURCES[protocol]
    w = plain(rule.words)
    if w[:3] in (["iif", "!=", "lo"], ["iifname", "!=", "lo"]):
        w = w[3:]
    w = [x for x in w if x != "=="]
    if len(w) != 4 or w[:2] != [keyword, "saddr"] or w[3] not in ("drop", "reject"):
        return False
    try:
        return ipaddress.ip_network(loopback).subnet_of(ipaddress.ip_network(w[2], strict=False))  # type: ignore[arg-type]
    except (ValueError, TypeError):
        return False


class NftablesCheck:
    name = "nftables"
    schema: Mapping[str, Any] = {
        "type": "object",
        "properties": {
            "type": {"const": "nftables"},
            "path": {"type": ["string", "array"], "pattern": "^/", "minItems": 1,
                     "items": {"type": "string", "pattern": "^/"}},
            "hook": {"enum": ["prerouting", "input", "forward", "output", "postrouting"]},
            "policy": {"enum": ["drop"]},
            "table": {"const": "exists"},
            "base_chains": {"type": "array", "minItems": 1,
                            "items": {"enum": ["prerouting", "input", "forward", "output", "postrouting"]}},
            "loopback": {"const": True},
        },
        "required": ["type", "path"],
        "oneOf": [{"required": ["hook", "policy"]}, {"required": ["table"]}, {"required": ["base_chains"]},
                  {"required": ["loopback"]}],
        "additionalProperties": False,
    }

    def needs(self, params: Mapping[str, Any]) -> set[FactKey]:
        return {FactKey("nftables", p) for p in paths(params)}

    def evaluate(self, params: Mapping[str, Any], facts: Facts) -> Outcome:
        rulesets = [facts.need(FactKey("nftables", p)) for p in paths(params)]
        ruleset = next((r for r in rulesets if isinstance(r, NftRuleset) and r.exists), None)
        hook, policy = params.get("hook", ""), params.get("policy", "")
        expected = f"a base chain on hook {hook} with policy {policy}"
        if "table" in params:
            expected = "a table"
        elif "base_chains" in params:
            expected = "base chains on hooks " + ", ".join(params["base_chains"])
        elif "loopback" in params:
            expected = "loopback traffic accepted, loopback sources from elsewhere dropped"
        names = " or ".join(paths(params))
        if ruleset is None:
            return Outcome(Status.FAIL, (Evidence(expected, "no ruleset file: nothing is loaded", names),))
        if ruleset.error:
            return Outcome(Status.ERROR, (Evidence(expected, "not evaluated", ruleset.path),), ruleset.error)
        if ruleset.refused:
            return Outcome(Status.FAIL, (Evidence(expected, f"nft refuses the file, nothing is loaded: {ruleset.refused}",
                                                  ruleset.path),))
        if "table" in params:
            return self.tables(ruleset)
        if "base_chains" in params:
            return self.base_chains(ruleset, params["base_chains"])
        if "loopback" in params:
            return self.loopback(ruleset)
        ok = True
        evidence: list[Evidence] = []
        for protocol, families in PROTOCOLS.items():
            chains = hooked(ruleset, hook, families)
            dropping = [c for c in chains if c.policy == policy]
            ok &= bool(dropping)
            if not chains:
                evidence.append(Evidence(f"{protocol}: {expected}", "no base chain on that hook: accept",
                                         ", ".join(ruleset.files)))
            for chain in dropping or chains:
                evidence.append(Evidence(f"{protocol}: {expected}",
                                         f"{chain.family} {chain.table} {chain.name}: policy {chain.policy}",
                                         chain.where))
        return Outcome.of(ok, evidence)

    def tables(self, ruleset: NftRuleset) -> Outcome:
        files = ", ".join(ruleset.files)
        if not ruleset.tables:
            return Outcome(Status.FAIL, (Evidence("a table", "no table is loaded", files),))
        shown = ", ".join(f"{f} {n}" + (" (dormant)" if d else "") for f, n, d in ruleset.tables)
        return Outcome(Status.PASS, (Evidence("a table", shown, files),))

    def base_chains(self, ruleset: NftRuleset, hooks: list[str]) -> Outcome:
        ok = True
        evidence: list[Evidence] = []
        for hook in hooks:
            for protocol, families in PROTOCOLS.items():
                chains = hooked(ruleset, hook, families)
                ok &= bool(chains)
                expected = f"{protocol}: a base chain on hook {hook}"
                if not chains:
                    evidence.append(Evidence(expected, "none", ", ".join(ruleset.files), Verdict.VIOLATION))
                for chain in chains:
                    evidence.append(Evidence(expected, f"{chain.family} {chain.table} {chain.name}", chain.where,
                                             Verdict.OK))
        return Outcome.of(ok, evidence)

    def loopback(self, ruleset: NftRuleset) -> Outcome:
        ok = True
        evidence: list[Evidence] = []
        for protocol, families in PROTOCOLS.items():
            chains = hooked(ruleset, "input", families)
            keyword, source = LOOPBACK_SOURCES[protocol]
            wanted = ((f'{protocol}: iif "lo" accept', accepts_loopback),
                      (f"{protocol}: {keyword} saddr {source} drop", lambda r, p=protocol: drops_loopback_source(r, p)))
            for expected, test in wanted:
                hits = [(c, r) for c in chains for r in c.rules if c.family in families and test(r)]
                ok &= bool(hits)
                if hits:
                    chain, rule = hits[0]
                    evidence.append(Evidence(expected, f"{chain.family} {chain.table} {chain.name}: {' '.join(rule.words)}",
                                             rule.where, Verdict.OK))
                else:
                    where = ", ".join(f"{c.family} {c.table} {c.name}" for c in chains) or "no input base chain"
                    evidence.append(Evidence(expected, f"no such rule ({where})", ", ".join(ruleset.files),
                                             Verdict.VIOLATION))
        return Outcome.of(ok, evidence)


CHECK = NftablesCheck()

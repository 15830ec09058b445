"""nftables: the ruleset nftables.service loads gives a hook a default policy, for IPv4 and IPv6.

``path`` lists the file the service loads on each distribution (``/etc/nftables.conf``,
``/etc/sysconfig/nftables.conf``): the first that exists is judged. A packet passes every base
chain registered on its hook; one that drops by default drops what no rule accepted. So IPv4
needs such a chain in an ``ip`` or ``inet`` table, IPv6 in an ``ip6`` or ``inet`` table; a
chain of a dormant table registers no hook. A file nft refuses loads nothing, and fails.
"""
from __future__ import annotations

from typing import Any, Mapping

from checks.facts import FactKey, Facts, NftChain, NftRuleset
from checks.model import Evidence, Outcome, Status

PROTOCOLS = {"IPv4": ("ip", "inet"), "IPv6": ("ip6", "inet")}


def paths(params: Mapping[str, Any]) -> list[str]:
    raw = params["path"]
    return [raw] if isinstance(raw, str) else list(raw)


def hooked(ruleset: NftRuleset, hook: str, families: tuple[str, ...]) -> list[NftChain]:
    """The base chains a packet of those families meets on ``hook``, in priority order."""
    found = [c for c in ruleset.chains if c.hook == hook and c.family in families and not c.dormant]
    return sorted(found, key=lambda c: c.priority or 0)


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
        },
        "required": ["type", "path", "hook", "policy"],
        "additionalProperties": False,
    }

    def needs(self, params: Mapping[str, Any]) -> set[FactKey]:
        return {FactKey("nftables", p) for p in paths(params)}

    def evaluate(self, params: Mapping[str, Any], facts: Facts) -> Outcome:
        rulesets = [facts.need(FactKey("nftables", p)) for p in paths(params)]
        ruleset = next((r for r in rulesets if isinstance(r, NftRuleset) and r.exists), None)
        hook, policy = params["hook"], params["policy"]
        expected = f"a base chain on hook {hook} with policy {policy}"
        names = " or ".join(paths(params))
        if ruleset is None:
            return Outcome(Status.FAIL, (Evidence(expected, "no ruleset file: nothing is loaded", names),))
        if ruleset.error:
            return Outcome(Status.ERROR, (Evidence(expected, "not evaluated", ruleset.path),), ruleset.error)
        if ruleset.refused:
            return Outcome(Status.FAIL, (Evidence(expected, f"nft refuses the file, nothing is loaded: {ruleset.refused}",
                                                  ruleset.path),))
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


CHECK = NftablesCheck()

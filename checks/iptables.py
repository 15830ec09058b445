"""iptables: what an iptables-restore file (iptables-persistent's rules.v4/rules.v6, ufw's
user.rules/user6.rules) makes the kernel do, as its loader reads it (agent.facts.iptables).

One aspect per spec:

- ``default_drop: [INPUT, FORWARD, OUTPUT]``: each built-in chain of the filter table drops
  what no rule accepted (policy DROP). A chain the file does not declare keeps the kernel's
  ACCEPT; a file iptables-restore refuses loads nothing, so every policy stays ACCEPT.
- ``loopback: {input: CHAIN, output: CHAIN, source: NETWORK}``: the input chain accepts
  everything that arrives on ``lo`` (``-i lo -j ACCEPT``), the output chain everything sent
  on it (``-o lo -j ACCEPT``), and the input chain drops (or rejects) packets claiming the
  loopback source ``NETWORK`` (``-s 127.0.0.0/8 -j DROP``; ``::1`` for IPv6), with nothing but
  ``! -i lo`` narrowing it. Rules are read as iptables stores them (``--in-interface`` is
  ``-i``, ``127.0.0.1/8`` is ``127.0.0.0/8``).
- ``open_ports: CHAIN``: every socket listening on a non-loopback address (a running host's
  socket table) has a rule in CHAIN for its protocol and port (``-p tcp --dport 22``,
  multiport ``--dports``, ranges); an image has no listeners to judge (not applicable).
  ``family: ipv4`` judges IPv4 sockets and IPv6 wildcard ones (they take IPv4 too), ``ipv6``
  IPv6 sockets only.
"""
from __future__ import annotations

import ipaddress
from typing import Any, Mapping

from checks.facts import FactKey, Facts, IptRule, IptRuleset, Socket
from checks.listening import LOOPBACK, exposure
from checks.model import Evidence, Outcome, Status, Verdict
from checks.record import record

SOCKETS = FactKey("sockets")
PROTOCOLS = {"tcp": "tcp", "6": "tcp", "udp": "udp", "17": "udp"}
# Matches that narrow nothing: a comment, and the protocol modules -p loads itself.
NEUTRAL_MATCHES = {"comment", "tcp", "udp", "multiport"}
# Options that change neither which packets a rule takes nor its verdict.
OPTIONS_DECIDING_NOTHING = ("--comment", "--reject-with", "--log-prefix", "--log-level")
OPTION_NAMES = {
    "-i": "in", "--in-interface": "in", "-o": "out", "--out-interface": "out",
    "-s": "source", "--source": "source", "--src": "source",
    "-d": "destination", "--destination": "destination", "--dst": "destination",
    "-p": "proto", "--protocol": "proto", "-j": "target", "--jump": "target", "-g": "goto", "--goto": "goto",
    "--dport": "dports", "--destination-port": "dports", "--dports": "dports", "--destination-ports": "dports",
    "--ports": "ports",
}


@record
class Match:
    """One rule as iptables stores it (a comma list of addresses is one rule per address)."""

    in_iface: str = ""
    in_negated: bool = False
    out_iface: str = ""
    out_negated: bool = False
    source: str = ""  # a network, normalized (127.0.0.0/8); "" for any
    source_negated: bool = False
    proto: str = ""
    dports: tuple[tuple[int, int], ...] = ()  # inclusive ranges
    target: str = ""
    other: tuple[str, ...] = ()  # any other condition (a match module or option not listed above)

    @property
    def only(self) -> set[str]:
        """Which conditions the rule has."""
        found = {name for name, value in (("in", self.in_iface), ("out", self.out_iface), ("source", self.source),
                                          ("proto", self.proto), ("dports", self.dports)) if value}
        return found | ({"other"} if self.other else set())


def network(text: str) -> str:
    """``127.0.0.1/8`` -> ``127.0.0.0/8``, ``::1`` -> ``::1/128``, a mask as a prefix; a host
    name stays as written (iptables would resolve it)."""
    try:
        if "/" in text:
            address, _, mask = text.partition("/")
            if "." in mask or (":" in mask):
                prefix = ipaddress.ip_network(f"0.0.0.0/{mask}" if "." in mask else f"::/{mask}").prefixlen
                text = f"{address}/{prefix}"
        net = ipaddress.ip_network(text, strict=False)
        return "" if net.prefixlen == 0 else str(net)  # iptables stores 0.0.0.0/0 as no condition
    except ValueError:
        return text


def ports(text: str) -> tuple[tuple[int, int], ...]:
    out = []
    for part in text.split(","):
        low, sep, high = part.partition(":")
        try:
            start = int(low) if low else 0
            end = int(high) if high else (65535 if sep else start)
        except ValueError:
            return ((-1, -1),)  # a service name: iptables resolves it; never matches a number here
        out.append((start, end))
    return tuple(out)


def matches(rule: IptRule) -> list[Match]:
    """The rule as iptables stores it: one Match per source/destination address of a comma list."""
    values: dict[str, str] = {}
    negated: set[str] = set()
    other: list[str] = []
    args = list(rule.args)
    i, negate = 0, False
    while i < len(args):
        word = args[i]
        if word == "!":
            negate = True
            i += 1
            continue
        name = OPTION_NAMES.get(word)
        value = args[i + 1] if i + 1 < len(args) else ""
        if word in ("-m", "--match"):
            if value not in NEUTRAL_MATCHES:
                other.append(f"-m {value}")
            i += 2
        elif name is not None:
            values[name] = value
            if negate:
                negated.add(name)
            i += 2
        elif word.startswith("-"):
            # an option of a match or target module, with its argument(s) up to the next option
            j = i + 1
            while j < len(args) and not args[j].startswith("-") and args[j] != "!":
                j += 1
            if word not in OPTIONS_DECIDING_NOTHING:
                other.append(" ".join(args[i:j]))
            i = j
        else:
            other.append(word)
            i += 1
        negate = False
    if "goto" in values:
        other.append(f"-g {values['goto']}")
    if "dports" in negated or "ports" in values:
        other.append("port negation or --ports")
    proto = values.get("proto", "").lower()
    base = Match(
        in_iface=values.get("in", ""), in_negated="in" in negated,
        out_iface=values.get("out", ""), out_negated="out" in negated,
        source_negated="source" in negated,
        proto=PROTOCOLS.get(proto, proto) if proto not in ("all", "0") else "",
        dports=ports(values["dports"]) if "dports" in values and "dports" not in negated else (),
        target=values.get("target", ""),
        other=tuple(other) + (("-d",) if "destination" in values else ()) + (("! -p",) if "proto" in negated else ()),
    )
    sources = values.get("source", "").split(",") if values.get("source") else [""]
    return [Match(**{**base.__dict__, "source": network(s) if s else "",
                     "source_negated": base.source_negated and bool(network(s))}) for s in sources]


def loopback_in(m: Match) -> bool:
    return m.target == "ACCEPT" and m.only == {"in"} and m.in_iface == "lo" and not m.in_negated


def loopback_out(m: Match) -> bool:
    return m.target == "ACCEPT" and m.only == {"out"} and m.out_iface == "lo" and not m.out_negated


def loopback_source_dropped(m: Match, source: str) -> bool:
    """A rule dropping the loopback network arriving on any interface but lo."""
    if m.target not in ("DROP", "REJECT") or m.source_negated or not m.source:
        return False
    if m.only - {"in", "source"} or (m.in_iface and not (m.in_iface == "lo" and m.in_negated)):
        return False
    try:
        return ipaddress.ip_network(source).subnet_of(ipaddress.ip_network(m.source))  # type: ignore[arg-type]
    except (ValueError, TypeError):
        return False


def governs(m: Match, proto: str, port: int) -> bool:
    """A rule that decides packets to this protocol and port (accept, drop or reject)."""
    return (m.target in ("ACCEPT", "DROP", "REJECT") and m.proto == proto
            and any(lo <= port <= hi for lo, hi in m.dports))


class IptablesCheck:
    name = "iptables"
    schema: Mapping[str, Any] = {
        "type": "object",
        "properties": {
            "type": {"const": "iptables"},
            "path": {"type": "string", "pattern": "^/"},
            "default_drop": {"type": "array", "minItems": 1, "items": {"enum": ["INPUT", "FORWARD", "OUTPUT"]}},
            "loopback": {
                "type": "object",
                "properties": {"input": {"type": "string"}, "output": {"type": "string"},
                               "source": {"enum": ["127.0.0.0/8", "::1/128"]}},
                "required": ["input", "output", "source"],
                "additionalProperties": False,
            },
            "open_ports": {"type": "string", "minLength": 1},
            # with open_ports: the sockets whose packets this file filters (an IPv6 wildcard
            # socket takes IPv4 too)
            "family": {"enum": ["ipv4", "ipv6"]},
        },
        "required": ["type", "path"],
        "oneOf": [{"required": ["default_drop"]}, {"required": ["loopback"]}, {"required": ["open_ports"]}],
        "additionalProperties": False,
    }

    def needs(self, params: Mapping[str, Any]) -> set[FactKey]:
        keys = {FactKey("iptables", params["path"])}
        return keys | ({SOCKETS} if "open_ports" in params else set())

    def evaluate(self, params: Mapping[str, Any], facts: Facts) -> Outcome:
        ruleset = facts.need(FactKey("iptables", params["path"]))
        assert isinstance(ruleset, IptRuleset)
        if ruleset.error:
            return Outcome(Status.ERROR, (Evidence("evaluated", "not evaluated", ruleset.path),), ruleset.error)
        if "default_drop" in params:
            return self.policies(params["default_drop"], ruleset)
        if "loopback" in params:
            return self.loopback(params["loopback"], ruleset)
        return self.open_ports(params["open_ports"], ruleset, facts, params.get("family", ""))

    def loaded(self, ruleset: IptRuleset) -> str:
        """Why nothing is loaded, or ""."""
        if not ruleset.exists:
            return f"{ruleset.path} does not exist: nothing is loaded"
        if ruleset.refused:
            return f"iptables-restore refuses the file, nothing is loaded: {ruleset.refused}"
        return ""

    def policies(self, wanted: list[str], ruleset: IptRuleset) -> Outcome:
        evidence = []
        ok = True
        nothing = self.loaded(ruleset)
        for name in wanted:
            chain = None if nothing else ruleset.chain(name)
            policy = chain.policy if chain else "ACCEPT"
            where = (chain.where if chain and chain.where else ruleset.path)
            actual = f"{name} policy {policy}" + (f" ({nothing})" if nothing else "" if chain and chain.where
                                                    else " (the kernel's default: the file does not set it)")
            ok &= policy == "DROP"
            evidence.append(Evidence(f"{name} policy DROP", actual, where, Verdict.of(policy == "DROP")))
        return Outcome.of(ok, evidence)

    def loopback(self, spec: Mapping[str, str], ruleset: IptRuleset) -> Outcome:
        nothing = self.loaded(ruleset)
        wanted = (
            (spec["input"], f"-A {spec['input']} -i lo -j ACCEPT", loopback_in),
            (spec["output"], f"-A {spec['output']} -o lo -j ACCEPT", loopback_out),
            (spec["input"], f"-A {spec['input']} -s {spec['source']} -j DROP",
             lambda m: loopback_source_dropped(m, spec["source"])),
        )
        evidence = []
        ok = True
        for chain_name, expected, test in wanted:
            chain = None if nothing else ruleset.chain(chain_name)
            hit = next((r for r in (chain.rules if chain else ()) if any(test(m) for m in matches(r))), None)
            ok &= hit is not None
            if hit is not None:
                evidence.append(Evidence(expected, f"-A {hit.chain} {' '.join(hit.args)}", hit.where, Verdict.OK))
            else:
                why = nothing or (f"no such rule in {chain_name}" if chain else f"no chain {chain_name}")
                evidence.append(Evidence(expected, why, ruleset.path, Verdict.VIOLATION))
        return Outcome.of(ok, evidence)

    def open_ports(self, chain_name: str, ruleset: IptRuleset, facts: Facts, family: str) -> Outcome:
        notes: list[str] = []
        sockets = facts.runtime(SOCKETS, notes, "listening ports")
        if not isinstance(sockets, tuple):
            return Outcome(Status.NOT_APPLICABLE, (Evidence("a rule for each open port", "no socket table",
                                                            "sockets", Verdict.INFO),),
                           "; ".join(notes) + " (an image has no open ports; its rules are judged when it runs)")
        nothing = self.loaded(ruleset)
        chain = None if nothing else ruleset.chain(chain_name)
        rules = [(r, m) for r in (chain.rules if chain else ()) for m in matches(r)]
        evidence = []
        ok = True
        seen: set[tuple[str, int]] = set()
        for sock in sockets:
            assert isinstance(sock, Socket)
            proto = sock.proto.rstrip("6")
            if proto not in ("tcp", "udp") or (proto, sock.port) in seen:
                continue
            if exposure(sock.address) == LOOPBACK:
                continue
            v6 = sock.proto.endswith("6")
            if (family == "ipv6" and not v6) or (family == "ipv4" and v6 and sock.address not in ("::", "*")):
                continue
            seen.add((proto, sock.port))
            hit = next((r for r, m in rules if governs(m, proto, sock.port)), None)
            who = f" ({sock.process})" if sock.process else ""
            expected = f"a rule in {chain_name} for {proto}/{sock.port}"
            if hit is None:
                ok = False
                why = nothing or f"{proto}/{sock.port} open on {sock.address}{who}, no rule for it"
                evidence.append(Evidence(expected, why, ruleset.path, Verdict.VIOLATION))
            else:
                evidence.append(Evidence(expected, f"-A {hit.chain} {' '.join(hit.args)}", hit.where, Verdict.OK))
        if not seen:
            return Outcome(Status.PASS, (Evidence("a rule for each open port", "no port open on a non-loopback address",
                                                  "sockets"),))
        return Outcome.of(ok, evidence)


CHECK = IptablesCheck()

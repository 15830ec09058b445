"""The check types of the firewall, wireless and GNOME requirements judged on facts built in the
test: iptables (policies, loopback, open ports), nftables (tables, base chains, loopback), dconf
(value and lock through a profile's databases) and wireless."""
from __future__ import annotations

from typing import Any

import pytest

from checks import evaluate
from checks.facts import (
    DconfProfile, DconfSource, DconfValue, FactKey, Facts, IptChain, IptRule, IptRuleset, NftChain, NftRule,
    NftRuleset, Socket, Unavailable,
)
from checks.iptables import matches
from checks.model import Status

V4 = "/etc/iptables/rules.v4"


def judge(spec: dict[str, Any], values: dict[FactKey, object]) -> Status:
    return evaluate(spec, Facts(values)).status


def rules(*lines: str, policies: str = "DROP") -> IptRuleset:
    by_chain: dict[str, list[IptRule]] = {"INPUT": [], "FORWARD": [], "OUTPUT": []}
    for number, line in enumerate(lines, 1):
        chain, *args = line.split()
        by_chain[chain].append(IptRule(chain, tuple(args), f"{V4}:{number}"))
    return IptRuleset(V4, True, tuple(IptChain("filter", name, policies, tuple(r), f"{V4}:1")
                                      for name, r in by_chain.items()))


def test_iptables_default_drop() -> None:
    spec = {"type": "iptables", "path": V4, "default_drop": ["INPUT", "FORWARD", "OUTPUT"]}
    assert judge(spec, {FactKey("iptables", V4): rules()}) is Status.PASS
    assert judge(spec, {FactKey("iptables", V4): rules(policies="ACCEPT")}) is Status.FAIL
    assert judge(spec, {FactKey("iptables", V4): IptRuleset(V4, False)}) is Status.FAIL
    assert judge(spec, {FactKey("iptables", V4): IptRuleset(V4, True, refused="line 3: COMMIT expected")}) is Status.FAIL
    assert judge(spec, {FactKey("iptables", V4): IptRuleset(V4, True, error="not evaluated: -D")}) is Status.ERROR
    assert judge(spec, {FactKey("iptables", V4): Unavailable("permission denied")}) is Status.ERROR


@pytest.mark.parametrize(
    ("lines", "status"),
    [
        (("INPUT -i lo -j ACCEPT", "OUTPUT -o lo -j ACCEPT", "INPUT -s 127.0.0.0/8 -j DROP"), Status.PASS),
        (("INPUT --in-interface lo --jump ACCEPT", "OUTPUT -o lo -j ACCEPT", "INPUT ! -i lo -s 127.0.0.1/8 -j REJECT"),
         Status.PASS),
        (("INPUT -i lo -j ACCEPT", "OUTPUT -o lo -j ACCEPT", "INPUT -s 127.0.0.0/255.0.0.0 -j DROP"), Status.PASS),
        (("INPUT -i lo -j ACCEPT", "OUTPUT -o lo -j ACCEPT"), Status.FAIL),
        (("INPUT -i lo -p tcp -j ACCEPT", "OUTPUT -o lo -j ACCEPT", "INPUT -s 127.0.0.0/8 -j DROP"), Status.FAIL),
        (("INPUT -i lo -j ACCEPT", "OUTPUT -o lo -j ACCEPT", "INPUT -s 127.0.0.0/16 -j DROP"), Status.FAIL),
        (("INPUT -i lo -j ACCEPT", "OUTPUT -o lo -j ACCEPT", "INPUT ! -s 127.0.0.0/8 -j DROP"), Status.FAIL),
    ],
)
def test_iptables_loopback(lines: tuple[str, ...], status: Status) -> None:
    spec = {"type": "iptables", "path": V4, "loopback": {"input": "INPUT", "output": "OUTPUT", "source": "127.0.0.0/8"}}
    assert judge(spec, {FactKey("iptables", V4): rules(*lines)}) is status


def test_iptables_rule_reading() -> None:
    rule = IptRule("INPUT", ("-s", "10.0.0.0/8,127.0.0.1", "-p", "6", "-m", "multiport", "--dports", "22,80:90",
                             "-j", "ACCEPT"), "x:1")
    found = matches(rule)
    assert [m.source for m in found] == ["10.0.0.0/8", "127.0.0.1/32"]
    assert found[0].proto == "tcp" and found[0].dports == ((22, 22), (80, 90)) and not found[0].other


def test_iptables_open_ports() -> None:
    spec = {"type": "iptables", "path": V4, "open_ports": "INPUT", "family": "ipv4"}
    ruleset = rules("INPUT -p tcp -m tcp --dport 22 -j ACCEPT", "INPUT -p udp --dport 100:200 -j DROP")
    listening = (Socket("tcp", "0.0.0.0", 22), Socket("udp", "10.0.0.5", 123), Socket("tcp", "127.0.0.1", 25),
                 Socket("tcp6", "2001:db8::1", 8443))
    key = FactKey("iptables", V4)
    assert judge(spec, {key: ruleset, FactKey("sockets"): listening}) is Status.PASS
    assert judge(spec, {key: ruleset, FactKey("sockets"): (Socket("tcp6", "::", 8080),)}) is Status.FAIL
    image = Unavailable("sockets exist only on a running system", not_applicable=True)
    assert judge(spec, {key: ruleset, FactKey("sockets"): image}) is Status.NOT_APPLICABLE


NFT = "/etc/nftables.conf"


def nft(*chains: NftChain) -> NftRuleset:
    return NftRuleset(NFT, True, chains, tuple({(c.family, c.table, False) for c in chains}), (NFT,))


def base(hook: str, *words: str, family: str = "inet") -> NftChain:
    return NftChain(family, "filter", hook, "filter", hook, 0, "drop", f"{NFT}:1",
                    rules=tuple(NftRule(tuple(w.split()), f"{NFT}:2") for w in words))


def test_nftables_table_and_base_chains() -> None:
    key = FactKey("nftables", NFT)
    tables = {"type": "nftables", "path": NFT, "table": "exists"}
    chains = {"type": "nftables", "path": NFT, "base_chains": ["input", "forward", "output"]}
    assert judge(tables, {key: nft(base("input"))}) is Status.PASS
    assert judge(tables, {key: nft()}) is Status.FAIL
    assert judge(chains, {key: nft(base("input"), base("forward"), base("output"))}) is Status.PASS
    assert judge(chains, {key: nft(base("input"), base("forward"))}) is Status.FAIL
    ipv4_only = nft(*(base(h, family="ip") for h in ("input", "forward", "output")))
    assert judge(chains, {key: ipv4_only}) is Status.FAIL


def test_nftables_loopback() -> None:
    key = FactKey("nftables", NFT)
    spec = {"type": "nftables", "path": NFT, "loopback": True}
    good = base("input", "iif lo accept", "ip saddr 127.0.0.0/8 counter drop", "ip6 saddr ::1 counter drop")
    assert judge(spec, {key: nft(good)}) is Status.PASS
    assert judge(spec, {key: nft(base("input", "iif lo accept", "ip saddr 127.0.0.0/8 drop"))}) is Status.FAIL
    output = NftChain("inet", "filter", "out", "filter", "output", 0, "drop", "", rules=good.rules)
    assert judge(spec, {key: nft(output)}) is Status.FAIL


def profile(values: dict[str, str], locks: tuple[str, ...] = ()) -> DconfProfile:
    system = DconfSource("system-db", "local", True, {k: DconfValue(v, f"/etc/dconf/db/local.d/00:{i}")
                                                     for i, (k, v) in enumerate(values.items(), 1)},
                         {k: "/etc/dconf/db/local.d/locks/00:1" for k in locks})
    return DconfProfile("user", "/etc/dconf/profile/user", (DconfSource("user-db", "user", False), system))


def test_dconf_value_and_lock() -> None:
    key = FactKey("dconf", "user")
    delay = "/org/gnome/desktop/session/idle-delay"
    spec = {"type": "dconf", "profile": "user", "key": delay, "at_least": 1, "at_most": 900, "locked": True}
    assert judge(spec, {key: profile({delay: "uint32 900"}, (delay,))}) is Status.PASS
    assert judge(spec, {key: profile({delay: "uint32 900"})}) is Status.FAIL
    assert judge(spec, {key: profile({delay: "uint32 0"}, (delay,))}) is Status.FAIL
    assert judge(spec, {key: profile({}, (delay,))}) is Status.FAIL
    assert judge(spec, {key: DconfProfile("user", "")}) is Status.FAIL


def test_wireless() -> None:
    spec = {"type": "wireless", "state": "down"}
    key = FactKey("wireless")
    assert judge(spec, {key: ()}) is Status.PASS
    assert judge(spec, {key: (("wlan0", "down"),)}) is Status.PASS
    assert judge(spec, {key: (("wlan0", "up"),)}) is Status.FAIL
    assert judge(spec, {key: Unavailable("an image", not_applicable=True)}) is Status.NOT_APPLICABLE

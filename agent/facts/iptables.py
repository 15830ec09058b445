"""The rules an iptables-restore file loads, read as ``iptables-restore`` reads it.

Who loads these files: iptables-persistent's netfilter-persistent plugins run
``iptables-restore --test < /etc/iptables/rules.v4`` (``ip6tables-restore`` for rules.v6) and
load nothing when the test fails; ufw's ufw-init loads /etc/ufw/user.rules and user6.rules the
same way. The format (iptables-restore(8), xtables-restore.c of iptables 1.8): a line whose first
character is ``#`` is a comment; ``*TABLE`` opens a table (filter, nat, mangle, raw, security),
which is flushed and loaded again at its ``COMMIT``; ``:CHAIN POLICY [packets:bytes]`` declares
a chain (a built-in one takes ``ACCEPT`` or ``DROP``, a user-defined one is created); every
other line is one iptables command for that table, its words split as ``add_param_to_argv``
does (blanks separate words, ``"`` quotes a word, ``\\`` escapes a character inside quotes; a
``#`` later on a line is a word, which iptables refuses). Commands modelled: ``-A``, ``-I``,
``-N``, ``-P``, ``-F`` with their long forms; anything else is not evaluated (an error, never
a guess). Whether a rule's matches and options are valid is not modelled (iptables refuses the
whole file for one bad option): rules are judged as written.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from agent.facts.context import Context, each_path
from agent.hosts.base import NotFound
from checks.facts import IptChain, IptRule, IptRuleset

BUILTIN = {
    "filter": ("INPUT", "FORWARD", "OUTPUT"),
    "nat": ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"),
    "mangle": ("PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"),
    "raw": ("PREROUTING", "OUTPUT"),
    "security": ("INPUT", "FORWARD", "OUTPUT"),
}
POLICIES = ("ACCEPT", "DROP")
# Targets iptables knows besides user-defined chains (the standard verdicts and the target
# extensions of iptables 1.8); a jump to anything else names a chain, which must exist.
TARGETS = {"ACCEPT", "DROP", "RETURN", "QUEUE", "NFQUEUE", "REJECT", "LOG", "NFLOG", "ULOG", "MARK", "CONNMARK",
           "MASQUERADE", "SNAT", "DNAT", "REDIRECT", "NETMAP", "CT", "NOTRACK", "TCPMSS", "TRACE", "AUDIT",
           "CLASSIFY", "DSCP", "TOS", "TTL", "HL", "CHECKSUM", "SET", "TEE", "SYNPROXY", "TPROXY", "SECMARK",
           "CONNSECMARK", "IDLETIMER", "LED", "RATEEST", "HMARK", "CLUSTERIP", "ECN", "TCPOPTSTRIP"}
COMMANDS = {"-A": "append", "--append": "append", "-I": "insert", "--insert": "insert", "-N": "new",
            "--new-chain": "new", "--new": "new", "-P": "policy", "--policy": "policy", "-F": "flush",
            "--flush": "flush"}


class Refused(Exception):
    """iptables-restore rejects the file: its loaders then load nothing."""


class Unsupported(Exception):
    """A command this model does not evaluate."""


def words(line: str, where: str) -> list[str]:
    """A command line split as xtables' add_param_to_argv splits it."""
    out: list[str] = []
    current: list[str] = []
    quoted = in_quote = escaped = False
    for c in line:
        if in_quote:
            if escaped:
                current.append(c)
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == '"':
                in_quote = False
            else:
                current.append(c)
            continue
        if c == '"':
            in_quote = quoted = True
        elif c in " \t\n":
            if current or quoted:
                out.append("".join(current))
            current, quoted = [], False
        else:
            current.append(c)
    if in_quote:
        raise Refused(f"{where}: unterminated quote")
    if current or quoted:
        out.append("".join(current))
    for word in out:
        if (word.startswith("-") and not word.startswith("--") and "t" in word) or \
                (len(word) > 2 and word.startswith("--t") and "--table".startswith(word)):
            raise Refused(f"{where}: the -t option cannot be used in iptables-restore")
    return out


@dataclass
class _Chain:
    """A chain as iptables-save lists it, while its table is read."""

    policy: str
    rules: list[IptRule] = field(default_factory=list)
    where: str = ""


def _fresh(table: str) -> dict[str, _Chain]:
    return {name: _Chain("ACCEPT") for name in BUILTIN[table]}


def parse(text: str, path: str) -> IptRuleset:
    """The chains ``iptables-restore`` commits from ``text``; refused or unevaluated files
    load nothing."""
    committed: dict[str, dict[str, _Chain]] = {}
    table = ""
    chains: dict[str, _Chain] = {}
    try:
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        for number, raw in enumerate(lines, 1):
            where = f"{path}:{number}"
            if raw == "" or raw.startswith("#"):
                continue
            if raw.startswith("*"):
                if table:
                    raise Refused(f"{where}: COMMIT expected before a new table")
                table = raw[1:].strip()
                if table not in BUILTIN:
                    raise Refused(f"{where}: table name {table!r} invalid")
                chains = _fresh(table)
            elif raw.startswith("COMMIT"):
                if not table:
                    raise Refused(f"{where}: COMMIT outside a table")
                committed[table] = chains
                table = ""
            elif raw.startswith(":"):
                if not table:
                    raise Refused(f"{where}: a chain outside a table")
                parts = raw[1:].split()
                if len(parts) < 2:
                    raise Refused(f"{where}: a chain declaration needs a policy")
                name, policy = parts[0], parts[1]
                if name in BUILTIN[table]:
                    if policy not in POLICIES:
                        raise Refused(f"{where}: bad policy name {policy!r}")
                    chains[name] = _Chain(policy, chains[name].rules, where)
                elif name not in chains:
                    chains[name] = _Chain("")
                else:
                    raise Refused(f"{where}: chain {name} already exists")
            else:
                if not table:
                    raise Refused(f"{where}: a command outside a table")
                command(chains, words(raw, where), table, where)
        if table:
            raise Refused(f"{path}: COMMIT expected at the end of the file")
    except Refused as exc:
        return IptRuleset(path, True, refused=str(exc))
    except Unsupported as exc:
        return IptRuleset(path, True, error=f"not evaluated: {exc}")
    return IptRuleset(path, True, tuple(
        IptChain(t, name, c.policy, tuple(c.rules), c.where) for t, cs in committed.items() for name, c in cs.items()))


def command(chains: dict[str, _Chain], argv: list[str], table: str, where: str) -> None:
    if not argv:
        return
    verb = COMMANDS.get(argv[0])
    if not argv[0].startswith("-"):
        raise Refused(f"{where}: bad argument {argv[0]!r}")
    if verb is None:
        raise Unsupported(f"{where}: command {argv[0]!r}")
    if verb == "flush" and len(argv) == 1:
        for chain in chains.values():
            chain.rules.clear()
        return
    if len(argv) < 2:
        raise Refused(f"{where}: {argv[0]} needs a chain")
    name, rest = argv[1], argv[2:]
    if verb == "new":
        if name in chains:
            raise Refused(f"{where}: chain {name} already exists")
        chains[name] = _Chain("")
        return
    found = chains.get(name)
    if found is None:
        raise Refused(f"{where}: no chain {name!r}")
    chain = found
    if verb == "flush":
        chain.rules.clear()
    elif verb == "policy":
        if not chain.policy or len(rest) != 1 or rest[0] not in POLICIES:
            raise Refused(f"{where}: bad policy for {name}")
        chain.policy, chain.where = rest[0], where
    elif {"-i", "--in-interface"} & set(rest) and name in ("OUTPUT", "POSTROUTING"):
        raise Refused(f"{where}: can't use -i with {name}")
    elif {"-o", "--out-interface"} & set(rest) and name in ("INPUT", "PREROUTING"):
        raise Refused(f"{where}: can't use -o with {name}")
    elif (target := _target(rest)) and target not in TARGETS and target not in chains:
        raise Refused(f"{where}: chain {target!r} does not exist")
    elif any(w.startswith("#") and (i == 0 or rest[i - 1] not in ("--comment", "--log-prefix"))
             for i, w in enumerate(rest)):
        raise Refused(f"{where}: bad argument '#' (a comment must be a line of its own)")
    elif verb == "append":
        chain.rules.append(IptRule(name, tuple(rest), where))
    else:  # insert, at an optional 1-based position
        position = 1
        if rest and rest[0].isdigit():
            position, rest = int(rest[0]), rest[1:]
            if position < 1 or position > len(chain.rules) + 1:
                raise Refused(f"{where}: index of insertion too big")
        chain.rules.insert(position - 1, IptRule(name, tuple(rest), where))


def _target(argv: list[str]) -> str:
    for i, word in enumerate(argv[:-1]):
        if word in ("-j", "--jump", "-g", "--goto"):
            return argv[i + 1]
    return ""


def load(ctx: Context, path: str) -> IptRuleset:
    """Raises HostError when the file exists but cannot be read."""
    try:
        text = ctx.regular_text(path)
    except NotFound:
        return IptRuleset(path, exists=False)
    return parse(text, path)


def gather_iptables(ctx: Context, paths: list[str]) -> dict[str, object]:
    return each_path(ctx, paths, load)


FAMILIES = {"iptables": gather_iptables}
PREFETCH = {"iptables": lambda paths: list(paths)}

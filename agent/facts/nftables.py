"""The nftables ruleset a file loads, parsed as ``nft -f`` reads it (nft(8)).

What is modelled: comments, quoted strings, ``;`` and newlines ending statements, blocks;
``include "PATH"`` spliced in where it stands (a relative path is looked up under /etc, nft's
default include directory; a glob expands in sorted order, skipping directories and names
starting with a dot, and may match nothing); ``define``; ``flush ruleset [FAMILY]``;
``table``/``add table``/``create table`` blocks (a table declared twice is one table),
``delete``/``destroy table``, ``flags dormant``; chains declared in a table block or with
``add``/``create chain``, their ``type T hook H priority P`` and ``policy``, ``delete``/``destroy``
and ``rename chain``. Sets and maps are skipped: chains, hooks and policies are judged, and
rules by their words (``add rule``, ``insert rule`` without a position, rules in a chain block,
``flush chain``/``flush table``). nft loads a file as one transaction: what it refuses (a policy
on a regular chain, a
base chain redeclared with another hook or priority, a policy set twice in one block, a chain
in a table that does not exist, a missing include) loads nothing, and is reported as such.
"""
from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field, replace

from agent.facts.context import Context, each_path
from agent.hosts.base import NotFound
from checks.facts import NftChain, NftRule, NftRuleset
from checks.record import record

NFT_FAMILIES = ("ip", "ip6", "inet", "arp", "bridge", "netdev")
INCLUDE_DIR = "/etc"  # nft's DEFAULT_INCLUDE_PATH on Debian and RHEL
MAX_DEPTH = 16  # nft's MAX_INCLUDE_DEPTH
# Named priorities (nft(8), CHAINS: "Table 6. Standard priority names").
PRIORITIES = {"raw": -300, "mangle": -150, "dstnat": -100, "filter": 0, "security": 50, "srcnat": 100}
BRIDGE_PRIORITIES = {"dstnat": -300, "filter": -200, "out": 100, "srcnat": 300}
_PRIO = re.compile(r"^([a-z]+)?\s*(?:([+-])\s*)?(\d+)?$")


class Refused(Exception):
    """nft would reject the file: the whole transaction fails."""


class Unsupported(Exception):
    """A construct this model does not evaluate: the verdict is an error, never a guess."""


@record
class Token:
    """One token of an nftables ruleset."""

    kind: str  # word, str, {, }, ;, nl
    text: str
    where: str


@dataclass
class Statement:
    """One statement of an nftables ruleset: words and blocks."""

    items: list[Token | Block] = field(default_factory=list)

    @property
    def words(self) -> list[str]:
        return [i.text for i in self.items if isinstance(i, Token)]

    @property
    def where(self) -> str:
        first = next((i for i in self.items if isinstance(i, Token)), None)
        return first.where if first else ""

    @property
    def block(self) -> Block | None:
        return next((i for i in self.items if isinstance(i, Block)), None)


@dataclass
class Block:
    """A braced block of nftables statements."""

    statements: list[Statement] = field(default_factory=list)


def tokenize(text: str, path: str) -> list[Token]:
    tokens: list[Token] = []
    i, line, n = 0, 1, len(text)
    while i < n:
        c = text[i]
        where = f"{path}:{line}"
        if c == "\\" and text.startswith("\n", i + 1):  # a continued line
            i, line = i + 2, line + 1
        elif c == "\n":
            tokens.append(Token("nl", "\n", where))
            i, line = i + 1, line + 1
        elif c in " \t\r":
            i += 1
        elif c == "#":
            while i < n and text[i] != "\n":
                i += 1
        elif c == '"':
            end = text.find('"', i + 1)
            if end < 0 or "\n" in text[i:end]:
                raise Refused(f"{where}: unterminated string")
            tokens.append(Token("str", text[i + 1:end], where))
            i = end + 1
        elif c in "{};":
            tokens.append(Token(c, c, where))
            i += 1
        else:
            start = i
            while i < n and text[i] not in " \t\r\n{};\"#":
                i += 1
            tokens.append(Token("word", text[start:i], where))
    return tokens


class _Loader:
    """Reads a file and its includes into one token stream, as nft's scanner does."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.files: list[str] = []

    def glob(self, pattern: str) -> list[str]:
        directory, _, name = pattern.rpartition("/")
        found = []
        for entry in self.ctx.listdir(directory or "/"):
            if entry.startswith(".") and not name.startswith("."):
                continue  # glob(3): a wildcard never matches a leading dot
            if not fnmatch.fnmatchcase(entry, name):
                continue
            path = f"{directory}/{entry}"
            try:
                if self.ctx.host.stat(path).kind == "file":
                    found.append(path)
            except NotFound:
                continue
        return sorted(found)

    def load(self, path: str, depth: int) -> list[Token]:
        if depth > MAX_DEPTH:
            raise Refused(f"{path}: includes nested too deeply")
        try:
            if self.ctx.host.stat(path).kind != "file":
                raise Unsupported(f"{path}: not a regular file")
        except NotFound:
            raise Refused(f"{path}: no such file") from None
        self.files.append(path)
        tokens = tokenize(self.ctx.text(path), path)
        out: list[Token] = []
        i = 0
        while i < len(tokens):
            token = tokens[i]
            starts = not out or out[-1].kind in ("nl", ";", "{", "}")
            if starts and token.kind == "word" and token.text == "include":
                if i + 1 >= len(tokens) or tokens[i + 1].kind != "str":
                    raise Refused(f"{token.where}: include needs a quoted path")
                out.extend(self.include(tokens[i + 1].text, token.where, depth))
                i += 2
                continue
            out.append(token)
            i += 1
        return out

    def include(self, target: str, where: str, depth: int) -> list[Token]:
        full = target if target.startswith("/") else f"{INCLUDE_DIR}/{target}"
        if any(c in full for c in "*?["):
            if any(c in full.rpartition("/")[0] for c in "*?["):
                raise Unsupported(f"{where}: a wildcard in a directory of include {target!r}")
            paths = self.glob(full)
        else:
            paths = [full]
        out: list[Token] = []
        for path in paths:
            out.extend(self.load(path, depth + 1))
            out.append(Token("nl", "\n", where))
        return out


# Statements of a chain block that are not rules.
CHAIN_PROPERTIES = ("type", "policy", "comment", "devices", "device", "flags")


def rule(st: Statement, skip: int = 0) -> NftRule:
    """A rule's words after the first ``skip`` ones; an anonymous set or map is one ``{...}`` word."""
    words: list[str] = []
    for item in st.items:
        if isinstance(item, Token):
            words.append(item.text)
        else:
            inner = ", ".join(" ".join(w.rstrip(",") for w in s.words) for s in item.statements)
            words.append("{" + inner + "}")
    return NftRule(tuple(words[skip:]), st.where)


def parse_block(tokens: list[Token], i: int, closing: bool) -> tuple[Block, int]:
    """Statements up to the matching ``}`` (or the end); returns the index after it."""
    block = Block()
    current = Statement()
    while i < len(tokens):
        token = tokens[i]
        if token.kind in ("nl", ";"):
            if current.items:
                block.statements.append(current)
                current = Statement()
            i += 1
        elif token.kind == "{":
            inner, i = parse_block(tokens, i + 1, True)
            current.items.append(inner)
        elif token.kind == "}":
            if not closing:
                raise Refused(f"{token.where}: unexpected '}}'")
            if current.items:
                block.statements.append(current)
            return block, i + 1
        else:
            current.items.append(token)
            i += 1
    if closing:
        raise Refused("unexpected end of file: a block is not closed")
    if current.items:
        block.statements.append(current)
    return block, i


def priority(words: list[str], family: str, where: str) -> int:
    text = " ".join(words)
    found = _PRIO.match(text)
    if not found or not (found.group(1) or found.group(3)):
        if re.fullmatch(r"-\d+", text):
            return int(text)
        raise Unsupported(f"{where}: priority {text!r}")
    name, sign, number = found.groups()
    base = 0
    if name:
        names = BRIDGE_PRIORITIES if family == "bridge" else PRIORITIES
        if name not in names:
            raise Refused(f"{where}: unknown priority name {name!r}")
        base = names[name]
    if number is None:
        return base
    if name and not sign:
        raise Unsupported(f"{where}: priority {text!r}")
    return base + (-int(number) if sign == "-" else int(number))


@dataclass
class _Table:
    """An nftables table, while its ruleset is read."""

    family: str
    name: str
    dormant: bool = False
    chains: dict[str, NftChain] = field(default_factory=dict)


class _Ruleset:
    def __init__(self) -> None:
        self.tables: dict[tuple[str, str], _Table] = {}
        self.defines: dict[str, str] = {}

    # --- statements -------------------------------------------------------------------

    def top(self, block: Block) -> None:
        for statement in block.statements:
            self.command(statement)

    def command(self, st: Statement) -> None:
        words, where = st.words, st.where
        verb = words[0] if words else ""
        if verb in ("define", "redefine"):
            if len(words) < 4 or words[2] != "=":
                raise Unsupported(f"{where}: define {' '.join(words[1:])!r}")
            self.defines[words[1]] = " ".join(words[3:])
        elif verb == "undefine":
            self.defines.pop(words[1] if len(words) > 1 else "", None)
        elif verb == "table":
            self.table(words[1:], st.block, where)
        elif verb == "chain" and st.block is not None:
            raise Refused(f"{where}: a chain block outside a table")
        elif verb in ("add", "create") and len(words) > 1 and words[1] in ("table", "chain"):
            if words[1] == "table":
                self.table(words[2:], st.block, where, exclusive=verb == "create")
            else:
                family, rest = self.family(words[2:])
                if len(rest) != 2:
                    raise Unsupported(f"{where}: {' '.join(words)}")
                table = self.tables.get((family, rest[0]))
                if table is None:
                    raise Refused(f"{where}: table {family} {rest[0]} does not exist")
                self.chain(table, rest[1], st.block, where, exclusive=verb == "create")
        elif verb in ("delete", "destroy") and len(words) > 1 and words[1] in ("table", "chain"):
            self.delete(words, where, must_exist=verb == "delete")
        elif verb == "flush" and len(words) > 1 and words[1] == "ruleset":
            family = words[2] if len(words) > 2 else ""
            self.tables = {k: t for k, t in self.tables.items() if family and k[0] != family}
        elif verb == "rename" and len(words) > 1 and words[1] == "chain":
            # The file loads into an empty ruleset at boot, so the chain was made in this same
            # transaction, and the kernel cannot rename those (ENOENT).
            raise Refused(f"{where}: rename of a chain created in the same transaction")
        elif verb in ("add", "insert") and len(words) > 1 and words[1] == "rule":
            family, rest = self.family(words[2:])
            table = self.tables.get((family, rest[0])) if rest else None
            if table is None or len(rest) < 2 or rest[1] not in table.chains:
                raise Refused(f"{where}: a rule for a chain that does not exist")
            if len(rest) > 2 and rest[2] in ("handle", "position", "index"):
                raise Unsupported(f"{where}: a rule placed by {rest[2]}")
            chain = table.chains[rest[1]]
            new = rule(st, skip=2 + (len(words) - len(rest)))
            table.chains[rest[1]] = replace(chain, rules=chain.rules + (new,) if verb == "add" else (new,) + chain.rules)
        elif verb == "flush" and len(words) > 1 and words[1] in ("chain", "table"):
            family, rest = self.family(words[2:])
            table = self.tables.get((family, rest[0])) if rest else None
            if table is None or (words[1] == "chain" and (len(rest) < 2 or rest[1] not in table.chains)):
                raise Refused(f"{where}: flush of a {words[1]} that does not exist")
            for name in [rest[1]] if words[1] == "chain" else list(table.chains):
                table.chains[name] = replace(table.chains[name], rules=())
        elif verb in ("delete", "destroy", "replace", "reset") and len(words) > 1 and words[1] == "rule":
            raise Unsupported(f"{where}: {verb} rule")
        elif verb in ("add", "create", "insert", "replace", "delete", "destroy", "flush", "reset", "list", "rename"):
            return  # rules, sets, maps, elements, objects, listings: no chain or policy changes
        else:
            raise Unsupported(f"{where}: statement {' '.join(words[:3])!r}")

    def family(self, words: list[str]) -> tuple[str, list[str]]:
        if len(words) > 1 and words[0] in NFT_FAMILIES:
            return words[0], words[1:]
        return "ip", words  # nft's default family

    def table(self, words: list[str], block: Block | None, where: str, exclusive: bool = False) -> None:
        family, rest = self.family(words)
        if len(rest) != 1:
            raise Unsupported(f"{where}: table {' '.join(words)}")
        key = (family, rest[0])
        if key in self.tables and exclusive:
            raise Refused(f"{where}: table {family} {rest[0]} exists (create)")
        flags = {f for st in (block.statements if block else []) if st.words[:1] == ["flags"]
                 for w in st.words[1:] for f in w.split(",") if f}
        table = self.tables.get(key)
        if table is None:
            table = self.tables[key] = _Table(family, rest[0], "dormant" in flags)
        elif table.dormant != ("dormant" in flags):
            # A redeclaration without the flag wakes the table; what the kernel accepts when the
            # flag changes within one transaction depends on the chains and the kernel version.
            raise Unsupported(f"{where}: table {family} {rest[0]} changes its dormant flag within the file")
        for st in block.statements if block else []:
            inner = st.words
            if not inner:
                raise Refused(f"{st.where}: unexpected block")
            if inner[0] == "chain":
                if len(inner) != 2:
                    raise Unsupported(f"{st.where}: chain {' '.join(inner[1:])}")
                self.chain(table, inner[1], st.block, st.where)
            # flags, sets, maps, flowtables, stateful objects, comments: nothing about hooks

    def chain(self, table: _Table, name: str, block: Block | None, where: str, exclusive: bool = False) -> None:
        kind = hook = policy = ""
        prio: int | None = None
        policy_where = where
        rules: list[NftRule] = []
        for st in block.statements if block else []:
            words = st.words
            if words[:1] and words[0] not in CHAIN_PROPERTIES:
                rules.append(rule(st))
            elif words[:1] == ["type"]:
                if "hook" not in words or "priority" not in words or len(words) < 6:
                    raise Refused(f"{st.where}: chain type needs hook and priority")
                kind, hook = words[1], words[words.index("hook") + 1]
                prio = priority(words[words.index("priority") + 1:], table.family, st.where)
            elif words[:1] == ["policy"]:
                if policy:
                    raise Refused(f"{st.where}: you cannot set chain policy twice")
                policy = words[1] if len(words) > 1 else ""
                if policy.startswith("$"):
                    raise Unsupported(f"{st.where}: a policy given by a variable")
                if policy not in ("accept", "drop"):
                    raise Refused(f"{st.where}: policy {policy!r}")
                policy_where = st.where
        existing = table.chains.get(name)
        if existing is not None and exclusive:
            raise Refused(f"{where}: chain {name} exists (create)")
        if existing is None:
            if policy and not hook:
                raise Refused(f"{policy_where}: a policy on a regular chain")
            table.chains[name] = NftChain(table.family, table.name, name, kind, hook, prio,
                                          (policy or "accept") if hook else "", policy_where, rules=tuple(rules))
            return
        if hook and (not existing.hook or (kind, hook, prio) != (existing.type, existing.hook, existing.priority)):
            raise Refused(f"{where}: chain {name} redeclared with another type, hook or priority")
        if policy:
            if not existing.hook:
                raise Refused(f"{policy_where}: a policy on a regular chain")
            existing = replace(existing, policy=policy, where=policy_where)
        table.chains[name] = replace(existing, rules=existing.rules + tuple(rules))

    def delete(self, words: list[str], where: str, must_exist: bool) -> None:
        family, rest = self.family(words[2:])
        if "handle" in rest:
            raise Unsupported(f"{where}: deletion by handle")
        if words[1] == "table":
            if (family, rest[0]) not in self.tables and must_exist:
                raise Refused(f"{where}: table {family} {rest[0]} does not exist")
            self.tables.pop((family, rest[0]), None)
            return
        table = self.tables.get((family, rest[0])) if rest else None
        if table is None or len(rest) != 2 or rest[1] not in table.chains:
            if must_exist:
                raise Refused(f"{where}: chain {' '.join(rest)} does not exist")
            return
        del table.chains[rest[1]]

    def result(self, path: str, files: list[str]) -> NftRuleset:
        chains = tuple(replace(c, dormant=t.dormant) for t in self.tables.values() for c in t.chains.values())
        tables = tuple((t.family, t.name, t.dormant) for t in self.tables.values())
        return NftRuleset(path, True, chains, tables, tuple(files))


def load(ctx: Context, path: str) -> NftRuleset:
    """The ruleset ``nft -f path`` loads. Raises HostError when a file cannot be read."""
    try:
        ctx.host.stat(path)
    except NotFound:
        return NftRuleset(path, exists=False)
    loader = _Loader(ctx)
    try:
        tokens = loader.load(path, 0)
        block, _ = parse_block(tokens, 0, closing=False)
        ruleset = _Ruleset()
        ruleset.top(block)
    except Refused as exc:
        return NftRuleset(path, True, files=tuple(loader.files), refused=str(exc))
    except Unsupported as exc:
        return NftRuleset(path, True, files=tuple(loader.files), error=f"not evaluated: {exc}")
    return ruleset.result(path, loader.files)


def gather_nftables(ctx: Context, paths: list[str]) -> dict[str, object]:
    return each_path(ctx, paths, load)


FAMILIES = {"nftables": gather_nftables}
PREFETCH = {"nftables": lambda paths: [*paths, "/etc/nftables.d", "/etc/nftables"]}

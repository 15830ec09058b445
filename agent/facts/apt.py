"""APT's configuration as apt-config reads it (apt.conf(5), apt 2.6): every file of
/etc/apt/apt.conf.d in name order, then /etc/apt/apt.conf; the last value set wins.

The syntax is apt's ReadConfigFile: ``A::B "v";`` or nested scopes ``A { B "v"; };``, values
quoted or bare, ``//``, ``#`` and ``/* */`` comments outside quotes, statements spanning lines,
``#clear A::B;`` (empties a value and its subtree) and ``#include FILE;`` (or a folder, ending
in ``/``). Keys compare without regard to case. A file with a syntax error makes every apt
program, apt.systemd.daily included, refuse to start: the fact is then that error.
"""
from __future__ import annotations

import re
from typing import Callable

from agent.facts.context import Context, unavailable
from agent.hosts.base import HostError, NotFound
from checks.facts import AptConfig, AptValue

PARTS = "/etc/apt/apt.conf.d"
MAIN = "/etc/apt/apt.conf"
# Dir::Ignore-Files-Silently, apt's defaults: such names are skipped without a notice.
VALID_NAME = re.compile(r"[A-Za-z0-9_.\-]+")
MAX_DEPTH = 10
# Values pkgInitConfig sets before reading any file (of the keys fedharden judges).
BUILTIN = {"Acquire::AllowInsecureRepositories": "0"}


class AptSyntaxError(Exception):
    """A file apt refuses; the message names file and line as apt does."""


def parts_files(names: list[str]) -> list[str]:
    """The names GetListOfFilesInDir(dir, "conf") keeps, in apt's (byte) order: no extension
    or ``.conf``, only letters, digits, ``_``, ``-`` and ``.``."""
    kept = []
    for name in names:
        dot = name.rfind(".")
        if dot != -1 and name[dot + 1:] != "conf":
            continue
        if not VALID_NAME.fullmatch(name):
            continue
        kept.append(name)
    return sorted(kept, key=lambda n: n.encode())


def _strip_comments(line: str, in_comment: bool) -> tuple[str, bool]:
    """The line without comments, and whether a /* comment is still open after it."""
    if in_comment:
        end = line.find("*/")
        if end == -1:
            return "", True
        line = line[end + 2:]
    start = 0
    while (start := line.find("//", start)) != -1:
        if line.count('"', 0, start) % 2:
            start += 1
            continue
        line = line[:start]
        break
    start = 0
    while (start := line.find("#", start)) != -1:
        if line.count('"', 0, start) % 2 or line.startswith(("clear", "include", "x-apt-configure-index"), start + 1):
            start += 1
            continue
        line = line[:start]
        break
    fragment = []
    start = 0
    while (start := line.find("/*", start)) != -1:
        if line.count('"', 0, start) % 2:
            start += 2
            continue
        fragment.append(line[:start])
        end = line.find("*/", start + 2)
        if end == -1:
            return "".join(fragment), True
        line = line[end + 2:]
        start = 0
    fragment.append(line)
    return "".join(fragment), False


def _parse_quote_word(text: str) -> tuple[str, str] | None:
    """apt's ParseQuoteWord: one word (quotes and [brackets] may hold spaces), quotes removed,
    %xx decoded; returns (word, rest after trailing whitespace) or None."""
    i = 0
    while i < len(text) and text[i] == " ":
        i += 1
    if i >= len(text):
        return None
    start, c = 0, i
    while c < len(text) and not text[c].isspace():
        if text[c] == '"':
            c = text.find('"', c + 1)
            if c == -1:
                return None
        if text[c] == "[":
            c = text.find("]", c + 1)
            if c == -1:
                return None
        c += 1
    out = []
    s = start
    while s < c:
        if text[s] == "%" and s + 2 < c and all(ch in "0123456789abcdefABCDEF" for ch in text[s + 1:s + 3]):
            out.append(chr(int(text[s + 1:s + 3], 16)))
            s += 3
            continue
        if text[s] != '"':
            out.append(text[s])
        s += 1
    while c < len(text) and text[c].isspace():
        c += 1
    return "".join(out), text[c:]


def _parse_c_word(text: str) -> tuple[str, str] | None:
    """apt's ParseCWord: only quoted strings separated by whitespace, joined by one space."""
    c = 0
    while c < len(text) and text[c] == " ":
        c += 1
    if c >= len(text):
        return None
    out = []
    while c < len(text):
        ch = text[c]
        if ch == '"':
            end = text.find('"', c + 1)
            if end == -1:
                return None
            out.append(text[c + 1:end])
            c = end + 1
            continue
        if c != 0 and ch.isspace() and text[c - 1].isspace():
            c += 1
            continue
        if not ch.isspace():
            return None
        out.append(" ")
        c += 1
    return "".join(out), ""


class Tree:
    """apt's Configuration: keys compared without case; a trailing ``::`` appends a list item."""

    def __init__(self) -> None:
        self.values: dict[str, AptValue] = {}

    def set(self, item: str, value: str, file: str, line: int) -> None:
        key = item.lower()
        if key.endswith("::") or "::::" in key:
            return  # a list item: no scalar of interest
        self.values[key] = AptValue(item, value, file, line)

    def clear(self, item: str, file: str, line: int) -> None:
        key = item.lower()
        for k in [k for k in self.values if k == key or k.startswith(key + "::")]:
            del self.values[k]


def read_file(tree: Tree, text: str, path: str, read: Callable[[str], str | None],
              listdir: Callable[[str], list[str]], depth: int = 0) -> None:
    """One file into ``tree``; raises AptSyntaxError where apt's ReadConfigFile fails."""
    buffer = ""
    stack: list[str] = []
    parent = ""
    in_comment = False
    number = 0
    for raw in text.split("\n"):
        number += 1
        line = raw.replace("\t", "        ").strip()
        fragment, in_comment = _strip_comments(line, in_comment)
        if not fragment:
            continue
        in_quote = False
        start = 0
        for i, ch in enumerate(fragment):
            if ch == '"':
                in_quote = not in_quote
            if in_quote or ch not in "{;}":
                continue
            piece = fragment[start:i].strip()
            if buffer and piece:
                buffer += " "
            buffer += piece
            start = i + 1
            if ch == "{" and not buffer:
                raise AptSyntaxError(f"{path}:{number}: block starts with no name")
            if not buffer:
                if ch == "}":
                    parent = stack.pop() if stack else ""
                continue
            parsed = _parse_quote_word(buffer)
            if parsed is None:
                raise AptSyntaxError(f"{path}:{number}: malformed tag")
            tag, rest = parsed
            no_word = False
            word_parsed = _parse_c_word(rest) or _parse_quote_word(rest)
            if word_parsed is None:
                word, rest = "", rest
                if ch != "{":
                    word, tag = tag, ""
                else:
                    no_word = True
            else:
                word, rest = word_parsed
            if rest:
                raise AptSyntaxError(f"{path}:{number}: extra junk after value")
            if ch == "{":
                stack.append(parent)
                parent = f"{parent}::{tag}" if parent else tag
                tag = ""
            if not parent:
                item = tag
            elif ch != "{" or tag:
                item = f"{parent}::{tag}"
            else:
                item = parent
            if tag.startswith("#"):
                if parent:
                    raise AptSyntaxError(f"{path}:{number}: directives can only be done at the top level")
                directive = tag[1:]
                if directive == "clear":
                    tree.clear(word, path, number)
                elif directive == "include":
                    if depth > MAX_DEPTH:
                        raise AptSyntaxError(f"{path}:{number}: too many nested includes")
                    include(tree, word, read, listdir, depth + 1)
                elif directive != "x-apt-configure-index":
                    raise AptSyntaxError(f"{path}:{number}: unsupported directive {directive!r}")
            elif not tag and not no_word and word == "#clear":
                raise AptSyntaxError(f"{path}:{number}: clear directive requires an option tree as argument")
            elif not no_word:
                tree.set(item, word, path, number)
            buffer = ""
            if ch == "}":
                parent = stack.pop() if stack else ""
        rest_text = fragment[start:].strip()
        if rest_text and buffer:
            buffer += " "
        buffer += rest_text
    if buffer:
        raise AptSyntaxError(f"{path}:{number}: extra junk at end of file")


def include(tree: Tree, path: str, read: Callable[[str], str | None], listdir: Callable[[str], list[str]],
            depth: int) -> None:
    if len(path) > 2 and path.endswith("/"):
        for name in parts_files(listdir(path)):
            text = read(path + name)
            if text is not None:
                read_file(tree, text, path + name, read, listdir, depth)
        return
    text = read(path)
    if text is None:
        raise AptSyntaxError(f"{path}: cannot be opened")
    read_file(tree, text, path, read, listdir, depth)


def read_config(read: Callable[[str], str | None], listdir: Callable[[str], list[str]]) -> AptConfig:
    """The configuration apt builds: parts in order, then apt.conf; a file with a syntax error
    still lets the following files be read (as apt does) but the whole is refused."""
    tree = Tree()
    for key, value in BUILTIN.items():
        tree.set(key, value, "apt (built-in default)", 0)
    errors: list[str] = []
    for name in parts_files(listdir(PARTS)):
        text = read(f"{PARTS}/{name}")
        if text is None:
            continue
        try:
            read_file(tree, text, f"{PARTS}/{name}", read, listdir)
        except AptSyntaxError as exc:
            errors.append(str(exc))
    main = read(MAIN)
    if main is not None and not errors:
        try:
            read_file(tree, main, MAIN, read, listdir)
        except AptSyntaxError as exc:
            errors.append(str(exc))
    return AptConfig(dict(tree.values), tuple(errors))


def gather_apt(ctx: Context, args: list[str]) -> dict[str, object]:
    def read(path: str) -> str | None:
        try:
            if ctx.host.stat(path).kind != "file":  # apt reads regular files only (a link to /dev/null is skipped)
                return None
            return ctx.text(path)
        except NotFound:
            return None

    try:
        ctx.host.prefetch([PARTS, MAIN])
        ctx.host.prefetch([f"{PARTS}/{name}" for name in parts_files(ctx.listdir(PARTS))])
        return {"": read_config(read, ctx.listdir)}
    except HostError as exc:
        return {"": unavailable(exc)}


FAMILIES = {"apt_config": gather_apt}
PREFETCH = {"apt_config": lambda args: [MAIN]}
PREFETCH_CONTENTS = {"apt_config": lambda args: [PARTS]}

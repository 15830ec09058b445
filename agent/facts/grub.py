"""The variables grub-mkconfig sees after sourcing /etc/default/grub and every
/etc/default/grub.d/*.cfg (in that order, names sorted, dot files skipped), computed without
running either file: the host's files are read, never executed.

What is evaluated is the part of the POSIX shell language (sh(1), "Shell Command Language")
these files use: assignments ``NAME=WORD`` (several per line, each seeing the ones before it),
``export``/``unset``/``readonly`` of names and assignments, comments, ``;`` and newlines, and
in words single quotes, double quotes with ``\\`` escapes, backslashes, ``$NAME`` and
``${NAME}``. Anything else (a command, ``$(...)``, backquotes, ``${NAME:-...}``, ``if``,
redirections, ``+=``) stops the evaluation and is reported with its file and line: the
verdict is then an error, not a guess at what the shell would do.
"""
from __future__ import annotations

import re

from agent.facts.context import Context, unavailable
from agent.hosts.base import HostError, NotFound
from checks.facts import GrubDefaults

MAIN = "/etc/default/grub"
DROPINS = "/etc/default/grub.d"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ASSIGN = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=")
_SPECIAL = "|&<>()`"
_BUILTINS = ("export", "readonly", "unset")


class NotEvaluated(Exception):
    pass


class Shell:
    """The variables after sourcing files in order; raises NotEvaluated with file:line."""

    def __init__(self) -> None:
        self.vars: dict[str, str] = {}
        self.where: dict[str, str] = {}

    def source(self, text: str, path: str) -> None:
        self.text, self.i, self.line, self.path = text, 0, 1, path
        while self.i < len(self.text):
            self.command()

    # --- lexing ----------------------------------------------------------------------

    def fail(self, why: str) -> NotEvaluated:
        return NotEvaluated(f"{self.path}:{self.line}: {why}")

    def peek(self) -> str:
        return self.text[self.i] if self.i < len(self.text) else ""

    def blanks(self) -> None:
        while True:
            c = self.peek()
            if c in (" ", "\t"):
                self.i += 1
            elif c == "\\" and self.text.startswith("\n", self.i + 1):
                self.i += 2
                self.line += 1
            else:
                return

    def expand(self) -> str:
        """After a ``$``: the value of ``NAME`` or ``{NAME}``."""
        if self.peek() == "{":
            end = self.text.find("}", self.i)
            name = self.text[self.i + 1:end] if end > 0 else ""
            if not _NAME.fullmatch(name):
                raise self.fail(f"parameter expansion ${{{self.text[self.i + 1:self.i + 20].split('}')[0]}}}")
            self.i = end + 1
            return self.vars.get(name, "")
        found = _NAME.match(self.text, self.i)
        if found:
            self.i = found.end()
            return self.vars.get(found.group(), "")
        c = self.peek()
        if c == "" or c in " \t\n;\"":
            return "$"
        raise self.fail(f"expansion ${c}")

    def word(self) -> str:
        """One word, quotes removed and parameters expanded (no field splitting: assignments)."""
        out: list[str] = []
        while True:
            c = self.peek()
            if c == "" or c in " \t\n;":
                return "".join(out)
            if c in _SPECIAL:
                raise self.fail(f"{c!r} (a command substitution, pipe, redirection or subshell)")
            if c == "~":
                raise self.fail("'~' (tilde expansion)")
            self.i += 1
            if c == "'":
                end = self.text.find("'", self.i)
                if end < 0:
                    raise self.fail("unterminated single quote")
                out.append(self.text[self.i:end])
                self.line += self.text.count("\n", self.i, end)
                self.i = end + 1
            elif c == '"':
                out.append(self.quoted())
            elif c == "\\":
                nxt = self.peek()
                self.i += 1
                if nxt == "\n":
                    self.line += 1
                else:
                    out.append(nxt)
            elif c == "$":
                out.append(self.expand())
            else:
                out.append(c)

    def quoted(self) -> str:
        out: list[str] = []
        while True:
            c = self.peek()
            if c == "":
                raise self.fail("unterminated double quote")
            self.i += 1
            if c == '"':
                return "".join(out)
            if c == "`":
                raise self.fail("backquote command substitution")
            if c == "\\":
                nxt = self.peek()
                self.i += 1
                if nxt == "\n":
                    self.line += 1
                elif nxt in '$`"\\':
                    out.append(nxt)
                else:
                    out.append("\\" + nxt)
            elif c == "$":
                if self.peek() == "(":
                    raise self.fail("command substitution $(...)")
                out.append(self.expand())
            else:
                if c == "\n":
                    self.line += 1
                out.append(c)

    # --- commands --------------------------------------------------------------------

    def command(self) -> None:
        self.blanks()
        c = self.peek()
        if c == "#":
            while self.peek() not in ("", "\n"):
                self.i += 1
            return
        if c in ("\n", ";"):
            self.line += c == "\n"
            self.i += 1
            return
        where = f"{self.path}:{self.line}"
        assigned = False
        while (found := _ASSIGN.match(self.text, self.i)) and c != "":
            self.i = found.end()
            self.set(found.group(1), self.word(), where)
            assigned = True
            self.blanks()
            c = self.peek()
            if c in ("", "\n", ";", "#"):
                return
        start = self.i
        name = self.word()
        if name in _BUILTINS and not assigned:
            self.builtin(name, where)
            return
        if not name and self.i == start:
            raise self.fail(f"unexpected {self.peek()!r}")
        raise self.fail(f"command {name!r} is not an assignment")

    def builtin(self, name: str, where: str) -> None:
        while True:
            self.blanks()
            if self.peek() in ("", "\n", ";", "#"):
                return
            found = _ASSIGN.match(self.text, self.i)
            if found and name != "unset":
                self.i = found.end()
                start = self.i
                value = self.word()
                if any(c in self.text[start:self.i] for c in "$*?["):
                    # dash expands these arguments as a command's: split into fields and globbed.
                    raise self.fail(f"{name} {found.group(1)}= with an expansion or a pattern")
                self.set(found.group(1), value, where)
                continue
            argument = self.word()
            if not _NAME.fullmatch(argument):
                raise self.fail(f"{name} {argument!r}")
            if name == "unset":
                self.vars.pop(argument, None)
                self.where.pop(argument, None)

    def set(self, name: str, value: str, where: str) -> None:
        self.vars[name] = value
        self.where[name] = where


def files(ctx: Context) -> list[str]:
    """/etc/default/grub if it is a file, then grub.d/*.cfg as the shell's glob lists them."""
    out = []
    try:
        if ctx.host.stat(MAIN).kind == "file":
            out.append(MAIN)
    except NotFound:
        pass
    for name in sorted(n for n in ctx.listdir(DROPINS) if n.endswith(".cfg") and not n.startswith(".")):
        out.append(f"{DROPINS}/{name}")
    return out


def load(ctx: Context) -> GrubDefaults:
    """Raises HostError when a file cannot be read."""
    paths = files(ctx)
    ctx.host.prefetch(paths)
    shell = Shell()
    for path in paths:
        try:
            if ctx.host.stat(path).kind != "file":
                return GrubDefaults(tuple(paths), error=f"{path}: not a regular file (the shell cannot source it)")
        except NotFound:
            continue
        try:
            shell.source(ctx.text(path), path)
        except NotEvaluated as exc:
            return GrubDefaults(tuple(paths), error=f"not evaluated: {exc}")
    return GrubDefaults(tuple(paths), tuple(sorted(shell.vars.items())), tuple(sorted(shell.where.items())))


def gather_grub(ctx: Context, args: list[str]) -> dict[str, object]:
    try:
        value: object = load(ctx)
    except HostError as exc:
        value = unavailable(exc)
    return {arg: value for arg in args}


FAMILIES = {"grub_defaults": gather_grub}
PREFETCH = {"grub_defaults": lambda args: [MAIN]}
PREFETCH_CONTENTS = {"grub_defaults": lambda args: [DROPINS]}

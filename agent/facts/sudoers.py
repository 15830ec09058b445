"""The sudoers policy, read as sudo reads it (sudoers(5), sudo 1.9).

- A line ending in a backslash continues on the next one. ``#`` starts a comment, except
  ``#include``/``#includedir`` at the start of a line and ``#`` followed by a digit (a uid).
- ``@include FILE`` / ``#include FILE``: the file is parsed in place; a relative path is
  relative to the directory of the file that includes it.
- ``@includedir DIR`` / ``#includedir DIR``: every regular file in DIR whose name neither ends
  in ``~`` nor contains ``.``, in byte order, parsed in place; an absent DIR adds nothing.
- ``Defaults`` lines, optionally bound (``Defaults:user``, ``@host``, ``!cmnd``, ``>runas``),
  carry comma-separated options: ``flag``, ``!flag`` (each ``!`` negates), ``name=value``,
  ``name+=value``, ``name-=value``; values may be double-quoted or backslash-escaped.
- A user specification ``USERS HOSTS = [(RUNAS)] [TAG: ...] CMND, ...[: HOSTS = ...]``: tags
  carry over to the following commands of the same list until the opposite tag is given.

The files are read through the Host seam, so the same code serves a live host, an image and
SSH; the result is a flat ``checks.sudoersdata.Sudoers`` that checks judge.
"""
from __future__ import annotations

import re

from agent.facts.context import Context, IncludeLimit, each_path
from agent.hosts.base import HostError, NotFound
from checks.sudoersdata import SudoCommand, SudoDefault, Sudoers

MAX_DEPTH = 128  # sudo's own limit on nested includes
TAGS = {"NOPASSWD": "PASSWD", "NOEXEC": "EXEC", "SETENV": "NOSETENV", "LOG_INPUT": "NOLOG_INPUT",
        "LOG_OUTPUT": "NOLOG_OUTPUT", "MAIL": "NOMAIL", "FOLLOW": "NOFOLLOW", "INTERCEPT": "NOINTERCEPT"}
OPPOSITE = {**TAGS, **{v: k for k, v in TAGS.items()}}
INCLUDE = re.compile(r"^[@#](include|includedir)\s+(.*)$")
ALIAS = re.compile(r"^(User|Runas|Host|Cmnd|Cmd)_Alias\s")
DEFAULTS = re.compile(r"^Defaults(?=[\s:@!>]|$)")
OPTION = re.compile(r"^(!*)\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:(\+=|-=|=)\s*(.*))?$", re.S)
TAG = re.compile(r"^([A-Z_]+)\s*:(?!\s*:)")
COMMAND_OPTION = re.compile(r"^(ROLE|TYPE|TIMEOUT|NOTBEFORE|NOTAFTER|CWD|CHROOT|APPARMOR_PROFILE)\s*=\s*(\"[^\"]*\"|\S+)\s*")
DIGEST = re.compile(r"^(sha224|sha256|sha384|sha512)\s*:\s*[A-Za-z0-9+/=]+\s*(,\s*(sha224|sha256|sha384|sha512)\s*:\s*[A-Za-z0-9+/=]+\s*)*")


def logical_lines(text: str) -> list[tuple[int, str]]:
    """(first line number, text) with backslash-newline continuations joined."""
    out: list[tuple[int, str]] = []
    pending, start = "", 0
    for number, raw in enumerate(text.split("\n"), 1):
        if not pending:
            start = number
        trailing = len(raw) - len(raw.rstrip("\\"))
        if trailing % 2:
            pending += raw[:-1]
            continue
        out.append((start, pending + raw))
        pending = ""
    if pending:
        out.append((start, pending))
    return out


def strip_comment(line: str) -> str:
    """The line without its comment; quotes and backslash escapes protect a ``#``."""
    quoted = False
    i = 0
    while i < len(line):
        c = line[i]
        if c == "\\":
            i += 2
            continue
        if c == '"':
            quoted = not quoted
        elif c == "#" and not quoted:
            rest = line[i + 1:]
            if not re.match(r"-?[0-9]", rest):  # '#1000' is a uid, not a comment
                return line[:i]
        i += 1
    return line


def split_top(text: str, sep: str) -> list[str]:
    """Split on ``sep`` outside quotes, parentheses and backslash escapes."""
    parts, current, depth, quoted, i = [], "", 0, False, 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            current += text[i:i + 2]
            i += 2
            continue
        if c == '"':
            quoted = not quoted
        elif not quoted and c == "(":
            depth += 1
        elif not quoted and c == ")":
            depth = max(0, depth - 1)
        elif not quoted and depth == 0 and c == sep:
            parts.append(current)
            current = ""
            i += 1
            continue
        current += c
        i += 1
    parts.append(current)
    return parts


def unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        value = value[1:-1]
    return re.sub(r"\\(.)", r"\1", value)


def _path_token(rest: str) -> str:
    rest = rest.strip()
    if rest.startswith('"'):
        end = rest.find('"', 1)
        return rest[1:end if end > 0 else None]
    token = re.match(r"(?:\\.|[^\s])+", rest)
    return unquote(token.group(0)) if token else ""


class _Reader:
    def __init__(self, ctx: Context, origin: str) -> None:
        self.ctx = ctx
        self.includes = ctx.includes(origin)  # bounds the files and lines of the whole policy
        self.files: list[str] = []
        self.defaults: list[SudoDefault] = []
        self.commands: list[SudoCommand] = []
        self.problems: list[str] = []

    def include_file(self, path: str, origin: str, depth: int) -> None:
        if depth > MAX_DEPTH:
            self.problems.append(f"{origin}: includes nested too deeply")
            return
        try:
            text = self.includes.regular_text(path)
        except IncludeLimit:
            raise  # the whole policy cannot be known, not one include
        except NotFound:
            self.problems.append(f"{origin}: included file {path} does not exist (sudo refuses the policy)")
            return
        except HostError as exc:
            self.problems.append(f"{origin}: included file {path} unreadable: {exc.reason}")
            return
        self.parse(path, text, depth)

    def include_dir(self, directory: str, origin: str, depth: int) -> None:
        try:
            names = self.ctx.host.listdir(directory)
        except NotFound:
            return
        except HostError as exc:
            self.problems.append(f"{origin}: {directory} cannot be listed: {exc.reason}")
            return
        chosen = []
        for name in sorted(names, key=lambda n: n.encode()):
            if name.endswith("~") or "." in name:
                continue  # sudoers(5): such files are skipped (editor backups, .dpkg-old ...)
            path = f"{directory.rstrip('/')}/{name}"
            try:
                if self.ctx.host.stat(path).kind != "file":
                    continue
            except HostError:
                continue
            chosen.append(path)
        self.ctx.host.prefetch(chosen)
        for path in chosen:
            self.include_file(path, origin, depth + 1)

    def parse(self, path: str, text: str, depth: int) -> None:
        self.files.append(path)
        base = path.rpartition("/")[0] or "/"
        for number, raw in logical_lines(text):
            line = raw.strip()
            where = f"{path}:{number}"
            found = INCLUDE.match(line)
            if found:
                target = _path_token(found.group(2))
                if "%h" in target:
                    self.problems.append(f"{where}: include path with %h (the host name) is not followed")
                    continue
                full = target if target.startswith("/") else f"{base}/{target}"
                if found.group(1) == "include":
                    self.include_file(full, where, depth + 1)
                else:
                    self.include_dir(full, where, depth)
                continue
            line = strip_comment(line).strip()
            if not line or ALIAS.match(line):
                continue
            if DEFAULTS.match(line):
                self._defaults(line[len("Defaults"):], path, number)
            else:
                self._user_spec(line, path, number)

    def _defaults(self, rest: str, path: str, number: int) -> None:
        scope, binding = "", tuple[str, ...]()
        if rest[:1] in ":@!>":
            scope = rest[0]
            # The binding list runs to the first blank not after a comma.
            found = re.match(r"((?:\\.|[^\s,]|\s*,\s*)+)\s+(.*)$", rest[1:], re.S)
            if not found:
                self.problems.append(f"{path}:{number}: Defaults{scope} without options")
                return
            binding = tuple(unquote(b) for b in split_top(found.group(1), ",") if b.strip())
            rest = found.group(2)
        for item in split_top(rest, ","):
            item = item.strip()
            if not item:
                continue
            option = OPTION.match(item)
            if not option:
                self.problems.append(f"{path}:{number}: cannot read Defaults option {item!r}")
                continue
            bangs, name, op, value = option.groups()
            if op is None:
                self.defaults.append(SudoDefault(name, len(bangs) % 2 == 0, path, number, scope, binding))
            elif bangs:
                self.problems.append(f"{path}:{number}: a negated option cannot take a value: {item!r}")
            else:
                self.defaults.append(SudoDefault(name, unquote(value), path, number, scope, binding,
                                                 "" if op == "=" else op))

    def _user_spec(self, line: str, path: str, number: int) -> None:
        head, sep, rest = _split_equals(line)
        if not sep:
            self.problems.append(f"{path}:{number}: not a sudoers entry: {line[:60]!r}")
            return
        # USERS HOSTS: the host list is the last blank-separated field (users may be "a, b").
        users = head.strip().rsplit(None, 1)[0] if len(head.split()) > 1 else head.strip()
        # Privileges are separated by ':' (HOSTS = CMNDS : HOSTS = CMNDS); tags also end in
        # ':', so walk the commands and recognise a new privilege by its '='.
        while True:
            after = self._cmnd_list(users, rest, path, number)
            if after is None:
                return
            _, sep, rest = _split_equals(after)
            if not sep:
                self.problems.append(f"{path}:{number}: host list without '='")
                return

    def _cmnd_list(self, users: str, text: str, path: str, number: int) -> str | None:
        """Read one Cmnd_Spec_List; return what follows a privilege-separating ':' or None."""
        tags: dict[str, str] = {}
        while True:
            text = text.lstrip()
            if text.startswith("("):
                end = text.find(")")
                text = text[end + 1:] if end >= 0 else ""
                continue
            option = COMMAND_OPTION.match(text)
            if option:
                text = text[option.end():]
                continue
            tag = TAG.match(text)
            if tag and tag.group(1) in OPPOSITE:
                name = tag.group(1)
                tags.pop(OPPOSITE[name], None)
                tags[name] = name
                text = text[tag.end():]
                continue
            digest = DIGEST.match(text)
            if digest:
                text = text[digest.end():]
            command, stop, text = _command(text)
            if command:
                self.commands.append(SudoCommand(users, command, tuple(sorted(tags)), path, number))
            if stop == ",":
                continue
            return text if stop == ":" else None


def _split_equals(text: str) -> tuple[str, str, str]:
    i = 0
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == "=":
            return text[:i], "=", text[i + 1:]
        i += 1
    return text, "", ""


def _command(text: str) -> tuple[str, str, str]:
    """A command up to an unescaped ',' or ':'; returns (command, separator, rest)."""
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c in ",:":
            return text[:i].strip(), c, text[i + 1:]
        i += 1
    return text.strip(), "", ""


def read_sudoers(ctx: Context, path: str) -> Sudoers:
    """Raises HostError when the main file exists but cannot be read."""
    reader = _Reader(ctx, path)
    try:
        text = reader.includes.regular_text(path)
    except NotFound:
        return Sudoers(path, exists=False)
    reader.parse(path, text, 0)
    return Sudoers(path, True, tuple(reader.files), tuple(reader.defaults), tuple(reader.commands),
                   tuple(reader.problems))


def gather_sudoers(ctx: Context, args: list[str]) -> dict[str, object]:
    return each_path(ctx, args, read_sudoers)


FAMILIES = {"sudoers": gather_sudoers}
PREFETCH = {"sudoers": list}
PREFETCH_CONTENTS = {"sudoers": lambda args: ["/etc/sudoers.d"]}  # where distributions' @includedir points

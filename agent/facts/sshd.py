"""sshd's configuration as the daemon is started with it: the options of /etc/default/ssh
(``SSHD_OPTS``, which Debian's ssh.service passes on sshd's command line) first, then
sshd_config with its Includes, each line tokenized and normalized by checks.sshd.

/etc/default/ssh is read as data, never run: a safe subset of shell assignments
(``NAME=word``, ``'single'`` and ``"double"`` quotes without expansions, comments); anything
else makes the configuration unknown, and every sshd requirement ``error`` with the reason.
"""
from __future__ import annotations

import fnmatch
import re

from agent.facts.context import Context, IncludeLimit, unavailable
from agent.hosts.base import HostError
from checks import sshd as sem
from checks.facts import ConfigFile, ConfigSetting, FileInfo

SSHDIR = "/etc/ssh"
MAIN = "/etc/ssh/sshd_config"
DEFAULTS_FILE = "/etc/default/ssh"
OPTS_VARIABLE = "SSHD_OPTS"
MAX_INCLUDE_DEPTH = 16  # SERVCONF_MAX_DEPTH
HOST_KEY_GLOB = "/etc/ssh/ssh_host_*_key"

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PLAIN = re.compile(r"[A-Za-z0-9_./,:=@%+-]+")
OPTS_WITH_ARGUMENT = set("CEbcfghkopu")
OPTS_FLAGS = set("46DQRTdeiqrtV")


class ShellError(ValueError):
    """A line of an environment file outside the subset fedharden evaluates."""


def shell_assignments(text: str) -> dict[str, tuple[str, int]]:
    """NAME -> (value, line) for a file of plain shell assignments; the last one wins."""
    out: dict[str, tuple[str, int]] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name = _NAME.match(line)
        if not name or line[name.end():name.end() + 1] != "=":
            raise ShellError(f"line {number}: not a plain NAME=value assignment: {line[:60]!r}")
        pos, value = name.end() + 1, []
        while pos < len(line) and line[pos] not in " \t":
            char = line[pos]
            if char == "'":
                end = line.find("'", pos + 1)
                if end < 0:
                    raise ShellError(f"line {number}: unterminated single quote")
                value.append(line[pos + 1:end])
                pos = end + 1
            elif char == '"':
                end = line.find('"', pos + 1)
                if end < 0:
                    raise ShellError(f"line {number}: unterminated double quote")
                inner = line[pos + 1:end]
                if any(c in inner for c in "$`\\"):
                    raise ShellError(f"line {number}: expansion or escape inside double quotes ({inner[:40]!r})")
                value.append(inner)
                pos = end + 1
            elif plain := _PLAIN.match(line, pos):
                value.append(plain.group())
                pos = plain.end()
            else:
                raise ShellError(f"line {number}: unsupported shell syntax {char!r}")
        tail = line[pos:].strip()
        if tail and not tail.startswith("#"):
            raise ShellError(f"line {number}: more than one word after the assignment ({tail[:40]!r})")
        out[name.group()] = ("".join(value), number)
    return out


class SshdOptions:
    """sshd's command line from /etc/default/ssh: -o lines, -g, -h, -f."""

    def __init__(self) -> None:
        self.lines: list[ConfigSetting] = []
        self.config: str | None = None

    def parse(self, words: list[str], where: int) -> None:
        index = 0
        while index < len(words):
            word = words[index]
            index += 1
            if not word.startswith("-") or word == "-":
                raise ShellError(f"{OPTS_VARIABLE}: extra argument {word!r}")
            pos = 1
            while pos < len(word):
                flag = word[pos]
                pos += 1
                if flag in OPTS_FLAGS:
                    continue
                if flag not in OPTS_WITH_ARGUMENT:
                    raise ShellError(f"{OPTS_VARIABLE}: unknown sshd option -{flag}")
                if pos < len(word):
                    arg = word[pos:]
                elif index < len(words):
                    arg, index = words[index], index + 1
                else:
                    raise ShellError(f"{OPTS_VARIABLE}: option -{flag} needs an argument")
                self.option(flag, arg, where)
                break

    def option(self, flag: str, arg: str, where: int) -> None:
        if flag == "o":
            try:
                line = sem.tokenize(arg)
            except sem.SshdError as exc:
                raise ShellError(f"{OPTS_VARIABLE}: -o {arg!r}: {exc}") from None
            if line is None:
                return
            if line.keyword in ("match", "include"):
                raise ShellError(f"{OPTS_VARIABLE}: -o {line.keyword} is not supported on sshd's command line")
            if line.keyword in sem.DEPRECATED or line.keyword not in sem.KEYWORDS:
                return
            try:
                value = sem.normalize(line.keyword, line.args)
            except sem.SshdError as exc:
                raise ShellError(f"{OPTS_VARIABLE}: -o {arg!r}: {exc}") from None
            self.lines.append(ConfigSetting(sem.canonical(line.keyword), value, DEFAULTS_FILE, where))
        elif flag == "g":  # sets LoginGraceTime outright, before any -o or file line is read
            seconds = sem.convtime(arg)
            if seconds is None:
                raise ShellError(f"{OPTS_VARIABLE}: -g {arg!r}: invalid login grace time")
            self.lines = [s for s in self.lines if s.key != "logingracetime"]
            self.lines.insert(0, ConfigSetting("logingracetime", str(seconds), DEFAULTS_FILE, where))
        elif flag == "h":
            self.lines.append(ConfigSetting("hostkey", sem.normalize("hostkey", [arg]), DEFAULTS_FILE, where))
        elif flag == "f":
            self.config = arg


def sshd_glob(ctx: Context, pattern: str) -> list[str]:
    """glob(3) as sshd calls it: wildcards in any component, no dot files, sorted, only
    what exists; a name without wildcards is itself if it exists."""
    parts = [p for p in pattern.split("/") if p]
    found = ["/"]
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        step: list[str] = []
        for base in found:
            prefix = base.rstrip("/")
            if not any(c in part for c in "*?["):
                step.append(f"{prefix}/{part}")
                continue
            names = sorted(n for n in ctx.listdir(base)
                           if fnmatch.fnmatchcase(n, part) and (part.startswith(".") or not n.startswith(".")))
            step.extend(f"{prefix}/{n}" for n in names)
        found = step if last else [p for p in step if _kind(ctx, p) == "dir"]
    return sorted(p for p in found if _kind(ctx, p))


def _kind(ctx: Context, path: str) -> str:
    """The path's kind, or "" when it cannot be stat'ed (absent, unreadable)."""
    try:
        return str(ctx.host.stat(path).kind)
    except HostError:
        return ""


class _Reader:
    def __init__(self, ctx: Context, origin: str) -> None:
        self.ctx = ctx
        self.includes = ctx.includes(origin)  # bounds the files and lines of the whole parse
        self.settings: list[ConfigSetting] = []
        self.problems: list[str] = []
        self.notes: list[str] = []

    def file(self, path: str, scope: tuple[str, ...], depth: int) -> None:
        try:
            if self.ctx.host.stat(path).kind == "dir":
                return  # sshd reads a directory as an empty file
            text = self.includes.text(path)  # the host refuses anything but a regular file, unopened
        except IncludeLimit:
            raise  # the whole configuration cannot be known, not one include
        except HostError as exc:
            self.problems.append(f"{path}: unreadable ({exc.reason})")
            return
        current = scope
        for number, raw in enumerate(text.split("\n"), 1):
            where = f"{path} line {number}"
            try:
                line = sem.tokenize(raw)
            except sem.SshdError as exc:
                self.problems.append(f"{where}: {exc}")
                continue
            if line is None:
                continue
            keyword = line.keyword
            if keyword == "match":
                try:
                    current = (*scope, sem.scope_text(sem.match_criteria(line.rest)))
                except sem.SshdError as exc:
                    self.problems.append(f"{where}: Bad Match condition: {exc}")
                continue
            if keyword == "include":
                self.include(line.args, current, depth, where)
                continue
            if keyword not in sem.KEYWORDS:
                self.notes.append(f"{where}: keyword {keyword!r} is not one OpenSSH 9.2 knows")
                continue
            if not sem.KEYWORDS[keyword] and any(c != "all" for c in current):
                self.problems.append(f"{where}: Directive '{keyword}' is not allowed within a Match block")
                continue
            if keyword in sem.DEPRECATED:
                continue
            try:
                value = sem.normalize(keyword, line.args)
            except sem.SshdError as exc:
                self.problems.append(f"{where}: {exc}")
                continue
            self.settings.append(ConfigSetting(sem.canonical(keyword), value, path, number,
                                               match=" / ".join(current), scope=current))

    def include(self, args: tuple[str, ...], scope: tuple[str, ...], depth: int, where: str) -> None:
        if depth >= MAX_INCLUDE_DEPTH:
            self.problems.append(f"{where}: too many recursive configuration includes")
            return
        for pattern in args:
            if not pattern:
                self.problems.append(f"{where}: Include with an empty argument")
                return
            full = pattern if pattern.startswith("/") else f"{SSHDIR}/{pattern}"
            paths = sshd_glob(self.ctx, full)
            self.ctx.host.prefetch(paths)
            for included in paths:
                self.file(included, scope, depth + 1)


def _regular_text(ctx: Context, path: str) -> str | None:
    """A regular file's text, None when absent; the host refuses anything else unopened."""
    return ctx.text_or_none(path)


def parse_sshd(ctx: Context, path: str) -> ConfigFile:
    """The daemon's configuration; raises HostError when the main file exists but cannot be read."""
    def load() -> ConfigFile:
        options = SshdOptions()
        problems: list[str] = []
        try:
            env = _regular_text(ctx, DEFAULTS_FILE)
            if env is not None:
                found = shell_assignments(env).get(OPTS_VARIABLE)
                if found is not None:
                    options.parse(found[0].split(), found[1])
        except ShellError as exc:
            problems.append(f"{DEFAULTS_FILE}: {exc}")
        except HostError as exc:
            problems.append(f"{DEFAULTS_FILE}: unreadable ({exc.reason})")
        main = options.config if options.config and path == MAIN else path
        if _regular_text(ctx, main) is None:
            return ConfigFile(path, "sshd", exists=False, problems=tuple(problems))
        reader = _Reader(ctx, main)
        reader.file(main, (), 0)
        notes = reader.notes + ([f"sshd reads {main} (-f in {DEFAULTS_FILE})"] if main != path else [])
        return ConfigFile(path, "sshd", True, tuple(options.lines + reader.settings), first_wins=True,
                          problems=tuple(problems + reader.problems), notes=tuple(notes))

    return ctx.memo(f"sshd:{path}", load)


def gather_host_keys(ctx: Context, args: list[str], public: bool = False) -> dict[str, object]:
    """Every host private key sshd is configured with or that lies in /etc/ssh, with its metadata;
    with ``public``, the public key beside each of them (KEY.pub) and every /etc/ssh/ssh_host_*_key.pub."""
    from agent.facts.files import gather_files

    out: dict[str, object] = {}
    for path in args:
        try:
            conf = parse_sshd(ctx, path)
        except HostError as exc:
            out[path] = unavailable(exc)
            continue
        configured = sem.resolve(conf, "hostkey", None)[0] if conf.exists else " ".join(sem.DEFAULT_HOST_KEYS)
        found = sshd_glob(ctx, HOST_KEY_GLOB)
        names = sorted({*(configured or "").split(), *found})
        if public:
            names = sorted({*(f"{n}.pub" for n in names), *sshd_glob(ctx, HOST_KEY_GLOB + ".pub")})
        infos = gather_files(ctx, names)
        if any(not isinstance(i, FileInfo) for i in infos.values()):
            out[path] = next(i for i in infos.values() if not isinstance(i, FileInfo))
            continue
        out[path] = sem.HostKeys(tuple((configured or "").split()), tuple(i for i in infos.values()
                                                                          if isinstance(i, FileInfo) and i.exists),
                                 conf.problems)
    return out


def gather_host_pubkeys(ctx: Context, args: list[str]) -> dict[str, object]:
    return gather_host_keys(ctx, args, public=True)


FAMILIES = {"sshd_host_keys": gather_host_keys, "sshd_host_pubkeys": gather_host_pubkeys}
PREFETCH = {"sshd_host_keys": lambda args: [DEFAULTS_FILE, SSHDIR, *args],
            "sshd_host_pubkeys": lambda args: [DEFAULTS_FILE, SSHDIR, *args]}

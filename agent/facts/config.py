"""Configuration files parsed with each program's own rules (see checks.config).

sshd_config (sshd_config(5)): keywords are case-insensitive; arguments follow whitespace
or one '='; the first value obtained for a keyword wins; ``Include`` expands globs (relative
paths are under /etc/ssh) in place, sorted; ``Match`` scopes what follows until the next
Match or the end of the file it is in, and an Include inside a Match inherits its scope.
"""
from __future__ import annotations

import re
import shlex

from agent.facts.context import Context, IncludeLimit, unavailable
from agent.hosts.base import HostError, NotFound
from checks.facts import ConfigFile, ConfigSetting

MAX_INCLUDE_DEPTH = 16  # sshd's own limit on nested includes
SSHD_SPLIT = re.compile(r"^\s*([A-Za-z0-9]+)\s*(?:=\s*|\s+)(.*?)\s*$")


def _sshd_args(raw: str) -> str:
    try:
        return " ".join(shlex.split(raw, comments=True))
    except ValueError:
        return raw.strip()


class _Sshd:
    def __init__(self, ctx: Context, origin: str) -> None:
        self.ctx = ctx
        self.includes = ctx.includes(origin)  # bounds the files and lines of the whole parse
        self.settings: list[ConfigSetting] = []
        self.problems: list[str] = []

    def parse(self, path: str, match: str, depth: int) -> None:
        try:
            text = self.includes.text(path)
        except IncludeLimit:
            raise  # the whole configuration is unknown, not one include
        except HostError as exc:
            self.problems.append(f"included file unreadable: {exc.reason}")
            return
        scope = match
        for number, line in enumerate(text.splitlines(), 1):
            found = SSHD_SPLIT.match(line)
            if not found or line.lstrip().startswith("#"):
                continue
            key, value = found.group(1).lower(), _sshd_args(found.group(2))
            if key == "match":
                scope = "" if value.lower() == "all" else value
            elif key == "include":
                if depth >= MAX_INCLUDE_DEPTH:
                    self.problems.append(f"{path}:{number}: includes nested too deeply")
                    continue
                for pattern in value.split():
                    full = pattern if pattern.startswith("/") else f"/etc/ssh/{pattern}"
                    for included in self.ctx.glob(full):
                        self.parse(included, scope, depth + 1)
            else:
                self.settings.append(ConfigSetting(key, value, path, number, scope))


def _key_value(text: str, path: str, equals: bool) -> list[ConfigSetting]:
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not stripped or stripped[0] in "#;":
            continue
        if equals:
            key, sep, value = stripped.partition("=")
            if not sep:
                continue
        else:
            parts = stripped.split(None, 1)
            key, value = parts[0], parts[1] if len(parts) > 1 else ""
        value = value.split(" #")[0].strip().strip("\"'")
        out.append(ConfigSetting(key.strip().lower(), value, path, number))
    return out


def parse(ctx: Context, dialect: str, path: str, dropins: str = "") -> ConfigFile:
    """Raises HostError when the main file or a drop-in exists but cannot be read."""
    try:
        text = ctx.text(path)
    except NotFound:
        if not dropins:
            return ConfigFile(path, dialect, exists=False)
        text = None
    extra: list[ConfigSetting] = []
    for dropin in ctx.glob(dropins) if dropins else []:
        if (more := ctx.text_or_none(dropin)) is not None:
            extra.extend(_key_value(more, dropin, equals=dialect == "keyequals"))
    if text is None:
        return ConfigFile(path, dialect, False, tuple(extra))
    if dialect == "sshd":
        sshd = _Sshd(ctx, path)
        sshd.parse(path, "", 0)
        return ConfigFile(path, dialect, True, tuple(sshd.settings), first_wins=True, problems=tuple(sshd.problems))
    settings = _key_value(text, path, equals=dialect == "keyequals")
    return ConfigFile(path, dialect, True, tuple(settings + extra))


def gather_config(ctx: Context, args: list[str]) -> dict[str, object]:
    out: dict[str, object] = {}
    for arg in args:
        dialect, _, rest = arg.partition(":")
        path, _, dropins = rest.partition("|")
        try:
            out[arg] = parse(ctx, dialect, path, dropins)
        except HostError as exc:
            out[arg] = unavailable(exc)
    return out


def hint_config(args: list[str]) -> list[str]:
    paths = [arg.partition(":")[2] for arg in args]
    if any(arg.startswith("sshd:") for arg in args):
        paths.append("/etc/ssh/sshd_config.d")  # where distributions point Include
    return paths


FAMILIES = {"config": gather_config}
PREFETCH = {"config": hint_config}

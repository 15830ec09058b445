"""PAM service files expanded as libpam reads them, with the configuration files of the
modules that read one (see checks.pamdata for what the modules make of them).

Service files (pam.d(5), Linux-PAM 1.5 libpam/pam_handlers.c): leading blanks skipped; from
the first ``#`` on a line is a comment; a line ending in a backslash continues on the next;
fields are separated by blanks, except that ``[...]`` is one field (``\\]`` for a ``]``
inside); ``TYPE CONTROL MODULE ARGS``, TYPE case-insensitive and ``-TYPE`` for a module that
may be missing; ``TYPE include FILE`` and ``TYPE substack FILE`` bring in the lines of that
type from FILE, Debian's ``@include FILE`` every line; a FILE not starting with ``/`` is in
/etc/pam.d. A module's name is its path's last component without the extension.

Module configuration files, read with each module's own parser:
- libpwquality: ``/etc/security/pwquality.conf.d/*.conf`` in byte order, then
  ``/etc/security/pwquality.conf``; ``#`` starts a comment; ``name = value`` or ``name value``;
  names case-insensitive; reading stops at the first unknown name or bad number (and a
  drop-in's error stops the files after it).
- pam_faillock: ``conf=FILE`` or ``/etc/security/faillock.conf``, the same line syntax, names
  case-sensitive, unknown names ignored.
- pam_unix: ``/etc/login.defs`` as pam_modutil_search_key reads it (the first match wins).
"""
from __future__ import annotations

import re

from agent.facts.context import Context, IncludeLimit, each_path, unavailable
from agent.hosts.base import HostError, NotFound
from checks.pamdata import PWQUALITY_INT, PWQUALITY_OTHER, ModuleConfig, ModuleSetting, PamLine, PamStack
from checks.pamdata import parse_control

PAM_DIR = "/etc/pam.d"
MAX_LEVEL = 16  # libpam's PAM_SUBSTACK_MAX_LEVEL
TYPES = ("auth", "account", "password", "session")
PWQUALITY_CONF = "/etc/security/pwquality.conf"
FAILLOCK_CONF = "/etc/security/faillock.conf"
LOGIN_DEFS = "/etc/login.defs"



def assemble(text: str) -> list[tuple[int, str]]:
    """Logical lines (first line number, text) as _pam_assemble_line builds them."""
    out: list[tuple[int, str]] = []
    pending, start = "", 0
    for number, raw in enumerate(text.split("\n"), 1):
        body = raw.lstrip(" \t")
        if not body or body.startswith("#"):
            continue
        if not pending:
            start = number
        if "#" in body:
            out.append((start, pending + body.split("#", 1)[0]))
            pending = ""
            continue
        stripped = body.rstrip(" \t\n")
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        out.append((start, pending + body))
        pending = ""
    if pending:
        out.append((start, pending))
    return out


def tokenize(text: str) -> list[str]:
    """_pam_tokenize: blank-separated fields, ``[...]`` as one field without its brackets."""
    tokens: list[str] = []
    i = 0
    while i < len(text):
        if text[i] in " \t\n":
            i += 1
            continue
        if text[i] == "[":
            j, buf = i + 1, []
            while j < len(text) and text[j] != "]":
                if text[j] == "\\" and j + 1 < len(text) and text[j + 1] == "]":
                    j += 1
                buf.append(text[j])
                j += 1
            tokens.append("[" + "".join(buf) + "]")
            i = j + 1
            continue
        j = i
        while j < len(text) and text[j] not in " \t\n":
            j += 1
        tokens.append(text[i:j])
        i = j
    return tokens


def module_name(path: str) -> str:
    base = path.rpartition("/")[2]
    return base.rpartition(".")[0] if "." in base else base


def key_values(text: str, path: str, stop_at_error: bool) -> tuple[list[ModuleSetting], str]:
    """libpwquality's and pam_faillock's line syntax; libpwquality also stops at a bad line."""
    out: list[ModuleSetting] = []
    for number, raw in enumerate(text.split("\n"), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        found = re.match(r"([^\s=]+)(?:\s*=\s*|\s+|$)(.*)$", line)
        if not found:
            continue
        name, value = found.group(1), found.group(2).lstrip("= \t")
        if stop_at_error:
            name = name.lower()
            bad_int = name in PWQUALITY_INT and not re.fullmatch(r"[+-]?\d+", value)
            if bad_int or name not in PWQUALITY_INT | PWQUALITY_OTHER:
                return out, f"{path}:{number}: libpwquality stops reading at {name!r}"
        out.append(ModuleSetting(name, value, path, number))
    return out, ""


def search_key_lines(text: str, path: str) -> list[ModuleSetting]:
    """/etc/login.defs as pam_modutil_search_key reads it."""
    out = []
    for number, raw in enumerate(text.split("\n"), 1):
        line = raw.split("#", 1)[0].lstrip()
        if not line:
            continue
        name, _, rest = _split_key(line)
        out.append(ModuleSetting(name, rest, path, number))
    return out


def _split_key(line: str) -> tuple[str, str, str]:
    found = re.match(r"([^ \t=]*)[ \t=]?(.*)$", line, re.S)
    assert found
    return found.group(1), "", found.group(2).lstrip(" \t\n=")


class _Reader:
    def __init__(self, ctx: Context, origin: str) -> None:
        self.ctx = ctx
        self.includes = ctx.includes(origin)  # bounds the files and lines of the whole stack
        self.problems: list[str] = []

    def module_config(self, module: str, args: tuple[str, ...]) -> tuple[tuple[ModuleSetting, ...], str]:
        if module == "pam_pwquality":
            conf = read_module_config(self.ctx, "pam_pwquality")
            return conf.settings, conf.problem
        if module == "pam_faillock":
            path = next((a[len("conf="):] for a in args if a.startswith("conf=")), FAILLOCK_CONF)
            conf = read_module_config(self.ctx, "pam_faillock", path)
            return conf.settings, conf.problem
        if module == "pam_unix":
            return read_module_config(self.ctx, "pam_unix").settings, ""
        return (), ""

    def service(self, path: str, only: str, level: int, origin: str) -> list[PamLine]:
        if level >= MAX_LEVEL:
            self.problems.append(f"{origin}: includes nested too deeply")
            return []
        try:
            text = self.includes.regular_text(path)
        except IncludeLimit:
            raise  # the whole stack cannot be known, not one include
        except NotFound:
            self.problems.append(f"{origin}: included file {path} does not exist (libpam fails the stack)")
            return []
        except HostError as exc:
            self.problems.append(f"{origin}: {path} unreadable: {exc.reason}")
            return []
        out: list[PamLine] = []
        for number, logical in assemble(text):
            tokens = tokenize(logical)
            if not tokens:
                continue
            where = f"{path}:{number}"
            if tokens[0] == "@include":
                if len(tokens) > 1:
                    out += self.service(_in_pam_dir(tokens[1]), only, level + 1, where)
                continue
            kind = tokens[0].lstrip("-").lower()
            if kind not in TYPES:
                self.problems.append(f"{where}: unknown module type {tokens[0]!r} (libpam fails the stack)")
                continue
            if only and kind != only:
                continue
            if len(tokens) < 3:
                self.problems.append(f"{where}: no module named (libpam fails the stack)")
                continue
            control = tokens[1]
            if control.lower() in ("include", "substack"):
                out += self.service(_in_pam_dir(tokens[2]), kind, level + 1, where)
                continue
            module = module_name(tokens[2])
            args = tuple(t[1:-1] if t.startswith("[") else t for t in tokens[3:])
            config, problem = self.module_config(module, args)
            out.append(PamLine(kind, control, module, args, path, number, parse_control(control), config, problem))
        return out


def _in_pam_dir(name: str) -> str:
    return name if name.startswith("/") else f"{PAM_DIR}/{name}"


def read_module_config(ctx: Context, module: str, path: str = "") -> ModuleConfig:
    """A module's configuration as the module reads it, memoized for the scan."""
    def make() -> ModuleConfig:
        if module == "pam_pwquality":
            files, settings = [], []
            dropins = sorted((n for n in ctx.listdir(PWQUALITY_CONF + ".d") if n.find(".conf") == len(n) - 5
                              and len(n) >= 5), key=lambda n: n.encode())
            for name in dropins:
                full = f"{PWQUALITY_CONF}.d/{name}"
                text = _text_or_none(ctx, full)
                if text is None:
                    continue
                files.append(full)
                found, problem = key_values(text, full, stop_at_error=True)
                settings += found
                if problem:
                    return ModuleConfig(module, tuple(files), tuple(settings), problem)
            text = _text_or_none(ctx, PWQUALITY_CONF)
            if text is not None:
                files.append(PWQUALITY_CONF)
                found, problem = key_values(text, PWQUALITY_CONF, stop_at_error=True)
                return ModuleConfig(module, tuple(files), tuple(settings + found), problem)
            return ModuleConfig(module, tuple(files), tuple(settings))
        if module == "pam_faillock":
            conf = path or FAILLOCK_CONF
            text = _text_or_none(ctx, conf)
            if text is None:
                # pam_faillock ignores only its default file being absent
                problem = "" if conf == FAILLOCK_CONF else f"{conf} does not exist (pam_faillock fails)"
                return ModuleConfig(module, (), (), problem)
            return ModuleConfig(module, (conf,), tuple(key_values(text, conf, stop_at_error=False)[0]))
        if module == "pam_unix":
            text = _text_or_none(ctx, LOGIN_DEFS)
            return ModuleConfig(module, (LOGIN_DEFS,) if text is not None else (),
                                tuple(search_key_lines(text, LOGIN_DEFS)) if text is not None else ())
        return ModuleConfig(module, ())

    return ctx.memo(f"pamconf:{module}:{path}", make)


def _text_or_none(ctx: Context, path: str) -> str | None:
    try:
        if ctx.host.stat(path).kind != "file":
            return None
    except NotFound:
        return None
    return ctx.text_or_none(path)


def read_stack(ctx: Context, path: str) -> PamStack:
    try:
        ctx.regular_text(path)
    except NotFound:
        return PamStack(path, exists=False)
    reader = _Reader(ctx, path)
    lines = reader.service(path, "", 0, path)
    return PamStack(path, True, tuple(lines), tuple(reader.problems))


def gather_pam(ctx: Context, args: list[str]) -> dict[str, object]:
    return each_path(ctx, args, read_stack)


def gather_pamconf(ctx: Context, args: list[str]) -> dict[str, object]:
    out: dict[str, object] = {}
    for module in args:
        try:
            out[module] = read_module_config(ctx, module)
        except HostError as exc:
            out[module] = unavailable(exc)
    return out


def hint_pam(args: list[str]) -> list[str]:
    return [*args, PAM_DIR, PWQUALITY_CONF, PWQUALITY_CONF + ".d", FAILLOCK_CONF, LOGIN_DEFS]


FAMILIES = {"pam": gather_pam, "pamconf": gather_pamconf}
PREFETCH = {"pam": hint_pam, "pamconf": lambda args: [PWQUALITY_CONF, PWQUALITY_CONF + ".d", FAILLOCK_CONF]}

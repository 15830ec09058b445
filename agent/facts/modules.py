"""Kernel modules: loaded ones from /proc/modules, rules from modprobe.d as libkmod reads them.

libkmod (kmod 30, modprobe.d(5)) reads /etc/modprobe.d, /run/modprobe.d,
/usr/local/lib/modprobe.d and /lib/modprobe.d (newer kmod also /usr/lib/modprobe.d, the same
folder on a merged-/usr system): files named ``*.conf`` or ``*.alias`` not starting with a dot,
a name in an earlier folder shadowing the same name in later ones, all read in name order.
/etc/modprobe.conf is not read.
"""
from __future__ import annotations

from agent.facts.context import Context, unavailable
from agent.hosts.base import HostError, NotFound
from checks.facts import ModprobeRule, Unavailable

MODPROBE_DIRS = ("/etc/modprobe.d", "/run/modprobe.d", "/usr/local/lib/modprobe.d", "/usr/lib/modprobe.d",
                 "/lib/modprobe.d")


def wrapped_lines(text: str) -> list[tuple[int, str]]:
    """(first line number, line) as kmod's getline_wrapped joins them: a backslash before a
    newline joins the next line; before any other character it is dropped."""
    out: list[tuple[int, str]] = []
    buf: list[str] = []
    number, start, i = 1, 1, 0
    while i < len(text):
        ch = text[i]
        i += 1
        if ch == "\n":
            out.append((start, "".join(buf)))
            buf = []
            number += 1
            start = number
        elif ch == "\\" and i < len(text):
            nxt = text[i]
            i += 1
            if nxt == "\n":
                number += 1
            else:
                buf.append(nxt)
        elif ch != "\\":
            buf.append(ch)
    if buf:
        out.append((start, "".join(buf)))
    return out


def underscores(name: str) -> str | None:
    """kmod's underscores(): dashes become underscores outside ``[...]``; None when a bracket
    is not closed (the line is then a syntax error)."""
    out, inside = [], False
    for ch in name:
        if ch == "[":
            inside = True
        elif ch == "]":
            inside = False
        elif ch == "-" and not inside:
            ch = "_"
        out.append(ch)
    return None if inside else "".join(out)


def _words(line: str, count: int) -> tuple[list[str], str | None]:
    """strtok_r on space and tab for ``count`` words, then the rest of the line as it stands
    after the separator that ended the last word (strtok_r with no delimiters), or None."""
    words: list[str] = []
    pos = 0
    while len(words) < count:
        while pos < len(line) and line[pos] in " \t":
            pos += 1
        if pos >= len(line):
            return words, None
        end = pos
        while end < len(line) and line[end] not in " \t":
            end += 1
        words.append(line[pos:end])
        pos = end + 1 if end < len(line) else end
    return words, (line[pos:] if pos < len(line) else None)


def parse_modprobe(text: str, path: str) -> list[ModprobeRule]:
    """``install`` and ``blacklist`` lines in file order, as kmod_config_parse reads them: a
    line is a comment only when ``#`` is its first character; the install command is the rest
    of the line, comments and all (the shell that runs it reads them)."""
    out = []
    for start, line in wrapped_lines(text):
        if not line or line[0] == "#":
            continue
        words, rest = _words(line, 2)
        if len(words) < 2:
            continue
        kind, module = words
        name = underscores(module)
        if name is None:
            continue
        if kind == "install" and rest is not None:
            out.append(ModprobeRule("install", name, rest, path, start))
        elif kind == "blacklist":
            out.append(ModprobeRule("blacklist", name, "", path, start))
    return out


def config_files(ctx: Context) -> list[str]:
    """The files libkmod reads, in order."""
    chosen: dict[str, str] = {}
    ctx.host.prefetch(MODPROBE_DIRS)
    for directory in MODPROBE_DIRS:
        for name in ctx.listdir(directory):
            if name.startswith(".") or len(name) < 6 or not name.endswith((".conf", ".alias")):
                continue
            chosen.setdefault(name, f"{directory}/{name}")
    ctx.host.prefetch(list(chosen.values()))
    return [chosen[name] for name in sorted(chosen)]


def gather_modprobe(ctx: Context, args: list[str]) -> dict[str, object]:
    rules: list[ModprobeRule] = []
    try:
        for path in config_files(ctx):
            try:
                if ctx.host.stat(path).kind != "file":  # folders are skipped; a link to /dev/null reads empty
                    continue
                text = ctx.text(path)
            except NotFound:  # a dangling link
                continue
            rules.extend(parse_modprobe(text, path))
    except HostError as exc:
        return {"": unavailable(exc)}
    return {"": tuple(rules)}


def gather_loaded(ctx: Context, args: list[str]) -> dict[str, object]:
    if not ctx.host.live:
        return {"": Unavailable("loaded modules exist only on a running system; modprobe.d judged instead", True)}
    try:
        text = ctx.text("/proc/modules")
    except NotFound:
        return {"": frozenset()}  # a kernel built without loadable module support
    except HostError as exc:
        return {"": unavailable(exc)}
    return {"": frozenset(line.split()[0] for line in text.splitlines() if line.strip())}


FAMILIES = {"modules_loaded": gather_loaded, "modprobe": gather_modprobe}
PREFETCH = {"modules_loaded": lambda args: ["/proc/modules"]}
PREFETCH_CONTENTS = {"modprobe": lambda args: list(MODPROBE_DIRS)}

"""Text files for the ``lines`` check: every existing file a path or glob names."""
from __future__ import annotations

from agent.facts.context import Context, unavailable
from agent.hosts.base import HostError, NotFound
from checks.facts import TextFile, TextFiles

MAX_LINES = 20000  # a configuration file; not a log


def meaningful(text: str) -> tuple[tuple[int, str], ...]:
    out = []
    for number, line in enumerate(text.splitlines()[:MAX_LINES], 1):
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            out.append((number, stripped))
    return tuple(out)


def read_files(ctx: Context, pattern: str) -> TextFiles:
    """Raises HostError when a file that exists cannot be read."""
    files = []
    for path in ctx.glob(pattern):
        if path != pattern:  # a glob also names directories and sockets: regular files only
            try:
                if ctx.host.stat(path).kind != "file":
                    continue
            except NotFound:
                continue
        text = ctx.text_or_none(path)
        if text is not None:
            files.append(TextFile(path, meaningful(text)))
    return TextFiles(pattern, tuple(files))


def every_line(text: str) -> tuple[tuple[int, str], ...]:
    """Every non-blank line, as shown (a banner's ``#`` line is text, not a comment)."""
    return tuple((n, line.rstrip()) for n, line in enumerate(text.splitlines()[:MAX_LINES], 1) if line.strip())


def gather_raw_text(ctx: Context, paths: list[str]) -> dict[str, object]:
    """One file's every line (``raw_text``): a TextFile, or None when the file does not exist."""
    out: dict[str, object] = {}
    for path in paths:
        try:
            text = ctx.text_or_none(path)
        except HostError as exc:
            out[path] = unavailable(exc)
            continue
        out[path] = None if text is None else TextFile(path, every_line(text))
    return out


def gather_lines(ctx: Context, patterns: list[str]) -> dict[str, object]:
    out: dict[str, object] = {}
    ctx.host.prefetch([path for pattern in patterns for path in _listed(ctx, pattern)])
    for pattern in patterns:
        try:
            out[pattern] = read_files(ctx, pattern)
        except HostError as exc:
            out[pattern] = unavailable(exc)
    return out


def _listed(ctx: Context, pattern: str) -> list[str]:
    """The paths a pattern names, for the prefetch hint only: a directory that cannot be
    listed is reported by ``read_files`` as the pattern's error, not here."""
    try:
        return ctx.glob(pattern)
    except HostError:
        return []


def hint_lines(patterns: list[str]) -> list[str]:
    """A pattern's file, or the directory its wildcards list."""
    return [p.rpartition("/")[0] or "/" if any(c in p.rpartition("/")[2] for c in "*?[") else p for p in patterns]


FAMILIES = {"lines": gather_lines, "raw_text": gather_raw_text}
PREFETCH = {"lines": hint_lines, "raw_text": list}

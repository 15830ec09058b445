"""Per-scan gathering context: the host plus memoized reads shared across families."""
from __future__ import annotations

import datetime as dt
import fnmatch
from typing import Callable, Mapping, TypeVar

from agent.hosts.base import Host, HostError, NotFound, NotSupported
from checks.facts import Unavailable

T = TypeVar("T")
DEFAULT_STATE_DIR = "/var/lib/fedharden"  # agent.state.DEFAULT_STATE_DIR, not imported: scans stay light

# One parse of one configuration (its main file and everything its Include-like directives
# pull in, at any depth, repeats counted) reads at most this much: three files that each
# include all three would otherwise read 3**depth files before any depth limit stops them.
MAX_INCLUDED_FILES = 1000
MAX_INCLUDED_LINES = 200_000


class IncludeLimit(HostError):
    """One parse passed MAX_INCLUDED_FILES or MAX_INCLUDED_LINES: the whole configuration is an
    error (its value cannot be known), not one unreadable include."""


class Includes:
    """The reading budget of one include-following parse; every file it reads goes through
    ``text``, the main file included. Shared by every parser that follows includes."""

    def __init__(self, ctx: Context, origin: str, max_files: int = MAX_INCLUDED_FILES,
                 max_lines: int = MAX_INCLUDED_LINES) -> None:
        self.ctx = ctx
        self.origin = origin
        self.max_files = max_files
        self.max_lines = max_lines
        self.files = 0
        self.lines = 0

    def text(self, path: str) -> str:
        """``ctx.text(path)``, counted; raises IncludeLimit past a bound, HostError as ctx.text."""
        self.files += 1
        if self.files > self.max_files:
            raise IncludeLimit(f"{self.origin}: more than {self.max_files} files read through includes in one parse "
                               f"(the bound; an include loop or fan-out), at {path}")
        text = self.ctx.text(path)
        self.lines += text.count("\n") + (not text.endswith("\n") and bool(text))
        if self.lines > self.max_lines:
            raise IncludeLimit(f"{self.origin}: more than {self.max_lines} lines read through includes in one parse "
                               f"(the bound), at {path}")
        return text

    def regular_text(self, path: str) -> str:
        """``text`` of a regular file only (never a FIFO or a device); NotFound when absent."""
        return self.text(path)  # the host refuses anything but a regular file, unopened

    def glob(self, pattern: str) -> list[str]:
        return self.ctx.glob(pattern)


def unavailable(exc: HostError) -> Unavailable:
    return Unavailable(exc.reason, not_applicable=isinstance(exc, NotSupported))


def each_path(ctx: Context, paths: list[str], read: Callable[[Context, str], object]) -> dict[str, object]:
    """``read(ctx, path)`` for every path; a path the host cannot read is Unavailable with the
    reason, and the others are still gathered."""
    out: dict[str, object] = {}
    for path in paths:
        try:
            out[path] = read(ctx, path)
        except HostError as exc:
            out[path] = unavailable(exc)
    return out


class Context:
    """Everything gathered in one scan goes through here, so each file is read once."""

    def __init__(self, host: Host, feeds: object | None = None, now: dt.datetime | None = None,
                 state_dir: str = DEFAULT_STATE_DIR, data: Mapping[str, str] | None = None) -> None:
        self.host = host
        # Data files of the signed directives in force, by name -> a local path (the agent's own
        # state directory, agent.directive_store): they replace the shipped ones.
        self.data = data
        self.state_dir = state_dir  # the agent's state directory on the target (its last_scan.json)
        self.feeds = feeds  # the scan's feed store (agent.feeds.store.FeedStore); None = the configured one
        self.now = now or dt.datetime.now(dt.timezone.utc)  # the scan's clock, for ages and deadlines
        self._text: dict[str, str | HostError] = {}
        self._memo: dict[str, object] = {}

    def text(self, path: str) -> str:
        """A file's text (undecodable bytes replaced); raises HostError, memoized."""
        if path not in self._text:
            try:
                self._text[path] = self.host.read(path).decode("utf-8", "replace")
            except HostError as exc:
                self._text[path] = exc
        value = self._text[path]
        if isinstance(value, HostError):
            raise value
        return value

    def regular_text(self, path: str) -> str:
        """A file's text, opened only when it is a regular file (never a FIFO or a device: the
        host refuses those unopened); raises HostError (NotFound when absent)."""
        return self.text(path)

    def text_or_none(self, path: str) -> str | None:
        """A file's text, or None when it does not exist; other errors raise."""
        try:
            return self.text(path)
        except NotFound:
            return None

    def listdir(self, path: str) -> list[str]:
        """Names in a directory; an absent directory is empty."""
        try:
            return self.host.listdir(path)
        except NotFound:
            return []

    def glob(self, pattern: str) -> list[str]:
        """Expand a glob whose wildcards are in the last component, sorted as the C library does."""
        directory, _, name = pattern.rpartition("/")
        if not any(c in name for c in "*?["):
            return [pattern]
        return [f"{directory}/{n}" for n in self.listdir(directory or "/") if fnmatch.fnmatchcase(n, name)]

    def config_dir_files(self, dirs: tuple[str, ...], suffix: str) -> list[tuple[str, str]]:
        """Drop-in files as systemd and modprobe read them: a file name in an earlier
        directory shadows the same name in later ones; the result is sorted by file name. Names
        starting with a dot are hidden files to both (conf_files_list, libkmod) and skipped."""
        chosen: dict[str, str] = {}
        self.host.prefetch(dirs)
        for directory in dirs:
            for name in self.listdir(directory):
                if name.endswith(suffix) and not name.startswith(".") and name not in chosen:
                    chosen[name] = f"{directory}/{name}"
        self.host.prefetch(list(chosen.values()))
        return sorted(chosen.items())

    def includes(self, origin: str) -> Includes:
        """A fresh budget for one parse of ``origin`` and what it includes."""
        return Includes(self, origin)

    def memo(self, key: str, make: Callable[[], T]) -> T:
        if key not in self._memo:
            self._memo[key] = make()
        return self._memo[key]  # type: ignore[return-value]

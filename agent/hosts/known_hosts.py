"""A known_hosts file read as OpenSSH reads it (sshd(8), SSH_KNOWN_HOSTS FILE FORMAT).

paramiko's own loader takes a marker line (``@cert-authority`` or ``@revoked``) for a host
pattern plus a key and fails the whole file on it. Here each line is parsed on its own:

- a plain line is a trusted key for the hosts its patterns match (``*`` and ``?`` wildcards,
  ``!`` negation, hashed ``|1|`` names, ``[host]:port``), as OpenSSH matches them;
- ``@revoked PATTERNS TYPE KEY``: that key is refused for the hosts the patterns match, even
  where a plain line also lists it;
- ``@cert-authority``: host certificates are not accepted by this client, so the line is
  ignored, with a warning when its patterns match the host being reached;
- a malformed line is skipped with a warning naming it, as OpenSSH skips it.

An inventory reaches hundreds of hosts with one file of hundreds of lines: ``load_cached``
parses it once (again only when it changes, as ``--accept-new`` appends to it), and
``KnownHosts.matching`` finds a host's lines through an index of the literal host names,
trying only the lines with wildcards, negations or hashed names one by one.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import functools
import os
import re
import threading
from dataclasses import dataclass, field
from typing import Any

MAX_SIZE = 16 * 1024 * 1024  # the operator's file, but still not read without a bound


@dataclass(frozen=True)
class Marked:
    """One marker line: where it is, the host patterns it names and its key."""

    line: int
    patterns: tuple[str, ...]
    key: Any  # paramiko.PKey


@dataclass
class KnownHosts:
    path: str
    entries: list[tuple[list[str], Any]] = field(default_factory=list)  # (host names, paramiko.PKey)
    revoked: list[Marked] = field(default_factory=list)
    authorities: list[Marked] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # malformed lines, each skipped
    # entries' positions by literal host name (lower case), and those of every other entry;
    # built on first use, from entries that are not changed afterwards
    _index: tuple[dict[str, list[int]], list[int]] | None = field(default=None, repr=False, compare=False)

    def revoked_line(self, hostname: str, key: Any) -> int | None:
        """The line that revokes ``key`` for ``hostname`` (a known_hosts name), or None."""
        for marked in self.revoked:
            if marked.key.asbytes() == key.asbytes() and host_matches(hostname, marked.patterns):
                return marked.line
        return None

    def trusted(self, hostname: str) -> list[tuple[list[str], Any]]:
        """The plain entries to trust when reaching ``hostname``: a key revoked for it is
        left out, whichever plain line lists it, so it can never be accepted as known."""
        return [(names, key) for names, key in self.entries if self.revoked_line(hostname, key) is None]

    def matching(self, hostname: str) -> list[tuple[list[str], Any]]:
        """The plain entries whose host patterns match ``hostname``, in file order, less the
        keys revoked for it: ``trusted`` filtered by ``host_matches``, without trying every line."""
        if self._index is None:
            self._index = self._build_index()  # two threads may both build it: the same value
        literal, patterned = self._index
        found = sorted({*literal.get(hostname.lower(), ()), *patterned})
        return [(names, key) for names, key in (self.entries[i] for i in found)
                if host_matches(hostname, tuple(names)) and self.revoked_line(hostname, key) is None]

    def _build_index(self) -> tuple[dict[str, list[int]], list[int]]:
        literal: dict[str, list[int]] = {}
        patterned: list[int] = []
        for i, (names, _) in enumerate(self.entries):
            if any(_special(p) for p in names):
                patterned.append(i)
                continue
            for name in {p.lower() for p in names}:
                literal.setdefault(name, []).append(i)
        return literal, patterned

    def warnings(self, hostname: str) -> list[str]:
        """What the operator should know about this file when reaching ``hostname``."""
        out = list(self.problems)
        for marked in self.authorities:
            if host_matches(hostname, marked.patterns):
                out.append(f"{self.path}:{marked.line}: @cert-authority ignored for {hostname}: host certificates "
                           "are not accepted; the host's own key must be listed")
        return out


def _hashed_matches(hostname: str, pattern: str) -> bool:
    """``|1|salt|hash``: HMAC-SHA1 of the name keyed by the salt (ssh-keygen -H)."""
    try:
        _, _, salt, digest = pattern.split("|")
        expected = hmac.new(base64.b64decode(salt), hostname.encode(), hashlib.sha1).digest()
        return hmac.compare_digest(expected, base64.b64decode(digest))
    except (ValueError, binascii.Error):
        return False


def _special(pattern: str) -> bool:
    """Whether a host pattern is more than a literal name (wildcard, negation, hashed)."""
    return pattern.startswith(("!", "|")) or "*" in pattern or "?" in pattern


@functools.lru_cache(maxsize=4096)
def _wildcard(pattern: str) -> re.Pattern[str]:
    """A wildcard pattern compiled once (lower case): only * and ? are special."""
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern.lower()))


def host_matches(hostname: str, patterns: tuple[str, ...]) -> bool:
    """OpenSSH's match_hostname: any positive pattern matches and no negated one does;
    ``*`` and ``?`` are wildcards, names compare without case."""
    name = hostname.lower()
    found = False
    for raw in patterns:
        negated = raw.startswith("!")
        pattern = raw[1:] if negated else raw
        if pattern.startswith("|1|"):
            hit = _hashed_matches(hostname, pattern)
        elif "*" in pattern or "?" in pattern:
            hit = _wildcard(pattern).fullmatch(name) is not None
        else:  # "[host]:port" is literal
            hit = pattern.lower() == name
        if hit and negated:
            return False
        found = found or hit
    return found


def _key(kind: str, blob: str) -> Any:
    """A paramiko public key, or None for a type paramiko does not know; raises ValueError."""
    import paramiko

    try:
        data = base64.b64decode(blob.encode(), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("its key is not base64") from None
    try:
        return paramiko.PKey.from_type_string(kind, data)
    except paramiko.pkey.UnknownKeyType:
        return None
    except (paramiko.SSHException, ValueError, TypeError) as exc:
        raise ValueError(f"its {kind} key cannot be read ({exc})") from None


def parse(text: str, path: str) -> KnownHosts:
    known = KnownHosts(path)
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split()
        marker = fields.pop(0) if fields[0].startswith("@") else ""
        if marker not in ("", "@revoked", "@cert-authority"):
            known.problems.append(f"{path}:{number}: unknown marker {marker[:40]!r}, line ignored")
            continue
        if len(fields) < 3:
            known.problems.append(f"{path}:{number}: not HOSTS TYPE KEY, line ignored")
            continue
        patterns, kind, blob = tuple(fields[0].split(",")), fields[1], fields[2]
        try:
            key = _key(kind, blob)
        except ValueError as exc:
            known.problems.append(f"{path}:{number}: {exc}, line ignored")
            continue
        if key is None:
            continue  # a key type this client cannot use: OpenSSH skips it too
        if marker == "@revoked":
            known.revoked.append(Marked(number, patterns, key))
        elif marker == "@cert-authority":
            known.authorities.append(Marked(number, patterns, key))
        else:
            known.entries.append((list(patterns), key))
    return known


def load(path: str) -> KnownHosts:
    """The file at ``path``; an absent file knows no host. Raises OSError."""
    if not os.path.exists(path):
        return KnownHosts(path)
    with open(path, "rb") as fh:
        data = fh.read(MAX_SIZE + 1)
    if len(data) > MAX_SIZE:
        raise OSError(f"larger than {MAX_SIZE // (1024 * 1024)} MiB")
    return parse(data.decode("utf-8", "replace"), path)


_CACHE: dict[str, tuple[tuple[int, int, int] | None, KnownHosts]] = {}
_CACHE_LOCK = threading.Lock()


def _stamp(path: str) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def load_cached(path: str) -> KnownHosts:
    """``load``, parsed once for the many connections of an inventory, and again whenever the
    file has changed since (another host's key appended with --accept-new, an edit). Raises
    OSError. The result is shared between threads: it is read, never changed."""
    stamp = _stamp(path)
    with _CACHE_LOCK:
        hit = _CACHE.get(path)
    if hit is not None and stamp is not None and hit[0] == stamp:
        return hit[1]
    known = load(path)  # stamped before reading: a change while reading is read again next time
    with _CACHE_LOCK:
        _CACHE[path] = (stamp, known)
    return known

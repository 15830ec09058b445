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
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
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
        else:  # only * and ? are special; "[host]:port" is literal
            regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern.lower())
            hit = re.fullmatch(regex, name) is not None
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

"""The files of a directive repository (The Update Framework) as the collector serves them at
``/api/v1/tuf/``: which request paths name a file, how it is opened, its content type, cache
policy and entity tag. No FastAPI here; collectors.routes.tuf answers with what this finds.

A repository is a directory with ``metadata/`` and ``targets/``. Everything in it is signed
data meant for anyone, so reading needs no token; what must not happen is reading anything
else: a request path is a short run of plain segments under one of those two folders, and
the file it names is opened only if its real path (symlinks resolved) stays inside the
repository and it is a regular file.
"""
from __future__ import annotations

import hashlib
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from collectors import NotFound

MAX_FILE = 64 * 1024 * 1024  # a signed bundle of directives is kilobytes; refuse to load more than this
MAX_DEPTH = 8  # segments below metadata/ or targets/
SEGMENT = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._%-]{0,254}")  # role names travel URL-quoted ('%')
METADATA = re.compile(r"[A-Za-z0-9_%-][A-Za-z0-9._%-]{0,254}\.json")
VERSIONED = re.compile(r"[1-9][0-9]{0,18}\.")  # N.snapshot.json, N.root.json: never rewritten
HASHED = re.compile(r"(?:[0-9a-f]{64}|[0-9a-f]{128})\.")  # targets/.../<sha256>.<name> under consistent snapshots

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"  # timestamp.json, root.json: cache, but ask each time (an ETag makes that cheap)
TYPES = {".json": "application/json", ".yaml": "application/yaml", ".yml": "application/yaml",
         ".gz": "application/gzip", ".tgz": "application/gzip", ".tar": "application/x-tar"}


@dataclass(frozen=True)
class ServedFile:
    data: bytes
    media_type: str
    cache_control: str
    etag: str

    def matches(self, if_none_match: str | None) -> bool:
        """True when the client's If-None-Match names this content (RFC 9110: weak comparison)."""
        if not if_none_match:
            return False
        tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
        return "*" in tags or self.etag in tags


def checked_parts(path: str) -> tuple[str, ...]:
    """The segments of a request path below the repository, or NotFound: ``metadata/NAME.json``
    or ``targets/SEG/.../NAME``, each segment plain (no '..', no leading dot, no empty one)."""
    parts = tuple(path.split("/"))
    if len(parts) < 2 or len(parts) > MAX_DEPTH + 1:
        raise NotFound("no such file in the directive repository")
    top, rest = parts[0], parts[1:]
    if top == "metadata" and len(rest) == 1 and METADATA.fullmatch(rest[0]) and ".." not in rest[0]:
        return parts
    if top == "targets" and all(SEGMENT.fullmatch(p) and ".." not in p for p in rest):
        return parts
    raise NotFound("no such file in the directive repository")


def cache_control(parts: tuple[str, ...]) -> str:
    """Versioned metadata and hash-prefixed targets never change under their name: immutable.
    Everything else (timestamp.json, root.json, unhashed targets) is revalidated each time."""
    name = parts[-1]
    if parts[0] == "metadata":
        return IMMUTABLE if VERSIONED.match(name) else REVALIDATE
    return IMMUTABLE if HASHED.match(name) else REVALIDATE


def media_type(name: str) -> str:
    for ext, kind in TYPES.items():
        if name.endswith(ext):
            return kind
    return "application/octet-stream"


def read_served(root: Path, path: str) -> ServedFile:
    """The file ``path`` names in the repository at ``root``, or NotFound (nothing outside the
    repository, nothing but regular files, nothing over MAX_FILE)."""
    parts = checked_parts(path)
    try:
        base = os.path.realpath(root, strict=True)
        real = os.path.realpath(os.path.join(base, *parts), strict=True)
    except OSError:
        raise NotFound("no such file in the directive repository") from None
    if os.path.commonpath([base, real]) != base or real == base:
        raise NotFound("no such file in the directive repository")
    try:
        fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        raise NotFound("no such file in the directive repository") from None
    with os.fdopen(fd, "rb") as fh:
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_FILE:
            raise NotFound("no such file in the directive repository")
        data = fh.read(MAX_FILE + 1)
    if len(data) > MAX_FILE:
        raise NotFound("no such file in the directive repository")
    etag = '"' + hashlib.sha256(data).hexdigest()[:32] + '"'  # of the bytes: a mirror gives the same tag
    return ServedFile(data, media_type(parts[-1]), cache_control(parts), etag)


@dataclass(frozen=True)
class ServedRepository:
    """The folder served at /api/v1/tuf/: a repository as published (``mirrored`` False), or
    the verified copy a mirror keeps, which counts only once its first refresh wrote it."""

    path: Path
    mirrored: bool = False

    def root(self) -> Path | None:
        if self.mirrored and not (self.path / "metadata" / "timestamp.json").is_file():
            return None
        return self.path

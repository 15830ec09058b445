"""RPM's SQLite package database (rpmdb.sqlite, RPM 4.16 and later), read without rpm.

Each row of ``Packages`` holds one package header blob: a big-endian count of index entries
and the size of the data store, then the entries (tag, type, offset, count; 16 bytes each),
then the data store. Only the tags an inventory needs are read. The database bytes come from
the Host (so this works on images and over SSH) and are opened in memory: nothing is written.
"""
from __future__ import annotations

import sqlite3
import struct

from checks.facts import Package

NAME, VERSION, RELEASE, EPOCH, ARCH, SOURCERPM = 1000, 1001, 1002, 1003, 1022, 1044
INT32, STRING = 4, 6
WANTED = {NAME, VERSION, RELEASE, EPOCH, ARCH, SOURCERPM}


class RpmdbError(ValueError):
    """The bytes are not an RPM SQLite database, or a header in it is damaged."""


def header_tags(blob: bytes) -> dict[int, str | int]:
    """The wanted tags of one header blob: strings as str, EPOCH as int."""
    if len(blob) < 8:
        raise RpmdbError("header blob too short")
    count, size = struct.unpack_from(">ii", blob, 0)
    store = 8 + 16 * count
    if count < 0 or size < 0 or store + size > len(blob):
        raise RpmdbError("header blob sizes do not add up")
    out: dict[int, str | int] = {}
    for i in range(count):
        tag, kind, offset, n = struct.unpack_from(">iiii", blob, 8 + 16 * i)
        if tag not in WANTED or not 0 <= offset < size:
            continue
        start = store + offset
        if kind == INT32 and n >= 1:
            out[tag] = struct.unpack_from(">i", blob, start)[0]
        elif kind == STRING:
            end = blob.index(b"\0", start)
            out[tag] = blob[start:end].decode("utf-8", "replace")
    return out


def parse_rpmdb_sqlite(data: bytes) -> dict[str, tuple[Package, ...]]:
    """Installed packages by name, as ``rpm -qa`` would list them."""
    if len(data) >= 100 and data[:16] == b"SQLite format 3\0" and data[18:20] == b"\2\2":
        # WAL mode (rpm's default): an in-memory copy must say "rollback journal" to open.
        data = data[:18] + b"\1\1" + data[20:]
    db = sqlite3.connect(":memory:")
    try:
        db.deserialize(data)
        rows = db.execute("SELECT blob FROM Packages").fetchall()
    except sqlite3.DatabaseError as exc:
        raise RpmdbError(f"not an RPM SQLite database: {exc}") from None
    finally:
        db.close()
    out: dict[str, list[Package]] = {}
    for (blob,) in rows:
        tags = header_tags(bytes(blob))
        name = str(tags.get(NAME, ""))
        if not name or name == "gpg-pubkey":  # imported signing keys are headers too, not packages
            continue
        evr = f"{tags.get(VERSION, '')}-{tags.get(RELEASE, '')}"
        if EPOCH in tags:
            evr = f"{tags[EPOCH]}:{evr}"
        srpm = str(tags.get(SOURCERPM, ""))
        source = srpm.rsplit("-", 2)[0] if srpm else name
        out.setdefault(name, []).append(Package(name, evr, str(tags.get(ARCH, "")), source, evr))
    return {k: tuple(v) for k, v in out.items()}

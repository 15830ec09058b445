"""A compiled cache of the shipped directive library, so a scan does not parse its YAML.

Loading the shipped library (YAML parsing with a line per node, then building the model) is
most of a scan's start-up. The first load writes what it built to a cache file; later loads
read that back when its key still matches and skip YAML altogether. The key is a digest of
everything the loaded library depends on: every file under ``directives/library/`` (names and
bytes, ``validated.json`` included), the code that builds the model (this module,
``loader.py``, ``model.py``, ``params.py``, ``yamldoc.py``), the library's path and the Python
version. The shipped data files a scan reads (``data/end_of_support.yaml``) are cached the same
way (``data_file``), each keyed by its own bytes.

Nothing in the file is trusted that the key and its own digest do not vouch for:

- it is data only (JSON: dataclasses, tuples and dates tagged), never pickle, so a corrupt or
  forged file cannot run code; an unknown class, a field the model does not have (or lacks),
  or a value of a type the codec does not know makes the whole file stale;
- its header carries the SHA-256 of the payload, so a truncated or edited file is ignored;
- it is read only when owned by the current user and writable by nobody else, in a folder
  of the same kind (what a user could write for another user is never read);
- a file that fails any of this is rebuilt from the YAML, and written by temp file + rename.

Only shipped files are cached: directive files a user passes (``--directives``) always
take the full validation path. Where (first that is set): ``$FEDHARDEN_CACHE_DIR``;
``/var/cache/fedharden`` as root; ``$XDG_CACHE_HOME/fedharden``; ``~/.cache/fedharden``. An
unwritable location only means every load parses the YAML, as before.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import importlib
import json
import os
import stat
import sys
from typing import Any, Callable

from directives.model import Directive
from directives.packaged import packaged

FORMAT = 1
CODE = ("library_cache.py", "loader.py", "model.py", "params.py", "yamldoc.py")  # what builds the cached values


class Stale(Exception):
    """The cache cannot be used (missing, foreign, corrupt or of another key): load the YAML."""


def directory() -> str:
    named = os.environ.get("FEDHARDEN_CACHE_DIR")
    if named:
        return named
    if os.geteuid() == 0:
        return "/var/cache/fedharden"
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "fedharden") if os.path.isabs(base) else ""  # no home: no cache (not ./~)


def key(source: str) -> str:
    """The digest of everything a cached value depends on: the code that builds it and ``source``,
    a file or every file under a folder (see the module docstring)."""
    sha = hashlib.sha256(f"fedharden-library-cache {FORMAT} {sys.version}\0{source}\0".encode())
    package = os.path.dirname(os.path.abspath(__file__))
    files = [os.path.join(package, name) for name in CODE]
    if os.path.isdir(source):
        for folder, dirs, names in os.walk(source):
            dirs.sort()
            files.extend(os.path.join(folder, name) for name in sorted(names))
    else:
        files.append(source)
    for path in files:
        with open(path, "rb") as fh:
            data = fh.read()
        sha.update(f"{os.path.relpath(path, package)}\0{len(data)}\0".encode())
        sha.update(data)
    return "sha256:" + sha.hexdigest()


def load(build: Callable[[], list[Directive]], location: str | None = None) -> list[Directive]:
    """The shipped library: from the cache when it is current and sound, else ``build()``
    (which raises DirectiveError on an invalid library), then written to the cache."""
    library = packaged("library")
    loaded = _cached("library", library, build, location)
    if not isinstance(loaded, list) or not all(type(d) is Directive for d in loaded):
        return build()
    return loaded


def data_file(relative: str, build: Callable[[], Any], location: str | None = None) -> Any:
    """A shipped data file of ``directives/`` (``data/end_of_support.yaml``) as ``build()`` reads
    it through yamldoc, cached the same way: a scan that needs it then imports no YAML parser."""
    return _cached("data", packaged(relative), build, location)


def _cached(kind: str, source: str, build: Callable[[], Any], location: str | None) -> Any:
    # One file per installed source, so that two installs (a virtualenv beside the system's) do not
    # keep replacing each other's.
    folder = location or directory()
    if not folder:
        return build()
    where = os.path.join(folder, f"{kind}-{hashlib.sha256(source.encode()).hexdigest()[:16]}.json")
    try:
        wanted = key(source)
    except OSError:  # the source cannot be read: building says why
        return build()
    try:
        return read(where, wanted)
    except Stale:
        pass
    value = build()
    try:
        write(where, wanted, value)
    except (OSError, Stale):
        pass  # no cache here: every load parses the YAML, as without one
    return value


def read(path: str, wanted: str) -> Any:
    """The value cached at ``path`` when its key is ``wanted`` and the file is sound; else Stale."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        raise Stale(path) from None
    try:
        _owned(os.fstat(fd))
        _owned(os.stat(os.path.dirname(path)))
        with os.fdopen(fd, "rb") as fh:
            fd = -1
            raw = fh.read()
    except OSError:
        raise Stale(path) from None
    finally:
        if fd >= 0:
            os.close(fd)
    head, _, payload = raw.partition(b"\n")
    try:
        header = json.loads(head)
        if header != {"format": FORMAT, "key": wanted, "sha256": hashlib.sha256(payload).hexdigest()}:
            raise Stale(path)
        return json.loads(payload, object_hook=_decode)
    except (ValueError, TypeError, KeyError, AttributeError, ImportError) as exc:
        raise Stale(path) from exc


def _owned(st: os.stat_result) -> None:
    """Only what this user wrote, and no one else can change, is read."""
    if st.st_uid != os.geteuid() or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise Stale("not owned by this user alone")


def write(path: str, wanted: str, value: Any) -> None:
    import tempfile

    payload = json.dumps(_encode(value), separators=(",", ":"), ensure_ascii=False).encode()
    header = json.dumps({"format": FORMAT, "key": wanted, "sha256": hashlib.sha256(payload).hexdigest()}).encode()
    folder = os.path.dirname(path)
    os.makedirs(folder, mode=0o700, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=folder, prefix=".library.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(header + b"\n" + payload)
        os.replace(temp, path)
    except BaseException:
        os.unlink(temp)
        raise


# The codec: JSON, with what JSON lacks tagged by a key starting with "!"; a plain mapping that
# has such a key is written as a list of pairs, so no value of the library can pass for a tag.
_PLAIN = (str, int, float, bool, type(None))


def _encode(value: Any) -> Any:
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is list:
        return [_encode(v) for v in value]
    if kind is tuple:
        return {"!t": [_encode(v) for v in value]}
    if kind is dict:
        out = {}
        for k, v in value.items():
            if type(k) is not str:
                raise Stale(f"a mapping key of type {type(k).__name__}")
            out[k] = _encode(v)
        return {"!m": list(out.items())} if any(k.startswith("!") for k in out) else out
    if kind is dt.date:
        return {"!d": value.isoformat()}
    if dataclasses.is_dataclass(value) and kind.__module__.startswith("directives."):
        fields = {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {"!c": f"{kind.__module__}:{kind.__qualname__}", "f": fields}
    raise Stale(f"a value of type {kind.__name__}")  # the model grew a type the codec does not know


def _decode(obj: dict[str, Any]) -> Any:
    if "!t" in obj:
        return tuple(obj["!t"])
    if "!c" in obj:
        return _instance(obj["!c"], obj["f"])
    if "!d" in obj:
        return dt.date.fromisoformat(obj["!d"])
    if "!m" in obj:
        return dict(obj["!m"])
    return obj


@functools.lru_cache(maxsize=None)
def _field_names(cls: type) -> frozenset[str]:
    return frozenset(f.name for f in dataclasses.fields(cls))


def _instance(name: str, values: dict[str, Any]) -> Any:
    """A model dataclass with exactly the fields the file holds, set as the loader set them."""
    module, _, qualname = name.partition(":")
    if not module.startswith("directives.") or "." in qualname:
        raise ValueError(f"class {name} is not of the directive model")
    cls = getattr(importlib.import_module(module), qualname)
    if not dataclasses.is_dataclass(cls) or not isinstance(cls, type):
        raise ValueError(f"{name} is not a dataclass")
    if _field_names(cls) != values.keys():
        raise ValueError(f"{name} has other fields now")
    obj = object.__new__(cls)
    for field, value in values.items():
        object.__setattr__(obj, field, value)
    return obj

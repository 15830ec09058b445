"""Signed directives installed in the state directory, and how a scan takes them in.

Layout (inside the agent's state directory, see agent.state)::

    tuf/metadata/root.json ...        the TUF client's trusted metadata (python-tuf keeps it)
    directives/current -> gen-...     switched with one rename; the set in force
    directives/gen-.../manifest.json  what was installed: from where, each role's version,
                                      expiry and signing keys, each directive's id,
                                      version, origin and path
    directives/gen-.../files/...      the verified target files, at their target paths
                                      (directives/..., agency/<CODE>/...)

agent.directive_updates verifies a set through python-tuf, then ``install`` writes it here:
every file and the manifest in a temporary directory, fsync, one rename into a generation,
one rename of the ``current`` link. A refused or interrupted update leaves the previous
generation in force, whole. Reading needs no cryptography: the state directory is the
agent's own (mode 0700), and what is in it was verified on the way in.

``merge`` decides what a scan evaluates: the shipped library, each of CISA's signed
directives replacing a shipped one of the same id when its declared version is higher
(directives.versions; a new id is
added), and the agency's own directives beside them; an agency directive may not carry an
id of CISA's.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from agent.state import fsync_dir
from directives.versions import higher, shown
from checks.record import record

if TYPE_CHECKING:
    from directives.model import Directive

DIRECTIVES = "directives"
CURRENT = "current"
MANIFEST = "manifest.json"
FILES = "files"
MANIFEST_FORMAT = 1
NATIONAL_ORIGIN = "national"
KEEP = 2  # generations kept: the one in force and the one before it


def store_dir(state_dir: Path) -> Path:
    return state_dir / DIRECTIVES


def metadata_dir(state_dir: Path) -> Path:
    return state_dir / "tuf" / "metadata"


@record
class InstalledDirective:
    """One directive of the generation in force, and who signed it."""

    id: str
    version: str  # as declared ("" when none)
    origin: str  # "national", or the delegated role ("agency-<CODE>") that signed it
    path: str  # below the generation's files/: a file, or a directive folder
    digest: str


@record
class Installed:
    """The generation in force."""

    generation: Path
    manifest: dict[str, Any]

    @property
    def directives(self) -> list[InstalledDirective]:
        return [InstalledDirective(d["id"], str(d["version"]), d["origin"], d["path"], d["digest"])
                for d in self.manifest.get("directives", [])]

    def file(self, relative: str) -> Path:
        return self.generation / FILES / relative


def current(state_dir: Path) -> Installed | None:
    """The installed set, or None when nothing was ever installed (or it cannot be read by
    this user: a scan as an unprivileged user evaluates the shipped library)."""
    link = store_dir(state_dir) / CURRENT
    try:
        generation = link.resolve(strict=True)
        manifest = json.loads((generation / MANIFEST).read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        return None
    return Installed(generation, manifest)


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def stage(state_dir: Path) -> Path:
    """A new, empty temporary generation directory (removed by ``discard`` or renamed by
    ``commit``); temporaries a killed update left behind are swept first."""
    root = store_dir(state_dir)
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    for entry in root.iterdir():
        if entry.name.startswith(".tmp-"):
            shutil.rmtree(entry, ignore_errors=True)
    path = root / f".tmp-{secrets.token_hex(6)}"
    path.mkdir(mode=0o700)
    return path


def write_files(staging: Path, files: dict[str, bytes]) -> None:
    for relative, data in files.items():
        _write(staging / FILES / relative, data)


def discard(staging: Path) -> None:
    shutil.rmtree(staging, ignore_errors=True)


def commit(state_dir: Path, staging: Path, manifest: dict[str, Any]) -> Path:
    """Make a staged generation the one in force: its manifest, fsync of every directory,
    one rename into ``gen-...`` and one rename of the ``current`` link. Older generations
    past KEEP are removed after the switch."""
    root = store_dir(state_dir)
    _write(staging / MANIFEST, json.dumps({"format": MANIFEST_FORMAT, **manifest}, indent=2).encode() + b"\n")
    for directory, _dirs, _files in os.walk(staging, topdown=False):
        fsync_dir(Path(directory))
    name = f"gen-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{secrets.token_hex(3)}"
    generation = root / name
    os.replace(staging, generation)
    link = root / f".tmp-link-{secrets.token_hex(4)}"
    os.symlink(name, link)
    os.replace(link, root / CURRENT)
    fsync_dir(root)
    generations = sorted((p for p in root.iterdir() if p.name.startswith("gen-") and p.is_dir()),
                         key=lambda p: p.stat().st_mtime)
    for old in generations[:-KEEP]:
        if old.name != name:
            shutil.rmtree(old, ignore_errors=True)
    return generation


def load(installed: Installed, *, trusting: bool = True) -> list[tuple[Directive, str]]:
    """Each installed directive with its origin. With ``trusting``, a file whose digest is the
    one the manifest recorded skips the JSON Schema (it was validated in full when it was
    installed; any other content changes the digest and is validated again, as a shipped file's
    is): a signed set costs a scan the parse, not the schema."""
    from directives import load_file

    root = installed.generation / FILES
    trusted = frozenset(d.digest for d in installed.directives) if trusting else frozenset()
    return [(load_file(str(root / d.path), trusted), d.origin) for d in installed.directives]


def merge(shipped: Sequence[Directive], verified: Iterable[tuple[Directive, str]]) -> tuple[list[Directive], list[str]]:
    """The directives a scan evaluates, and a line for each signed one left out.

    CISA's signed directive replaces a shipped one of the same id when its version is
    higher (directives.versions), and is added when the id is new; an agency's is added when its id is none of
    CISA's. Requirement ids stay unique across the set (a signed directive that would reuse
    another's is left out)."""
    out = {d.id: d for d in shipped}
    cisa = set(out)
    notes: list[str] = []
    verified = list(verified)
    for d, origin in verified:
        if origin == NATIONAL_ORIGIN:
            cisa.add(d.id)
    for d, origin in sorted(verified, key=lambda item: item[1] != NATIONAL_ORIGIN):  # CISA's first
        old = out.get(d.id)
        if origin != NATIONAL_ORIGIN and d.id in cisa:
            notes.append(f"{d.id} from {origin} left out: the id is CISA's")
            continue
        if old is not None and not higher(d.version, old.version):
            if old.digest != d.digest:
                notes.append(f"{d.id} version {shown(d.version)} ({origin}) left out: the shipped one is version "
                             f"{shown(old.version)}")
            continue
        others = {r.id for k, o in out.items() if k != d.id for r in o.requirements}
        clash = sorted(others & {r.id for r in d.requirements})
        if clash:
            notes.append(f"{d.id} ({origin}) left out: requirement {clash[0]} belongs to another directive")
            continue
        out[d.id] = d
    return list(out.values()), notes


def with_verified(shipped: list[Directive], state_dir: str | os.PathLike[str] | None) -> tuple[list[Directive], str]:
    """``shipped`` with the signed directives installed in ``state_dir`` merged in, and a
    warning when the installed set no longer loads (an agent upgraded under it): then the
    shipped library alone is in force, and the scan says so."""
    from directives import DirectiveError

    installed = current(Path(state_dir)) if state_dir is not None else None
    if installed is None:
        return shipped, ""
    try:
        return merge(shipped, load(installed))[0], ""
    except (DirectiveError, OSError) as exc:
        first = exc.problems[0] if isinstance(exc, DirectiveError) else str(exc)
        return shipped, (f"the signed directives in {installed.generation} do not load ({first}); the shipped "
                         "library alone is in force until the next directives update")


def data_files(state_dir: str | os.PathLike[str] | None) -> dict[str, str]:
    """The data files of the signed set in force (``directives/data/NAME``), by NAME -> path."""
    installed = current(Path(state_dir)) if state_dir is not None else None
    if installed is None:
        return {}
    return {p.rsplit("/", 1)[-1]: str(installed.file(p)) for p in installed.manifest.get("data", [])
            if isinstance(p, str)}


def profile_file(state_dir: str | os.PathLike[str] | None, name: str) -> str | None:
    """A profile of the signed set in force (``directives/profiles/NAME.yaml``), if it has one."""
    installed = current(Path(state_dir)) if state_dir is not None else None
    if installed is None:
        return None
    wanted = f"{name}.yaml"
    return next((str(installed.file(p)) for p in installed.manifest.get("profiles", [])
                 if isinstance(p, str) and p.rsplit("/", 1)[-1] == wanted), None)

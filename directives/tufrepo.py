"""Signed directive distribution, the repository side: The Update Framework (python-tuf).

A repository is a directory laid out as a python-tuf client reads it, with consistent
snapshots, so a collector serves it as static files (under ``/api/v1/tuf/``)::

    metadata/1.root.json, 2.root.json ...   every root version (clients walk the chain)
    metadata/root.json                       the newest root, for people and tools
    metadata/timestamp.json                  the only file fetched without a version
    metadata/N.snapshot.json  N.targets.json  N.agency-<CODE>.json
    targets/directives/<sha256>.<name>       CISA's targets (directives, data, profiles, index)
    targets/agency/<CODE>/<sha256>.<name>    an agency's targets (on that agency's repository)

Roles as TUF defines them: ``root`` (offline keys, a threshold of them signs), ``targets``
(CISA's directives under ``directives/``), ``snapshot`` and ``timestamp`` (online keys,
short expiry). ``targets`` delegates ``agency/<CODE>/*`` to the role ``agency-<CODE>``,
terminating, with the agency's own key: an agency publishes its own directives to its hosts
and can never alter CISA's. The national repository lists an agency's targets by hash (it
imports the agency's signed role metadata); their bytes are served by that agency alone.

Since a TUF client cannot list targets, each side publishes an index target
(``directives/index.json``, ``agency/<CODE>/index.json``) naming its directives, their
versions and files; the client fetches the index, then each file it names, all verified.

Keys are Ed25519, made and used through securesystemslib and cryptography. A key directory
holds ``<name>.pem`` (the private key, PKCS#8, mode 0600) and ``<name>.pub.json`` (the public
key as TUF writes it) for ``root-1`` .. ``root-N``, ``targets``, ``snapshot``, ``timestamp``
and an agency's ``agency-<CODE>``. docs/directives.md describes the ceremony.

Exceptions: ``PublishError`` (a DirectiveError, one problem line each) for anything a
publisher must fix: a missing key, a repository that does not verify, metadata signed by the
wrong key, a target outside a delegation, a version that does not move forward.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import functools
import hashlib
import io
import json
import os
import re
import shutil
import tarfile
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, TypeVar

from directives import datafiles
from directives.errors import DirectiveError

if TYPE_CHECKING:
    from securesystemslib.signer import CryptoSigner, Key
    from tuf.api.metadata import Metadata, Root, Snapshot, Targets, Timestamp

NATIONAL = "directives"  # the top-level targets' path prefix
INDEX_NAME = "index.json"
NATIONAL_INDEX = f"{NATIONAL}/{INDEX_NAME}"
INDEX_FORMAT = 1
AGENCY_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
ONLINE = ("snapshot", "timestamp")
TOP_LEVEL = ("root", "targets", "snapshot", "timestamp")
# Days each role's metadata stays valid after signing: root and targets are signed at a
# ceremony, snapshot and timestamp by the online keys, timestamp often (a host whose
# timestamp is older than a day refuses it: a freeze attack cannot hold hosts back longer).
EXPIRY_DAYS = {"root": 365, "targets": 90, "snapshot": 7, "timestamp": 1, "agency": 90}
# A published file's path, below its prefix: plain names, no "..", no hidden files.
SAFE_PART = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]*$")
MAX_BUNDLE = 64 * 1024 * 1024  # bytes: a bundle larger than this is refused unread


class PublishError(DirectiveError):
    """A repository, a key or a publication that cannot be used (one line per problem)."""

    def __init__(self, message: str) -> None:
        super().__init__([message])


def agency_role(code: str) -> str:
    return f"agency-{code}"


def agency_prefix(code: str) -> str:
    return f"agency/{code}/"


def agency_index(code: str) -> str:
    return f"{agency_prefix(code)}{INDEX_NAME}"


def check_agency(code: str) -> str:
    if not AGENCY_CODE.match(code):
        raise PublishError(f"agency code {code!r}: letters, digits, '.', '_' and '-' (at most 64)")
    return code


def safe_target_path(path: str, prefix: str) -> bool:
    """Whether ``path`` is a plain relative path under ``prefix`` (which ends in '/')."""
    if not path.startswith(prefix):
        return False
    parts = path[len(prefix):].split("/")
    return bool(parts) and all(SAFE_PART.match(p) and p not in (".", "..") for p in parts)


# -- small file helpers ----------------------------------------------------------------------

LOCK_WAIT = 60.0  # seconds a change waits for another one to the same repository
_held = threading.local()  # repositories this thread holds the lock of (a publication renews inside it)


@contextlib.contextmanager
def locked(repo_path: Path, wait: float = LOCK_WAIT) -> Iterator[None]:
    """Hold ``REPO/.lock`` (flock): one change at a time to a repository (a publication, an
    import and the daily renewal each read the current versions, then write the next)."""
    key = str(repo_path.resolve())
    held: set[str] = getattr(_held, "paths", set())
    _held.paths = held
    if key in held:
        yield
        return
    repo_path.mkdir(parents=True, exist_ok=True)
    fd = os.open(repo_path / ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise PublishError(f"{repo_path}: another change to the repository holds its lock") from None
                time.sleep(0.1)
        held.add(key)
        yield
    finally:
        held.discard(key)
        os.close(fd)


F = TypeVar("F", bound=Callable[..., Any])


def exclusive(fn: F) -> F:
    """Run ``fn(repo_path_or_repository, ...)`` under the repository's lock."""
    @functools.wraps(fn)
    def wrapper(repo: Any, *args: Any, **kwargs: Any) -> Any:
        with locked(repo.path if isinstance(repo, Repository) else Path(repo)):
            return fn(repo, *args, **kwargs)
    return wrapper  # type: ignore[return-value]


def _write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Replace ``path`` with ``data`` in one rename (temporary file in the same directory)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def _expiry(role: str, now: dt.datetime, days: dict[str, int] | None) -> dt.datetime:
    table = {**EXPIRY_DAYS, **(days or {})}
    return now + dt.timedelta(days=table[role])


# -- keys ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyDir:
    """A directory of signing keys (``<name>.pem`` private, ``<name>.pub.json`` public)."""

    path: Path

    def private(self, name: str) -> Path:
        return self.path / f"{name}.pem"

    def public(self, name: str) -> Path:
        return self.path / f"{name}.pub.json"

    def root_names(self) -> list[str]:
        names = sorted((p.name[:-4] for p in self.path.glob("root-*.pem")), key=lambda n: int(n.split("-")[1])
                       if n.split("-")[1].isdigit() else 0)
        return names

    def generate(self, name: str) -> Key:
        """A new Ed25519 key ``name``; refuses to overwrite one."""
        from securesystemslib.signer import CryptoSigner

        self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
        signer = CryptoSigner.generate_ed25519()
        target = self.private(name)
        try:
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise PublishError(f"{target}: a key of that name exists (rotate it instead)") from None
        with os.fdopen(fd, "wb") as fh:
            fh.write(signer.private_bytes)
        _write_atomic(self.public(name), json.dumps(signer.public_key.to_dict(), indent=2).encode() + b"\n")
        return signer.public_key

    def signer(self, name: str) -> CryptoSigner:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
        from cryptography.hazmat.primitives.serialization import load_pem_private_key
        from securesystemslib.signer import CryptoSigner, SSlibKey

        path = self.private(name)
        try:
            private = load_pem_private_key(path.read_bytes(), password=None)
        except FileNotFoundError:
            raise PublishError(f"{path}: no such key") from None
        except OSError as exc:
            raise PublishError(f"{path}: cannot read: {exc.strerror or exc}") from None
        except (ValueError, TypeError) as exc:
            raise PublishError(f"{path}: not an unencrypted PEM private key: {exc}") from None
        if not isinstance(private, Ed25519PrivateKey):
            raise PublishError(f"{path}: not an Ed25519 key")
        return CryptoSigner(private, SSlibKey.from_crypto(private.public_key()))


def read_public_key(path: Path) -> Key:
    """A public key file as ``keys init`` writes it (``<name>.pub.json``)."""
    from securesystemslib.signer import Key

    try:
        doc = json.loads(path.read_bytes())
        return Key.from_dict(_keyid_of(doc), dict(doc))
    except FileNotFoundError:
        raise PublishError(f"{path}: no such file") from None
    except OSError as exc:
        raise PublishError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise PublishError(f"{path}: not a public key file: {exc}") from None


def _keyid_of(doc: dict[str, Any]) -> str:
    """The keyid TUF gives a key: the SHA-256 of its canonical JSON form."""
    from securesystemslib.formats import encode_canonical

    canonical = encode_canonical({k: doc[k] for k in ("keytype", "scheme", "keyval")})
    assert isinstance(canonical, str)
    return hashlib.sha256(canonical.encode()).hexdigest()


# -- the repository ----------------------------------------------------------------------------


class Repository:
    """A TUF repository directory; every write lands by rename, metadata before the files
    that name it (targets, then snapshot, then timestamp), so a reader never sees a
    timestamp that points at something missing."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.metadata_dir = path / "metadata"
        self.targets_dir = path / "targets"

    # reading

    def _load(self, name: str) -> Metadata[Any]:
        from tuf.api.metadata import Metadata

        path = self.metadata_dir / name
        try:
            return Metadata.from_bytes(path.read_bytes())
        except FileNotFoundError:
            raise PublishError(f"{path}: missing (is {self.path} a repository? run directives keys init)") from None
        except OSError as exc:
            raise PublishError(f"{path}: cannot read: {exc.strerror or exc}") from None
        except Exception as exc:  # python-tuf raises several kinds for a malformed file
            raise PublishError(f"{path}: not TUF metadata: {exc}") from None

    def root(self) -> Metadata[Root]:
        return self._load("root.json")

    def timestamp(self) -> Metadata[Timestamp]:
        return self._load("timestamp.json")

    def snapshot(self) -> Metadata[Snapshot]:
        return self._load(f"{self.timestamp().signed.snapshot_meta.version}.snapshot.json")

    def targets(self, role: str = "targets") -> Metadata[Targets]:
        meta = self.snapshot().signed.meta.get(f"{role}.json")
        if meta is None:
            raise PublishError(f"{self.path}: the snapshot lists no {role} metadata")
        return self._load(f"{meta.version}.{role}.json")

    def latest_agency(self, code: str) -> Metadata[Targets] | None:
        """The newest ``N.agency-<CODE>.json`` on disk (the agency's own repository may hold
        versions its national snapshot does not list yet)."""
        role = agency_role(code)
        versions = [int(p.name.split(".")[0]) for p in self.metadata_dir.glob(f"*.{role}.json")
                    if p.name.split(".")[0].isdigit()]
        return self._load(f"{max(versions)}.{role}.json") if versions else None

    # writing

    def _write(self, md: Metadata[Any], name: str) -> Path:
        from tuf.api.serialization.json import JSONSerializer

        path = self.metadata_dir / name
        _write_atomic(path, md.to_bytes(JSONSerializer(compact=False)))
        return path

    def write_root(self, md: Metadata[Root]) -> None:
        self._write(md, f"{md.signed.version}.root.json")
        self._write(md, "root.json")

    def write_target_file(self, path: str, data: bytes) -> str:
        """The bytes of target ``path`` under their consistent-snapshot name; their sha256."""
        digest = hashlib.sha256(data).hexdigest()
        directory, _, name = path.rpartition("/")
        _write_atomic(self.targets_dir / directory / f"{digest}.{name}", data)
        return digest


def _sign(md: Metadata[Any], signers: Iterable[CryptoSigner]) -> None:
    md.signatures.clear()
    for signer in signers:
        md.sign(signer, append=True)


def _role_signers(keys: KeyDir, role: str, root: Root) -> list[CryptoSigner]:
    """The signers of a top-level role whose keys ``root`` lists, from the key directory."""
    names = keys.root_names() if role == "root" else [role]
    wanted = set(root.roles[role].keyids)
    signers = [s for s in (keys.signer(n) for n in names) if s.public_key.keyid in wanted]
    if len(signers) < root.roles[role].threshold:
        raise PublishError(f"{keys.path}: holds {len(signers)} of the {root.roles[role].threshold} {role} keys "
                           "the root requires")
    return signers


def init(repo_path: Path, key_path: Path, *, root_keys: int = 1, threshold: int = 1,
         now: dt.datetime | None = None, expiry_days: dict[str, int] | None = None) -> Repository:
    """New keys for every top-level role and a repository signed with them (root version 1,
    empty targets): what the first key ceremony makes."""
    from tuf.api.metadata import Metadata, Root, Snapshot, Targets

    if not 1 <= threshold <= root_keys:
        raise PublishError(f"--threshold {threshold}: between 1 and the number of root keys ({root_keys})")
    repo = Repository(repo_path)
    if (repo.metadata_dir / "root.json").exists():
        raise PublishError(f"{repo.metadata_dir / 'root.json'}: a repository exists here (rotate its keys instead)")
    keys = KeyDir(key_path)
    now = now or _now()
    root = Root(expires=_expiry("root", now, expiry_days), consistent_snapshot=True)
    for i in range(1, root_keys + 1):
        root.add_key(keys.generate(f"root-{i}"), "root")
    root.roles["root"].threshold = threshold
    for role in ("targets", "snapshot", "timestamp"):
        root.add_key(keys.generate(role), role)
    root_md = Metadata(root)
    _sign(root_md, _role_signers(keys, "root", root))
    repo.write_root(root_md)
    targets_md = Metadata(Targets(expires=_expiry("targets", now, expiry_days)))
    _sign(targets_md, _role_signers(keys, "targets", root))
    repo._write(targets_md, "1.targets.json")
    snapshot_md = Metadata(Snapshot(expires=_expiry("snapshot", now, expiry_days)))
    _sign(snapshot_md, _role_signers(keys, "snapshot", root))
    repo._write(snapshot_md, "1.snapshot.json")
    _timestamp(repo, keys, root, snapshot_md, now, expiry_days, version=1)
    return repo


def _timestamp(repo: Repository, keys: KeyDir, root: Root, snapshot_md: Metadata[Snapshot], now: dt.datetime,
               expiry_days: dict[str, int] | None, version: int) -> None:
    from tuf.api.metadata import MetaFile, Metadata, Timestamp

    from tuf.api.serialization.json import JSONSerializer

    data = snapshot_md.to_bytes(JSONSerializer(compact=False))
    meta = MetaFile(version=snapshot_md.signed.version, length=len(data),
                    hashes={"sha256": hashlib.sha256(data).hexdigest()})
    ts = Metadata(Timestamp(version=version, expires=_expiry("timestamp", now, expiry_days), snapshot_meta=meta))
    _sign(ts, _role_signers(keys, "timestamp", root))
    repo._write(ts, "timestamp.json")


@exclusive
def renew(repo: Repository, keys: KeyDir, *, now: dt.datetime | None = None,
          expiry_days: dict[str, int] | None = None, extra_meta: dict[str, int] | None = None) -> int:
    """A new snapshot (every targets role's current version) and timestamp, signed with the
    online keys; what a publication ends with, and what a collector runs daily so hosts do
    not see expired metadata. Returns the snapshot's version."""
    from tuf.api.metadata import MetaFile, Metadata, Snapshot

    now = now or _now()
    root = repo.root().signed
    old_snapshot = repo.snapshot().signed
    ts_version = repo.timestamp().signed.version
    meta = {name: MetaFile(version=m.version) for name, m in old_snapshot.meta.items()}
    for name, version in (extra_meta or {}).items():
        meta[f"{name}.json"] = MetaFile(version=version)
    snapshot_md = Metadata(Snapshot(version=old_snapshot.version + 1, expires=_expiry("snapshot", now, expiry_days),
                                    meta=meta))
    _sign(snapshot_md, _role_signers(keys, "snapshot", root))
    repo._write(snapshot_md, f"{snapshot_md.signed.version}.snapshot.json")
    _timestamp(repo, keys, root, snapshot_md, now, expiry_days, version=ts_version + 1)
    return snapshot_md.signed.version


# -- what is published ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Published:
    """What one publication signed: the role, its new version, each directive and file."""

    role: str
    version: int
    directives: tuple[tuple[str, str], ...]  # (id, declared version)
    files: tuple[str, ...]  # target paths, index included


def collect(source: Path, prefix: str) -> tuple[dict[str, bytes], dict[str, Any]]:
    """The files of a publication directory and its index: every directive (file or folder)
    validated as a host will validate it, plus ``data/`` and ``profiles/`` as they are.
    Target paths are ``prefix`` + the path below ``source``."""
    from directives.loader import directory_files, load_paths

    if not source.is_dir():
        raise PublishError(f"{source}: not a directory")
    loaded = load_paths(directory_files(str(source)))  # DirectiveError lists every problem
    if not loaded:
        raise PublishError(f"{source}: no directive files (*.yaml) or folders in it")
    _check_against_shipped(loaded, national=prefix == f"{NATIONAL}/")
    files: dict[str, bytes] = {}
    entries: list[dict[str, Any]] = []
    for d in loaded:
        src = Path(d.source)
        members = sorted(p for p in src.iterdir() if p.is_file() and not p.name.startswith(".")) if src.is_dir() \
            else [src]
        paths = []
        for member in members:
            rel = member.relative_to(source).as_posix()
            path = prefix + rel
            if not safe_target_path(path, prefix):
                raise PublishError(f"{member}: not a plain file name (letters, digits, '.', '_', '+', '-')")
            files[path] = member.read_bytes()
            paths.append(path)
        entry: dict[str, Any] = {"id": d.id, "version": d.version, "digest": d.digest, "paths": paths}
        if src.is_dir():
            entry["folder"] = prefix + src.relative_to(source).as_posix()
        entries.append(entry)
    extras: dict[str, list[str]] = {}
    for kind in ("data", "profiles"):
        folder = source / kind
        if folder.is_dir():
            for member in sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")):
                path = f"{prefix}{kind}/{member.name}"
                if not safe_target_path(path, prefix):
                    raise PublishError(f"{member}: not a plain file name")
                files[path] = member.read_bytes()
                if kind == "data":  # parsed as a host will parse it
                    datafiles.check(member.name, files[path].decode("utf-8", "replace"), str(member))
                extras.setdefault(kind, []).append(path)
    index = {"format": INDEX_FORMAT, "directives": sorted(entries, key=lambda e: str(e["id"])), **extras}
    return files, index


def _check_against_shipped(loaded: list[Any], *, national: bool) -> None:
    """What hosts would do with a directive of a shipped id, said before anything is signed:
    an agency may not use one; CISA's must declare a higher version to replace the shipped
    one (hosts keep the shipped directive otherwise)."""
    from directives.loader import library_paths, load_paths
    from directives.versions import higher, shown

    shipped = {d.id: d for d in load_paths(library_paths())}
    for d in loaded:
        old = shipped.get(d.id)
        if old is None:
            continue
        if not national:
            raise PublishError(f"{d.source}: {d.id} is an id of CISA's; an agency's directives need ids of their own")
        if old.digest != d.digest and not higher(d.version, old.version):
            raise PublishError(f"{d.source}: {d.id} differs from the shipped one but its version {shown(d.version)} is "
                               f"not above the shipped {shown(old.version)}: hosts would keep the shipped one "
                               "(declare version:)")


def _target_files(repo: Repository, files: dict[str, bytes], index_path: str,
                  index: dict[str, Any]) -> dict[str, Any]:
    from tuf.api.metadata import TargetFile

    files = {**files, index_path: json.dumps(index, indent=2, sort_keys=True).encode() + b"\n"}
    out: dict[str, Any] = {}
    for path, data in sorted(files.items()):
        repo.write_target_file(path, data)
        out[path] = TargetFile.from_data(path, data, ["sha256"])
    return out


def publish(repo_path: Path, key_path: Path, source: Path, *, now: dt.datetime | None = None,
            expiry_days: dict[str, int] | None = None) -> Published:
    """CISA's publication: the directives of ``source`` become the top-level targets (the
    whole set: a directive left out is withdrawn), signed by the targets key, then a new
    snapshot and timestamp."""
    files, index = collect(source, f"{NATIONAL}/")
    return publish_files(repo_path, key_path, files, index, now=now, expiry_days=expiry_days)


@exclusive
def publish_files(repo_path: Path, key_path: Path, files: dict[str, bytes], index: dict[str, Any], *,
                  now: dt.datetime | None = None, expiry_days: dict[str, int] | None = None) -> Published:
    """Sign ``files`` (target path -> bytes, under ``directives/``) and ``index`` as CISA's
    targets, as they are: ``publish`` validates them first."""
    repo = Repository(repo_path)
    keys = KeyDir(key_path)
    now = now or _now()
    root = repo.root().signed
    targets_md = repo.targets()
    signers = _role_signers(keys, "targets", root)
    targets_md.signed.targets = _target_files(repo, files, NATIONAL_INDEX, index)
    targets_md.signed.version += 1
    targets_md.signed.expires = _expiry("targets", now, expiry_days)
    _sign(targets_md, signers)
    repo._write(targets_md, f"{targets_md.signed.version}.targets.json")
    renew(repo, keys, now=now, expiry_days=expiry_days, extra_meta={"targets": targets_md.signed.version})
    return Published("targets", targets_md.signed.version,
                     tuple((e["id"], e["version"]) for e in index["directives"]),
                     tuple(sorted(targets_md.signed.targets)))


@exclusive
def delegate(repo_path: Path, key_path: Path, code: str, public_key: Path, *,
             now: dt.datetime | None = None, expiry_days: dict[str, int] | None = None) -> int:
    """Delegate ``agency/<CODE>/*`` to the agency's key (replacing an earlier key of that
    agency): a new targets version, snapshot and timestamp. Returns the targets version."""
    from tuf.api.metadata import DelegatedRole, Delegations

    check_agency(code)
    repo = Repository(repo_path)
    keys = KeyDir(key_path)
    now = now or _now()
    key = read_public_key(public_key)
    root = repo.root().signed
    targets_md = repo.targets()
    targets = targets_md.signed
    if targets.delegations is None:
        targets.delegations = Delegations(keys={}, roles={})
    roles = targets.delegations.roles
    assert roles is not None  # made with roles, never succinct_roles
    name = agency_role(code)
    old = roles.get(name)
    if old is not None:
        for keyid in old.keyids:
            if not any(keyid in r.keyids for n, r in roles.items() if n != name):
                targets.delegations.keys.pop(keyid, None)
    targets.delegations.keys[key.keyid] = key
    roles[name] = DelegatedRole(name=name, keyids=[key.keyid], threshold=1, terminating=True,
                                paths=[f"{agency_prefix(code)}*"])
    targets.version += 1
    targets.expires = _expiry("targets", now, expiry_days)
    _sign(targets_md, _role_signers(keys, "targets", root))
    repo._write(targets_md, f"{targets.version}.targets.json")
    renew(repo, keys, now=now, expiry_days=expiry_days, extra_meta={"targets": targets.version})
    return targets.version


def publish_agency(repo_path: Path, key_path: Path, code: str, source: Path, *, now: dt.datetime | None = None,
                   expiry_days: dict[str, int] | None = None) -> tuple[Published, Path]:
    """An agency's publication: its directives under ``agency/<CODE>/``, signed by its own
    key as the delegated role ``agency-<CODE>`` (one version above the newest it has). The
    national repository takes the returned metadata file in with ``import_agency``."""
    check_agency(code)
    files, index = collect(source, agency_prefix(code))
    return publish_agency_files(repo_path, key_path, code, files, index, now=now, expiry_days=expiry_days)


@exclusive
def publish_agency_files(repo_path: Path, key_path: Path, code: str, files: dict[str, bytes], index: dict[str, Any],
                         *, now: dt.datetime | None = None,
                         expiry_days: dict[str, int] | None = None) -> tuple[Published, Path]:
    """Sign ``files`` and ``index`` as the agency's role, as they are: ``publish_agency``
    validates them first."""
    from tuf.api.metadata import Metadata, Targets

    check_agency(code)
    repo = Repository(repo_path)
    keys = KeyDir(key_path)
    now = now or _now()
    signer = keys.signer(agency_role(code))
    latest = repo.latest_agency(code)
    version = (latest.signed.version if latest else 0) + 1
    md = Metadata(Targets(version=version, expires=_expiry("agency", now, expiry_days)))
    md.signed.targets = _target_files(repo, files, agency_index(code), index)
    _sign(md, [signer])
    path = repo._write(md, f"{version}.{agency_role(code)}.json")
    return (Published(agency_role(code), version, tuple((e["id"], e["version"]) for e in index["directives"]),
                      tuple(sorted(md.signed.targets))), path)


ROLE_FILE = re.compile(r"^(?:\d+\.)?agency-(?P<code>[A-Za-z0-9][A-Za-z0-9_.-]{0,63})\.json$")


@exclusive
def import_agency(repo_path: Path, key_path: Path, metadata: Path, *, code: str | None = None,
                  now: dt.datetime | None = None, expiry_days: dict[str, int] | None = None) -> int:
    """Take an agency's signed role metadata into the national repository: verified against
    the key the targets role delegates to it, every target inside ``agency/<CODE>/``, its
    version above the one listed now, not expired; then a new snapshot and timestamp.
    Returns the imported version."""
    from tuf.api.metadata import Metadata, Targets

    if code is None:
        match = ROLE_FILE.match(metadata.name)
        if match is None:
            raise PublishError(f"{metadata}: name it N.agency-CODE.json, or give --agency CODE")
        code = match["code"]
    check_agency(code)
    repo = Repository(repo_path)
    keys = KeyDir(key_path)
    now = now or _now()
    role = agency_role(code)
    try:
        md = Metadata[Targets].from_bytes(metadata.read_bytes())
    except OSError as exc:
        raise PublishError(f"{metadata}: cannot read: {exc.strerror or exc}") from None
    except Exception as exc:  # noqa: BLE001 (python-tuf raises several kinds for a malformed file)
        raise PublishError(f"{metadata}: not TUF metadata: {exc}") from None
    if not isinstance(md.signed, Targets):
        raise PublishError(f"{metadata}: {md.signed.type} metadata, not an agency's targets")
    parent = repo.targets().signed
    delegated = parent.get_delegated_role(role) if parent.delegations and parent.delegations.roles \
        and role in parent.delegations.roles else None
    if delegated is None:
        raise PublishError(f"{metadata}: the targets role delegates nothing to {role} (run directives delegate)")
    try:
        parent.verify_delegate(role, md.signed_bytes, md.signatures)
    except Exception:  # noqa: BLE001 (UnsignedMetadataError, or a signature that does not parse)
        raise PublishError(f"{metadata}: not signed by the key delegated to {role}") from None
    outside = sorted(p for p in md.signed.targets if not safe_target_path(p, agency_prefix(code)))
    if outside:
        raise PublishError(f"{metadata}: {role} signs {outside[0]}, outside its delegation {agency_prefix(code)}*")
    if md.signed.is_expired(now):
        raise PublishError(f"{metadata}: expired {md.signed.expires.isoformat()}")
    current = repo.snapshot().signed.meta.get(f"{role}.json")
    if current is not None and md.signed.version <= current.version:
        raise PublishError(f"{metadata}: version {md.signed.version} is not above the listed {current.version}")
    target = repo.metadata_dir / f"{md.signed.version}.{role}.json"
    if metadata.resolve() != target.resolve():
        _write_atomic(target, metadata.read_bytes())
    renew(repo, keys, now=now, expiry_days=expiry_days, extra_meta={role: md.signed.version})
    return md.signed.version


@exclusive
def rotate(repo_path: Path, key_path: Path, role: str, *, now: dt.datetime | None = None,
           expiry_days: dict[str, int] | None = None) -> int:
    """New keys for ``role`` (as many as it has): a new root version signed by the old root
    keys (a threshold of them) and, for root, the new ones too; then the role's metadata
    signed again with its new key. The old private keys move to ``retired/``. Returns the
    new root version."""
    from tuf.api.metadata import Metadata

    if role not in TOP_LEVEL:
        raise PublishError(f"--role {role}: one of {', '.join(TOP_LEVEL)}")
    repo = Repository(repo_path)
    keys = KeyDir(key_path)
    now = now or _now()
    root_md = repo.root()
    root = root_md.signed
    old_signers = _role_signers(keys, "root", root)
    names = keys.root_names() if role == "root" else [role]
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    retired = keys.path / "retired"
    retired.mkdir(mode=0o700, exist_ok=True)
    for name in names:  # the old files move aside first: generate refuses to overwrite
        for path in (keys.private(name), keys.public(name)):
            if path.exists():
                os.replace(path, retired / f"{stamp}.{path.name}")
    for keyid in list(root.roles[role].keyids):
        root.revoke_key(keyid, role)
    for name in names:
        root.add_key(keys.generate(name), role)
    root.version += 1
    root.expires = _expiry("root", now, expiry_days)
    new_md = Metadata(root)
    signers = list(old_signers)
    if role == "root":
        signers += _role_signers(keys, "root", root)
    _sign(new_md, {s.public_key.keyid: s for s in signers}.values())
    repo.write_root(new_md)
    if role == "targets":
        targets_md = repo.targets()
        targets_md.signed.version += 1
        targets_md.signed.expires = _expiry("targets", now, expiry_days)
        _sign(targets_md, _role_signers(keys, "targets", root))
        repo._write(targets_md, f"{targets_md.signed.version}.targets.json")
        renew(repo, keys, now=now, expiry_days=expiry_days, extra_meta={"targets": targets_md.signed.version})
    elif role in ONLINE:
        renew(repo, keys, now=now, expiry_days=expiry_days)
    return root.version


@exclusive
def renew_root(repo_path: Path, key_path: Path, *, now: dt.datetime | None = None,
               expiry_days: dict[str, int] | None = None) -> int:
    """The same root, one version up with a new expiry, signed by a threshold of the root
    keys (at a ceremony, before the year runs out: a host refuses an expired root). Returns
    the new version."""
    repo = Repository(repo_path)
    keys = KeyDir(key_path)
    root_md = repo.root()
    signers = _role_signers(keys, "root", root_md.signed)
    root_md.signed.version += 1
    root_md.signed.expires = _expiry("root", now or _now(), expiry_days)
    _sign(root_md, signers)
    repo.write_root(root_md)
    return root_md.signed.version


# -- air-gap bundles ---------------------------------------------------------------------------------


def bundle(repo_path: Path, out: Path, *, agency: str | None = None) -> list[str]:
    """A tar of the repository as a host needs it offline: every root version, the current
    timestamp, snapshot and targets metadata, every agency role the snapshot lists, CISA's
    target files and, with ``agency``, that agency's. Written to a temporary file and
    renamed. Returns the member names."""
    repo = Repository(repo_path)
    snapshot_version = repo.timestamp().signed.snapshot_meta.version
    snapshot = repo.snapshot().signed
    names = sorted((p.name for p in repo.metadata_dir.glob("*.root.json")), key=lambda n: int(n.split(".")[0]))
    names += ["timestamp.json", f"{snapshot_version}.snapshot.json"]
    names += [f"{m.version}.{name}" for name, m in sorted(snapshot.meta.items())]
    members = [f"metadata/{n}" for n in names]
    roles = [("targets", f"{NATIONAL}/")]
    if agency is not None:
        check_agency(agency)
        if f"{agency_role(agency)}.json" not in snapshot.meta:
            raise PublishError(f"{repo_path}: the snapshot lists no {agency_role(agency)} metadata")
        roles.append((agency_role(agency), agency_prefix(agency)))
    for role, _prefix in roles:
        for path, info in sorted(repo.targets(role).signed.targets.items()):
            directory, _, name = path.rpartition("/")
            members.append(f"targets/{directory}/{info.hashes['sha256']}.{name}")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for member in members:
            data = (repo.path / member).read_bytes() if (repo.path / member).is_file() else None
            if data is None:
                raise PublishError(f"{repo.path / member}: missing from the repository")
            entry = tarfile.TarInfo(member)
            entry.size, entry.mode, entry.mtime = len(data), 0o644, 0
            tar.addfile(entry, io.BytesIO(data))
    _write_atomic(out, buffer.getvalue())
    return members


def read_bundle(path: Path) -> dict[str, bytes]:
    """The regular files of a bundle by member name; anything else (links, devices, absolute
    or '..' names, a bundle over MAX_BUNDLE) refuses the whole bundle. Nothing is extracted."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise PublishError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if size > MAX_BUNDLE:
        raise PublishError(f"{path}: {size} bytes, over the {MAX_BUNDLE} a bundle may have")
    out: dict[str, bytes] = {}
    try:
        with tarfile.open(path, mode="r:*") as tar:
            for member in tar:
                name = member.name
                if member.isdir():
                    continue
                parts = name.split("/")
                if not member.isreg() or name.startswith("/") or ".." in parts or parts[0] not in ("metadata", "targets"):
                    raise PublishError(f"{path}: member {name!r} is not a metadata or target file")
                handle = tar.extractfile(member)
                assert handle is not None
                out[name] = handle.read()
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise PublishError(f"{path}: not a tar bundle: {exc}") from None
    return out


def copy_repository(src: Path, dst: Path) -> None:
    """A copy of a repository (tests and an agency mirroring its national metadata)."""
    shutil.copytree(src, dst, dirs_exist_ok=True)

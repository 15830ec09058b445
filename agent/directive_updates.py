"""Directive updates through The Update Framework: the agent's python-tuf client.

``refresh(base_url, state_dir)`` fetches from a collector serving a TUF repository under
``/api/v1/tuf/`` (directives.tufrepo describes it); ``install_bundle(bundle, state_dir)``
reads the same repository from a tar file carried to an air-gapped network. Both run the
one python-tuf client workflow (root chain, timestamp, snapshot, targets, delegations: every
signature, threshold, version, expiry, length and hash checked) over the trusted metadata
kept in ``<state>/tuf/metadata``, so a bundle can no more roll a host back than a server can.

The trusted root, the first time: ``trusted_root`` if given, else the root installed with
``fedharden directives trust ROOT.json``, else the one shipped in the package
(``agent/trust/root.json``, a placeholder for CISA's: see docs/directives.md). After that
the client follows the repository's root rotations itself, and ``trusted_root`` is not read
again (``trust`` starts a new chain).

What is fetched: CISA's index (``directives/index.json``) and every file it names; with an
agency code, that agency's index (``agency/<CODE>/index.json``, only ever through its
delegation) and its files. Each directive is then validated as a scan would load it; its id
and version must be the index's; an agency directive may not carry an id of CISA's or of
the shipped library. Only then does the set replace the one in force (agent.directive_store,
one rename). Anything refused leaves the previous set in force, whole.

Exceptions (agent errors, one line each)::

    UpdateRefused(UsageError)      what was offered does not verify or validate (exit 2)
    UpdateUnavailable(ScanError)   the repository could not be reached or read (exit 3)
"""
from __future__ import annotations

import datetime as dt
import json
import re
import secrets
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator
from urllib.parse import unquote

from agent import ScanError, UsageError
from agent import directive_store as store
from agent.packaged import packaged
from agent.state import StateDir, StateError, write_atomic
from directives.versions import shown

if TYPE_CHECKING:
    import requests
    from tuf.ngclient import Updater

LOCK_WAIT = 60.0  # seconds an update waits for a scan holding the state directory
TIMEOUT = 30.0  # seconds for each request to the collector
TRUST_FILE = "trusted_root.json"  # in <state>/tuf: the root installed by `directives trust`
SHIPPED_ROOT = "trust/root.json"  # in the agent package
BUNDLE_BASE = "bundle://local/"


class UpdateRefused(UsageError):
    """A directive update failed verification or validation; the set in force stays."""


class UpdateUnavailable(ScanError):
    """The repository could not be reached, or a file it should have is missing."""


@dataclass(frozen=True)
class Change:
    id: str
    origin: str  # "national" or "agency-<CODE>"
    version: str  # as declared ("" when none)
    previous: str | None = None  # the installed version before, when there was one


@dataclass(frozen=True)
class UpdateOutcome:
    """What an update did: which directives were added, changed (new content), unchanged or
    removed, against the set installed before; and the versions it verified."""

    source: str
    generation: str
    added: tuple[Change, ...] = ()
    changed: tuple[Change, ...] = ()
    unchanged: tuple[Change, ...] = ()
    removed: tuple[Change, ...] = ()
    versions: dict[str, int] = field(default_factory=dict)  # role -> metadata version

    def lines(self) -> list[str]:
        out = [f"{c.id} version {shown(c.version)} ({c.origin}): added" for c in self.added]
        out += [f"{c.id} version {shown(c.previous or '')} -> {shown(c.version)} ({c.origin}): changed"
                for c in self.changed]
        out += [f"{c.id} version {shown(c.version)} ({c.origin}): unchanged" for c in self.unchanged]
        out += [f"{c.id} ({c.origin}): removed" for c in self.removed]
        return out


# -- the trusted root -----------------------------------------------------------------------


def shipped_root() -> bytes:
    return Path(packaged(SHIPPED_ROOT)).read_bytes()


def _check_root(data: bytes, where: str) -> Any:
    """A root metadata file signed by a threshold of its own keys."""
    from tuf.api.metadata import Metadata, Root

    try:
        md = Metadata[Root].from_bytes(data)
        if not isinstance(md.signed, Root):
            raise ValueError(f"{md.signed.type} metadata")
        md.signed.verify_delegate(Root.type, md.signed_bytes, md.signatures)
    except Exception as exc:  # noqa: BLE001 (python-tuf raises several kinds for a bad file)
        raise UpdateRefused(f"{where}: not a root signed by its own keys: {_one_line(exc)}") from None
    return md


def trust(root_file: Path, state_dir: Path) -> int:
    """Make ``root_file`` the trusted root of this agent (the next update starts its chain
    from it); the metadata trusted so far is dropped. Returns the root's version."""
    try:
        data = root_file.read_bytes()
    except OSError as exc:
        raise UsageError(f"{root_file}: cannot read: {exc.strerror or exc}") from None
    md = _check_root(data, str(root_file))
    sd = StateDir(state_dir)
    with sd.locked(wait=LOCK_WAIT):
        tuf_dir = state_dir / "tuf"
        tuf_dir.mkdir(mode=0o700, exist_ok=True)
        write_atomic(tuf_dir / TRUST_FILE, data, 0o644)
        meta = store.metadata_dir(state_dir)
        if meta.exists():  # the old chain ends here: start again from the new root
            shutil.rmtree(meta)
    return int(md.signed.version)


def _trusts_placeholder(meta: Path) -> bool:
    """Whether the root this agent trusts is still the shipped placeholder."""
    try:
        return (meta / "root.json").read_bytes() == shipped_root()
    except OSError:
        return False


def _bootstrap(state_dir: Path, trusted_root: Path | None) -> bytes | None:
    """The root to start from, or None when the client already trusts metadata."""
    if (store.metadata_dir(state_dir) / "root.json").exists():
        return None
    if trusted_root is not None:
        try:
            data = trusted_root.read_bytes()
        except OSError as exc:
            raise UsageError(f"{trusted_root}: cannot read: {exc.strerror or exc}") from None
        _check_root(data, str(trusted_root))
        return data
    installed = state_dir / "tuf" / TRUST_FILE
    if installed.exists():
        return installed.read_bytes()
    return shipped_root()


# -- fetchers -------------------------------------------------------------------------------


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _reason(exc: BaseException) -> str:
    """What went wrong on the wire, short: the system's word for it when there is one."""
    errno = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", str(exc))
    return errno[1].strip() if errno else _one_line(exc)[:200]


def _session_fetcher(session: requests.Session | None, verify: str | bool = True) -> Any:
    import requests
    from tuf.api import exceptions
    from tuf.ngclient import FetcherInterface

    class SessionFetcher(FetcherInterface):
        """python-tuf's downloads through the agent's HTTPS session (its CA file and pin)."""

        def __init__(self, http: requests.Session) -> None:
            self.http = http

        def _fetch(self, url: str) -> Iterator[bytes]:
            try:
                # verify on each request: a session-level setting would lose to $REQUESTS_CA_BUNDLE
                response = self.http.get(url, stream=True, timeout=TIMEOUT, allow_redirects=False, verify=verify)
            except requests.Timeout as exc:
                raise exceptions.SlowRetrievalError(f"{url}: timed out") from exc
            except requests.RequestException as exc:
                raise exceptions.DownloadError(f"{url}: {_reason(exc)}") from exc
            if response.status_code >= 300:
                response.close()
                raise exceptions.DownloadHTTPError(f"{url}: HTTP {response.status_code}", response.status_code)
            return self._chunks(response)

        @staticmethod
        def _chunks(response: requests.Response) -> Iterator[bytes]:
            try:
                yield from response.iter_content(64 * 1024)
            except requests.RequestException as exc:
                raise exceptions.DownloadError(_one_line(exc)) from exc
            finally:
                response.close()

    return SessionFetcher(session or requests.Session())


def _bundle_fetcher(members: dict[str, bytes]) -> Any:
    from tuf.api import exceptions
    from tuf.ngclient import FetcherInterface

    class BundleFetcher(FetcherInterface):
        """The repository's files from a bundle's members, by the URL the client asks for."""

        def _fetch(self, url: str) -> Iterator[bytes]:
            name = unquote(url[len(BUNDLE_BASE):]) if url.startswith(BUNDLE_BASE) else ""
            if name not in members:
                raise exceptions.DownloadHTTPError(f"{name or url}: not in the bundle", 404)
            return iter([members[name]])

    return BundleFetcher()


# -- the update ------------------------------------------------------------------------------


def refresh(base_url: str, state_dir: Path, *, agency: str | None = None, trusted_root: Path | None = None,
            session: requests.Session | None = None, verify: str | bool = True) -> UpdateOutcome:
    """Update the signed directives from a repository served at ``base_url`` (ending in
    ``/api/v1/tuf/``): CISA's, and with ``agency`` that agency's own. ``session`` and
    ``verify`` (a CA file) are the agent's HTTPS settings for its collector."""
    base = base_url if base_url.endswith("/") else base_url + "/"
    return _update(Path(state_dir), base, lambda: _session_fetcher(session, verify), base + "metadata/",
                   base + "targets/", agency, trusted_root)


TUF_PATH = "/api/v1/tuf/"


def refresh_enrolled(state_dir: Path, *, agency: str | None = None, trusted_root: Path | None = None) -> UpdateOutcome:
    """``refresh`` from the collector this host enrolled with, for its agency (or ``agency``),
    over the credential's TLS settings (CA file, pin)."""
    from agent import credential, submit

    cred = credential.load(StateDir(state_dir))
    url = submit.check_url(cred.collector)
    return refresh(url.rstrip("/") + TUF_PATH, state_dir, agency=agency or cred.agency or None, trusted_root=trusted_root,
                   session=submit.make_session(cred.ca_file, cred.pin_sha256), verify=cred.ca_file or True)


def install_bundle(bundle: Path, state_dir: Path, *, agency: str | None = None,
                   trusted_root: Path | None = None) -> UpdateOutcome:
    """Update the signed directives from a bundle (``fedharden directives bundle``), verified
    exactly as ``refresh`` verifies a server's files."""
    from directives.tufrepo import PublishError, read_bundle

    try:
        members = read_bundle(Path(bundle))
    except PublishError as exc:
        raise UpdateRefused(exc.problems[0]) from None
    return _update(Path(state_dir), str(bundle), lambda: _bundle_fetcher(members), BUNDLE_BASE + "metadata/",
                   BUNDLE_BASE + "targets/", agency, trusted_root)


def _refusal(source: str, exc: BaseException, what: str = "") -> UpdateRefused | UpdateUnavailable:
    """The one line for what python-tuf refused, naming the kind of attack it stops."""
    from tuf.api import exceptions as tx

    kinds: list[tuple[type[BaseException], str]] = [
        (tx.ExpiredMetadataError, "expired metadata (a freeze attack, or a repository not renewed)"),
        (tx.EqualVersionNumberError, "a new version that repeats an old one"),
        (tx.BadVersionNumberError, "older metadata than already trusted (a rollback)"),
        (tx.LengthOrHashMismatchError, "content that does not match its signed length and hashes (tampered)"),
        (tx.UnsignedMetadataError, "metadata not signed by enough trusted keys"),
        (tx.DownloadLengthMismatchError, "a file longer than its signed length (tampered)"),
    ]
    what = f"{what}: {_one_line(exc)}" if what else _one_line(exc)
    if isinstance(exc, tx.BadVersionNumberError) and str(exc).startswith("Expected "):
        # a role's file whose version is not the one the snapshot lists
        return UpdateRefused(f"directive update from {source} refused: metadata versions that do not match the "
                             f"snapshot (mix-and-match): {what}")
    for cls, kind in kinds:
        if isinstance(exc, cls):
            return UpdateRefused(f"directive update from {source} refused: {kind}: {what}")
    if isinstance(exc, tx.DownloadHTTPError) and exc.status_code == 404:
        return UpdateUnavailable(f"directive update from {source}: missing on the repository: {what}")
    if isinstance(exc, tx.DownloadError):
        return UpdateUnavailable(f"directive update from {source}: cannot fetch: {what}")
    return UpdateRefused(f"directive update from {source} refused: {what}")


def _update(state_dir: Path, source: str, make_fetcher: Callable[[], Any], metadata_url: str, targets_url: str,
            agency: str | None, trusted_root: Path | None) -> UpdateOutcome:
    from tuf.api import exceptions as tx
    from tuf.ngclient import Updater, UpdaterConfig

    from directives import DirectiveError
    from directives.tufrepo import PublishError, check_agency

    if agency is not None:
        try:
            check_agency(agency)
        except PublishError as exc:
            raise UsageError(exc.problems[0]) from None
    sd = StateDir(state_dir)
    with sd.locked(wait=LOCK_WAIT):
        meta = store.metadata_dir(state_dir)
        meta.mkdir(mode=0o700, parents=True, exist_ok=True)
        bootstrap = _bootstrap(state_dir, trusted_root)
        staging = store.stage(state_dir)
        try:
            try:
                updater = Updater(str(meta), metadata_url, str(staging / "download"), targets_url, make_fetcher(),
                                  UpdaterConfig(app_user_agent="fedharden"), bootstrap=bootstrap)
                updater.refresh()
                fetched = _fetch_sets(updater, meta, agency, source)
            except (tx.RepositoryError, tx.DownloadError) as exc:
                problem = _refusal(source, exc)
                if isinstance(exc, tx.UnsignedMetadataError) and _trusts_placeholder(meta):
                    problem = UpdateRefused(f"{problem} (this agent trusts the placeholder root shipped in the "
                                            "package: install the repository's with fedharden directives trust ROOT.json)")
                raise problem from None
            except ValueError as exc:  # python-tuf's word for a root that cannot even be read
                raise UpdateRefused(f"directive update from {source} refused: {_one_line(exc)}") from None
            except OSError as exc:  # writing what it verified (a full or read-only state directory)
                raise StateError(f"state directory {state_dir}: {exc.strerror or exc}") from None
            store.write_files(staging, fetched.files)
            manifest = fetched.manifest(source, meta, agency)
            try:
                loaded = store.load(store.Installed(staging, manifest), trusting=False)
            except DirectiveError as exc:
                first = exc.problems[0].replace(str(staging / store.FILES) + "/", "")
                more = f" (and {len(exc.problems) - 1} more problems)" if len(exc.problems) > 1 else ""
                raise UpdateRefused(f"directive update from {source} refused: signed but invalid: {first}{more}") from None
            _check_set(loaded, manifest, source)
            _check_data(store.Installed(staging, manifest), loaded, source)
            shutil.rmtree(staging / "download", ignore_errors=True)
            previous = store.current(state_dir)
            generation = store.commit(state_dir, staging, manifest)
        except OSError as exc:  # the state directory full or read-only: nothing switched
            store.discard(staging)
            raise StateError(f"state directory {state_dir}: {exc.strerror or exc}") from None
        except BaseException:
            store.discard(staging)
            raise
    return _outcome(source, generation, manifest, previous)


@dataclass
class _Fetched:
    files: dict[str, bytes] = field(default_factory=dict)  # target path -> bytes
    entries: list[dict[str, Any]] = field(default_factory=list)  # the directives, each with its origin
    data: list[str] = field(default_factory=list)
    profiles: list[str] = field(default_factory=list)

    def manifest(self, source: str, meta: Path, agency: str | None) -> dict[str, Any]:
        return {
            "installed_at": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
            "source": source, "agency": agency, "roles": _roles(meta),
            "directives": [{"id": e["id"], "version": e["version"], "origin": e["origin"], "path": e["path"],
                            "digest": e["digest"]} for e in self.entries],
            "data": self.data, "profiles": self.profiles,
        }


def _fetch_sets(updater: Updater, meta: Path, agency: str | None, source: str) -> _Fetched:
    from tuf.api.metadata import Metadata, Snapshot

    from directives.tufrepo import NATIONAL, NATIONAL_INDEX, agency_index, agency_prefix, agency_role

    fetched = _Fetched()
    _fetch_index(updater, NATIONAL_INDEX, f"{NATIONAL}/", store.NATIONAL_ORIGIN, fetched, source)
    if agency is not None:
        # python-tuf fetches a delegated role only when the snapshot lists it: an agency that
        # has not published yet has no directives of its own (not an error).
        snapshot = Metadata[Snapshot].from_file(str(meta / "snapshot.json")).signed
        if f"{agency_role(agency)}.json" in snapshot.meta:
            _fetch_index(updater, agency_index(agency), agency_prefix(agency), agency_role(agency), fetched, source)
    return fetched


def _fetch_index(updater: Updater, index_path: str, prefix: str, origin: str, fetched: _Fetched, source: str) -> None:
    from directives.tufrepo import INDEX_FORMAT, safe_target_path

    index_data = _download(updater, index_path, source)
    try:
        index = json.loads(index_data)
    except ValueError as exc:
        raise UpdateRefused(f"directive update from {source} refused: {index_path}: not JSON: {exc}") from None
    if not isinstance(index, dict) or index.get("format") != INDEX_FORMAT or not isinstance(index.get("directives"), list):
        raise UpdateRefused(f"directive update from {source} refused: {index_path}: not a format {INDEX_FORMAT} index")

    def paths_of(value: Any, where: str) -> list[str]:
        if not isinstance(value, list) or not all(isinstance(p, str) for p in value):
            raise UpdateRefused(f"directive update from {source} refused: {index_path}: {where}: a list of paths")
        for p in value:
            if not safe_target_path(p, prefix):
                raise UpdateRefused(f"directive update from {source} refused: {index_path}: {where}: {p} is outside "
                                    f"{prefix}")
        return list(value)

    for i, entry in enumerate(index["directives"]):
        where = f"directives[{i}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str) \
                or not isinstance(entry.get("version"), str) or not isinstance(entry.get("digest"), str):
            raise UpdateRefused(f"directive update from {source} refused: {index_path}: {where}: id, version, digest")
        paths = paths_of(entry.get("paths"), f"{where}.paths")
        folder = entry.get("folder")
        if folder is not None and (not isinstance(folder, str) or not safe_target_path(folder, prefix)
                                   or not all(p.startswith(folder + "/") for p in paths)):
            raise UpdateRefused(f"directive update from {source} refused: {index_path}: {where}.folder: {folder!r}")
        if not paths:
            raise UpdateRefused(f"directive update from {source} refused: {index_path}: {where}: no paths")
        for p in paths:
            fetched.files[p] = _download(updater, p, source)
        fetched.entries.append({"id": entry["id"], "version": entry["version"], "digest": entry["digest"],
                                "origin": origin, "path": folder or paths[0]})
    for kind, into in (("data", fetched.data), ("profiles", fetched.profiles)):
        for p in paths_of(index.get(kind, []), kind):
            fetched.files[p] = _download(updater, p, source)
            into.append(p)


def _download(updater: Updater, path: str, source: str) -> bytes:
    """One target, verified against its signed length and hashes (through the delegation
    that covers its path: ``agency/<CODE>/...`` only through that agency's role)."""
    from tuf.api import exceptions as tx

    info = updater.get_targetinfo(path)
    if info is None:
        raise UpdateRefused(f"directive update from {source} refused: {path}: no trusted role signs it")
    assert updater.target_dir is not None
    local = Path(updater.target_dir) / secrets.token_hex(8)
    try:
        updater.download_target(info, str(local))
    except (tx.RepositoryError, tx.DownloadError) as exc:
        raise _refusal(source, exc, path) from None
    data = local.read_bytes()
    local.unlink()
    return data


def _roles(meta: Path) -> dict[str, Any]:
    """Each trusted role's version, expiry and the key ids that signed it (from the metadata
    python-tuf has just verified and kept)."""
    from tuf.api.metadata import Metadata

    out: dict[str, Any] = {}
    for path in sorted(meta.glob("*.json")):
        if not path.name[0].isalpha():
            continue  # python-tuf keeps root versions in root_history/, nothing versioned here
        md = Metadata.from_file(str(path))
        out[path.name[:-5]] = {"version": md.signed.version, "expires": md.signed.expires.isoformat(),
                               "signed_by": sorted(md.signatures)}
    return out


def _check_set(loaded: list[tuple[Any, str]], manifest: dict[str, Any], source: str) -> None:
    """Each directive is what its index says; an agency's carries no id of CISA's."""
    from directives import load_library

    entries = manifest["directives"]
    cisa = {d.id for d in load_library()} | {e["id"] for e in entries if e["origin"] == store.NATIONAL_ORIGIN}
    seen: dict[str, str] = {}
    for (directive, origin), entry in zip(loaded, entries):
        if directive.id != entry["id"] or directive.version != entry["version"] or directive.digest != entry["digest"]:
            raise UpdateRefused(f"directive update from {source} refused: {entry['path']}: is {directive.id} version "
                                f"{shown(directive.version)} ({directive.digest}), the index says {entry['id']} "
                                f"version {shown(entry['version'])} ({entry['digest']})")
        if origin != store.NATIONAL_ORIGIN and directive.id in cisa:
            raise UpdateRefused(f"directive update from {source} refused: {entry['path']}: {origin} may not publish "
                                f"{directive.id}, an id of CISA's")
        if directive.id in seen:
            raise UpdateRefused(f"directive update from {source} refused: {directive.id} published twice "
                                f"({seen[directive.id]}, {origin})")
        seen[directive.id] = origin


def _check_data(staged: store.Installed, signed: list[tuple[Any, str]], source: str) -> None:
    """The end-of-support table parses as a scan reads it; each profile is a valid tailoring
    of the directives that will be in force."""
    from directives import DirectiveError, datafiles, load_library
    from directives.tailoring import load_tailoring

    def refuse(exc: DirectiveError) -> UpdateRefused:
        first = exc.problems[0].replace(str(staged.generation / store.FILES) + "/", "")
        return UpdateRefused(f"directive update from {source} refused: signed but invalid: {first}")

    for path in staged.manifest["data"]:
        try:
            datafiles.check(path.rsplit("/", 1)[-1], staged.file(path).read_text(encoding="utf-8", errors="replace"),
                            str(staged.file(path)))
        except DirectiveError as exc:
            raise refuse(exc) from None
    if staged.manifest["profiles"]:
        merged, _ = store.merge(load_library(), signed)
        for path in staged.manifest["profiles"]:
            try:
                load_tailoring(str(staged.file(path)), merged)
            except DirectiveError as exc:
                raise refuse(exc) from None


def _outcome(source: str, generation: Path, manifest: dict[str, Any],
             previous: store.Installed | None) -> UpdateOutcome:
    before = {(d.origin, d.id): d for d in (previous.directives if previous else [])}
    added, changed, unchanged = [], [], []
    for e in manifest["directives"]:
        old = before.pop((e["origin"], e["id"]), None)
        change = Change(e["id"], e["origin"], e["version"], old.version if old else None)
        if old is None:
            added.append(change)
        elif old.digest != e["digest"]:
            changed.append(change)
        else:
            unchanged.append(change)
    removed = [Change(d.id, d.origin, d.version) for d in before.values()]
    versions = {role: int(info["version"]) for role, info in manifest["roles"].items()}
    return UpdateOutcome(source, generation.name, tuple(added), tuple(changed), tuple(unchanged), tuple(removed),
                         versions)

"""An agency collector's verified mirror of the national directive repository
(``collector serve --directives-upstream URL``).

Each refresh runs the python-tuf client (ngclient) against the upstream with the root of
trust the operator gave (``--directives-root``): root rotation, timestamp, snapshot, targets
and every delegated role, checked as an agent checks them. Only when all of it verifies are
the very bytes the upstream served written into the served copy, timestamp.json last, so the
served copy is always one complete repository state that an agent would accept: a mirror
never serves what an agent would refuse. A failed refresh changes nothing served.

Target files: the top-level role's come from the upstream; a delegated ``agency-*`` role's
come only from ``--directives-local`` (an agency's own files are served by its own
collector, never by the national one), each checked against the length and hashes its
verified metadata lists before it is served. No signing key is needed, or read, anywhere.

Layout of the mirror's folder (``--directives-dir``)::

    trust/      the client's trusted metadata (ngclient's metadata_dir)
    repo/       what /api/v1/tuf/ serves: metadata/, targets/
    lock        one refresh at a time across worker processes
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator
from urllib.parse import quote

from collectors import UpstreamError
from collectors.directive_files import MAX_FILE, SEGMENT

if TYPE_CHECKING:
    from tuf.api.metadata import Targets
    from tuf.ngclient import FetcherInterface, Updater

log = logging.getLogger("fedharden.collector")

MAX_ROLES = 10_000  # delegated roles walked per refresh
MAX_LOCAL_FILES = 10_000  # files hashed in --directives-local
LOCAL_ROLE_PREFIX = "agency-"  # roles whose target bytes only the agency's own collector holds


@dataclass(frozen=True)
class MirrorOutcome:
    version: int  # the timestamp version now served
    changed: bool  # the served copy moved to a new repository state
    targets: int  # target files served
    local: int  # of them, from --directives-local


def write_public(path: Path, data: bytes) -> bool:
    """Replace ``path`` with ``data`` in one rename (mode 0644: public signed data); False when it
    already holds exactly that."""
    with contextlib.suppress(OSError):
        if path.read_bytes() == data:
            return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return True


def safe_target_path(path: str) -> bool:
    """A target path that names a file under targets/ and nothing else (no '..', no absolute)."""
    parts = path.split("/")
    return 0 < len(parts) <= 8 and all(SEGMENT.fullmatch(p) and ".." not in p for p in parts)


def served_target_name(path: str, hashes: dict[str, str], consistent: bool) -> str:
    """Where a target lives in the repository: ``dir/<hash>.<name>`` under consistent snapshots
    (the first hash listed, as python-tuf's client asks for it), else its own path."""
    if not consistent:
        return path
    dirname, sep, basename = path.rpartition("/")
    return f"{dirname}{sep}{next(iter(hashes.values()))}.{basename}"


def local_index(folder: Path | None) -> dict[tuple[str, str], Path]:
    """(algorithm, hex digest) -> file, for the regular files under ``folder`` (links not
    followed): a target is found by its hash, whatever the folder's layout."""
    index: dict[tuple[str, str], Path] = {}
    if folder is None:
        return index
    seen = 0
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            path = Path(dirpath, name)
            if name.startswith(".") or not path.is_file() or path.is_symlink():
                continue
            seen += 1
            if seen > MAX_LOCAL_FILES:
                raise UpstreamError(f"{folder}: more than {MAX_LOCAL_FILES} files; keep only the agency's targets there")
            if path.stat().st_size > MAX_FILE:
                continue
            data = path.read_bytes()
            for algorithm in ("sha256", "sha512"):
                index[(algorithm, hashlib.new(algorithm, data).hexdigest())] = path
    return index


def requests_fetcher(timeout: float = 30.0) -> FetcherInterface:
    """python-tuf's download interface over one requests session: one try per file and a
    timeout (urllib3's retries would log a line each), the system's CA store or
    $REQUESTS_CA_BUNDLE for an HTTPS upstream, and errors that say what happened."""
    import requests
    from tuf.api import exceptions
    from tuf.ngclient import FetcherInterface

    class RequestsFetcher(FetcherInterface):
        def __init__(self) -> None:
            self.session = requests.Session()

        def _fetch(self, url: str) -> Iterator[bytes]:
            try:
                resp = self.session.get(url, stream=True, timeout=timeout)
            except requests.Timeout as exc:
                raise exceptions.SlowRetrievalError(f"{url}: no answer within {timeout:g}s") from exc
            except requests.RequestException as exc:
                raise exceptions.DownloadError(f"{url}: {exc.__class__.__name__}: {exc}") from exc
            if resp.status_code >= 400:
                resp.close()
                raise exceptions.DownloadHTTPError(f"{url}: HTTP {resp.status_code}", resp.status_code)
            return self._chunks(resp, url)

        @staticmethod
        def _chunks(resp: requests.Response, url: str) -> Iterator[bytes]:
            try:
                yield from resp.iter_content(64 * 1024)
            except requests.RequestException as exc:
                raise exceptions.SlowRetrievalError(f"{url}: {exc.__class__.__name__}") from exc
            finally:
                resp.close()

    return RequestsFetcher()


class Mirror:
    """One upstream repository mirrored into ``store`` (see the module docstring)."""

    def __init__(self, upstream: str, trusted_root: Path, store: Path, local: Path | None = None,
                 fetcher: FetcherInterface | None = None) -> None:
        self.upstream = upstream if upstream.endswith("/") else upstream + "/"
        self.trusted_root = trusted_root
        self.store = store
        self.local = local
        self.fetcher = fetcher or requests_fetcher()

    @property
    def repo(self) -> Path:
        return self.served(self.store)

    @staticmethod
    def served(store: Path) -> Path:
        """The folder /api/v1/tuf/ serves from a mirror's ``store``."""
        return store / "repo"

    @contextlib.contextmanager
    def _lock(self) -> Iterator[bool]:
        self.store.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.store / "lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False  # another worker process is refreshing the same folder
                return
            yield True
        finally:
            os.close(fd)

    def refresh(self) -> MirrorOutcome | None:
        """Verify the upstream's current state and serve it; None when another process is at it.
        UpstreamError (one line) when anything fails to download or verify: nothing served changed."""
        from tuf.api.exceptions import DownloadError, RepositoryError

        with self._lock() as held:
            if not held:
                return None
            try:
                return self._refresh()
            except (RepositoryError, DownloadError, ValueError, OSError) as exc:
                raise UpstreamError(f"directive mirror of {self.upstream}: {one_line(exc)}") from None

    def _updater(self, incoming: str) -> Updater:
        from tuf.ngclient import Updater

        trust = self.store / "trust"
        trust.mkdir(parents=True, exist_ok=True)
        # The operator's root only the first time: after that, the client's own (rotated) root.
        bootstrap = None if (trust / "root.json").exists() else self.trusted_root.read_bytes()
        return Updater(str(trust), self.upstream + "metadata/", incoming, self.upstream + "targets/",
                       fetcher=self.fetcher, bootstrap=bootstrap)

    def _refresh(self) -> MirrorOutcome:
        from tuf.api.metadata import Metadata, Root, Snapshot

        with tempfile.TemporaryDirectory(prefix=".incoming-", dir=self.store) as incoming:
            updater = self._updater(incoming)
            updater.refresh()
            roles = self._roles(updater)
            trust = self.store / "trust"
            root_md = Metadata[Root].from_bytes((trust / "root.json").read_bytes())
            consistent = bool(root_md.signed.consistent_snapshot)
            snapshot = Metadata[Snapshot].from_bytes((trust / "snapshot.json").read_bytes()).signed
            served, local = self._targets(updater, roles, consistent, Path(incoming))
        meta = self.repo / "metadata"
        meta.mkdir(parents=True, exist_ok=True)
        # Roots first and timestamp.json last: a client reading mid-refresh sees the old state or
        # the new one, complete, as timestamp.json is what points to everything else.
        for path in sorted((trust / "root_history").glob("*.root.json")):
            write_public(meta / path.name, path.read_bytes())
        self._older_roots()
        write_public(meta / "root.json", (trust / "root.json").read_bytes())
        for role in [r for r in roles if r != "targets"] + ["targets"]:
            name = f"{quote(role, '')}.json"
            version = snapshot.meta[name].version
            write_public(meta / (f"{version}.{name}" if consistent else name), (trust / name).read_bytes())
        snapshot_name = f"{snapshot.version}.snapshot.json" if consistent else "snapshot.json"
        write_public(meta / snapshot_name, (trust / "snapshot.json").read_bytes())
        timestamp = (trust / "timestamp.json").read_bytes()
        changed = write_public(meta / "timestamp.json", timestamp)
        version = Metadata.from_bytes(timestamp).signed.version
        return MirrorOutcome(version=version, changed=changed, targets=served, local=local)

    def _roles(self, updater: Updater) -> dict[str, Targets]:
        """Every targets role the repository delegates to, loaded and verified through the client
        (the top-level ``targets`` included), in a breadth-first walk of the delegations."""
        # ngclient loads delegated roles only on the way to one target path; a mirror needs them
        # all, so it asks for each by name through the same (verifying) loader.
        found: dict[str, Targets] = {"targets": updater._load_targets("targets", "root")}
        queue = ["targets"]
        while queue:
            parent = queue.pop(0)
            delegations = found[parent].delegations
            for role in (delegations.roles or {}).values() if delegations else ():
                if role.name in found:
                    continue
                if len(found) >= MAX_ROLES:
                    raise UpstreamError(f"directive mirror of {self.upstream}: more than {MAX_ROLES} delegated roles")
                found[role.name] = updater._load_targets(role.name, parent)
                queue.append(role.name)
        return found

    def _targets(self, updater: Updater, roles: dict[str, Targets], consistent: bool,
                 incoming: Path) -> tuple[int, int]:
        """Put every target file this collector serves in place: (served, of them local)."""
        index = local_index(self.local)
        served = local = missing = 0
        for role, targets in roles.items():
            for path, info in targets.targets.items():
                if not safe_target_path(path) or not info.hashes:
                    log.warning("directive mirror: target %r of role %s not served: not a plain path", path, role)
                    continue
                dest = self.repo / "targets" / served_target_name(path, info.hashes, consistent)
                from_local = role.startswith(LOCAL_ROLE_PREFIX)
                if dest.is_file() and (consistent or _holds(dest, info)):
                    served += 1
                    local += from_local
                    continue
                if from_local:
                    source = next((index[(a, h)] for a, h in info.hashes.items() if (a, h) in index), None)
                    if source is None:
                        missing += 1  # another agency's file, served by its own collector
                        continue
                    data = source.read_bytes()
                    info.verify_length_and_hashes(data)
                    local += 1
                else:
                    temp = incoming / f"target-{served}"
                    updater.download_target(info, filepath=str(temp))  # verifies length and hashes
                    data = temp.read_bytes()
                write_public(dest, data)
                served += 1
        return served, local

    def _older_roots(self) -> None:
        """Root versions before the one this mirror was given, for agents that start from an older
        root: fetched once and kept only if each is signed as its successor requires, up to the
        mirror's own trusted root."""
        from tuf.api.metadata import Metadata, Root
        meta = self.repo / "metadata"
        first = Metadata[Root].from_bytes(self.trusted_root.read_bytes()).signed.version
        if first <= 1 or all((meta / f"{n}.root.json").is_file() for n in range(1, first)):
            return
        chain = [self.fetcher.download_bytes(f"{self.upstream}metadata/{n}.root.json", 512_000) for n in range(1, first)]
        chain.append(self.trusted_root.read_bytes())
        parsed = [Metadata[Root].from_bytes(data) for data in chain]
        for n, (older, newer) in enumerate(zip(parsed, parsed[1:]), start=1):
            if older.signed.version != n or newer.signed.version != n + 1:
                raise UpstreamError(f"directive mirror of {self.upstream}: root {n} is not followed by root {n + 1}")
            older.verify_delegate(Root.type, newer)
            newer.verify_delegate(Root.type, newer)
        for n, data in enumerate(chain[:-1], start=1):
            write_public(meta / f"{n}.root.json", data)


def one_line(exc: BaseException) -> str:
    """An exception as one line: its class and its message, or its cause's when it has none."""
    detail = " ".join(str(exc).split())
    if not detail and exc.__cause__ is not None:
        detail = " ".join(str(exc.__cause__).split())
    return f"{exc.__class__.__name__}: {detail}" if detail else exc.__class__.__name__


def _holds(path: Path, info: Any) -> bool:
    """The file at ``path`` is the target ``info`` lists (an unhashed name can change content)."""
    from tuf.api.exceptions import LengthOrHashMismatchError

    try:
        info.verify_length_and_hashes(path.read_bytes())
    except LengthOrHashMismatchError:
        return False
    return True


def run_periodically(mirror: Mirror, interval: float, stop: threading.Event) -> None:
    """Refresh at once, then every ``interval`` seconds until ``stop``: a failure is one line
    in the log, and the last verified copy stays served."""
    while not stop.is_set():
        try:
            outcome = mirror.refresh()
            if outcome is not None and outcome.changed:
                log.info("directive mirror: serving version %d of %s (%d target files, %d local)",
                         outcome.version, mirror.upstream, outcome.targets, outcome.local)
        except UpstreamError as exc:
            log.warning("%s; serving the last verified copy", exc)
        except Exception:  # keep mirroring after a surprise; the served copy is untouched
            log.exception("directive mirror: refresh failed")
        stop.wait(interval)


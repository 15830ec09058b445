"""The agent's state directory (default /var/lib/fedharden): what it last reported, its
credential, its spool, and the lock that keeps two runs from racing.

Layout::

    lock              flock(2) target; held for a whole scan-and-submit or enrollment
    state.json        the last full state: sequence, report id (the base of the next delta),
                      directive digests, every result as last reported, failing-since per key
    credential.json   collector URL and agent token (mode 0600; see agent.enroll)
    instance.key      a random key made once per install (mode 0600): tells clones apart
    last_scan.json    when the last scan finished and with which directives (read by checks)
    spool/            reports waiting for the collector (see agent.spool)
    tuf/              the TUF metadata this agent trusts (agent.directive_updates)
    directives/       the signed directives in force, generations behind ``current``
                      (agent.directive_store)
    remote/<host_id>/ for each host scanned over SSH and enrolled as itself (agent.remote_fleet),
                      a state directory laid out like this one (lock, state.json,
                      credential.json, instance.key, last_scan.json, spool/): its own delta
                      chain, spool and install key (so the collector tells this enrollment
                      from the host's own agent), and its own lock (hosts submit in parallel;
                      two inventory entries naming one machine take turns). <host_id> is the
                      remote host's id (agent.identity): renaming it in the inventory or
                      changing its address keeps its state

Every write is atomic: a temporary file in the same directory, fsync, rename, fsync of the
directory. ``state.json`` is the commit point: a report is only "made" once the state that
follows it is on disk, so a kill -9 at any moment leaves the previous or the next state,
never a mix (agent.reporting explains the order of writes).

Exceptions (both are agent errors the CLI turns into one-line messages)::

    StateError(UsageError)   the state directory cannot be used (permissions, not a directory)
    LockBusy(ScanError)      another run holds the lock longer than we are willing to wait
"""
from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from agent.contract import Report
from agent import ScanError, UsageError

DEFAULT_STATE_DIR = "/var/lib/fedharden"
STATE_VERSION = 1
TMP_PREFIX = ".tmp-"
HISTORY = 256
HOST_ID = re.compile(r"^[0-9a-f]{32}$")  # agent.identity.host_id: it names a directory


class StateError(UsageError):
    """The state directory cannot be used."""


class LockBusy(ScanError):
    """Another fedharden run holds the state directory's lock."""


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Replace ``path`` with ``data`` in one step: the old or the new content, never a mix.

    The mode is set on the temporary file before it gets its name, so a secret is never
    readable by others, not even for an instant."""
    import tempfile  # a scan that writes nothing does not import it (with random and shutil)

    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, dir=path.parent)
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
    fsync_dir(path.parent)


def dump(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


@dataclass
class AgentState:
    """What the collector has (or will have, once the spool drains) for this host."""

    host_id: str
    sequence: int = 0  # of the last report made (full or delta)
    report_id: str | None = None  # the last report made: the base of the next delta
    directives_digest: str = ""
    results: dict[str, dict[str, Any]] = field(default_factory=dict)  # key -> result as reported
    order: list[str] = field(default_factory=list)  # keys in scan order, for readable reports
    header: dict[str, Any] = field(default_factory=dict)  # agent, host, scan, directives, warnings
    needs_full: bool = True  # the next report must be a full snapshot
    history: list[str] = field(default_factory=list)  # the last HISTORY report ids made, oldest first

    def to_json(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION, "host_id": self.host_id, "sequence": self.sequence,
            "report_id": self.report_id, "directives_digest": self.directives_digest,
            "needs_full": self.needs_full, "header": self.header, "history": self.history[-HISTORY:],
            "results": [self.results[k] for k in self.order],
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> AgentState:
        if doc.get("version") != STATE_VERSION:
            raise ValueError(f"unknown state version {doc.get('version')!r}")
        results = {r["key"]: r for r in doc["results"]}
        return cls(host_id=doc["host_id"], sequence=int(doc["sequence"]), report_id=doc["report_id"],
                   directives_digest=doc["directives_digest"], results=results,
                   order=[r["key"] for r in doc["results"]], header=doc["header"],
                   needs_full=bool(doc["needs_full"]), history=list(doc.get("history") or []))

    def ordered_results(self) -> list[dict[str, Any]]:
        return [self.results[k] for k in self.order]


def first_seen(state: AgentState | None) -> dict[str, dt.date]:
    """Result key -> the day it was first seen failing (``failing_since``), for the results
    failing in ``state``: deadlines counted from discovery run from there."""
    out: dict[str, dt.date] = {}
    for key, result in (state.results if state else {}).items():
        since = result.get("failing_since")
        if result.get("status") == "fail" and isinstance(since, str):
            try:
                out[key] = dt.datetime.fromisoformat(since).date()
            except ValueError:
                continue
    return out


class StateDir:
    """One agent's state directory. Create with ``StateDir(path)``; ``ensure()`` makes it."""

    def __init__(self, path: str | os.PathLike[str], parent: StateDir | None = None) -> None:
        self.path = Path(path)
        self.parent = parent  # the scanner's own state directory, for a remote host's
        self.state_file = self.path / "state.json"
        self.credential_file = self.path / "credential.json"
        self.instance_file = self.path / "instance.key"
        self.last_scan_file = self.path / "last_scan.json"
        self.spool_dir = self.path / "spool"
        self.lock_file = self.path / "lock"
        self.remote_dir = self.path / "remote"

    def remote(self, host_id: str) -> StateDir:
        """The state directory of the remote host ``host_id`` (not created until used)."""
        if not HOST_ID.match(host_id):
            raise StateError(f"not a host id: {host_id!r}")
        return StateDir(self.remote_dir / host_id, parent=self)

    def remote_hosts(self) -> list[StateDir]:
        """Every remote host's state directory, by host id."""
        try:
            names = sorted(e.name for e in os.scandir(self.remote_dir) if e.is_dir() and HOST_ID.match(e.name))
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise StateError(f"state directory {self.remote_dir}: {exc.strerror or exc}") from None
        return [self.remote(name) for name in names]

    def ensure_remote_dir(self) -> None:
        """Make this state directory and its ``remote/`` (mode 0700, not by mkdir(parents=True),
        which would ignore the mode), and check they can be written."""
        self.ensure()
        try:
            self.remote_dir.mkdir(mode=0o700, exist_ok=True)
        except OSError as exc:
            raise StateError(f"state directory {self.remote_dir}: {exc.strerror or exc}") from None
        if not os.access(self.remote_dir, os.W_OK | os.X_OK):
            raise StateError(f"state directory {self.remote_dir}: not writable (run as root, or pass --state-dir)")

    def ensure(self) -> None:
        if self.parent is not None:
            self.parent.ensure_remote_dir()
        try:
            self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
            self.spool_dir.mkdir(mode=0o700, exist_ok=True)
        except OSError as exc:
            raise StateError(f"state directory {self.path}: {exc.strerror or exc}") from None
        if not os.access(self.path, os.W_OK | os.X_OK):
            if os.statvfs(self.path).f_flag & os.ST_RDONLY:  # root too: no permission would help
                raise StateError(f"state directory {self.path}: on a read-only file system (nothing recorded)")
            raise StateError(f"state directory {self.path}: not writable (run as root, or pass --state-dir)")

    @contextlib.contextmanager
    def locked(self, wait: float = 0.0, poll: float = 0.1) -> Iterator[None]:
        """Hold the exclusive lock; wait up to ``wait`` seconds for another run to finish.

        flock is released by the kernel when the holder dies, so a killed run never leaves
        a stale lock behind."""
        self.ensure()
        fd = os.open(self.lock_file, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            deadline = time.monotonic() + wait
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError as exc:
                    if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                        raise StateError(f"{self.lock_file}: cannot lock: {exc.strerror}") from None
                    if time.monotonic() >= deadline:
                        raise LockBusy(f"another fedharden run holds {self.lock_file}") from None
                    time.sleep(poll)
            self._sweep_temporaries()
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the lock

    def _sweep_temporaries(self) -> None:
        """Remove temporary files a killed run left behind (only ever under the lock)."""
        for directory in (self.path, self.spool_dir, self.path / "applies"):  # applies: agent.apply_spool
            with contextlib.suppress(FileNotFoundError):
                for entry in os.scandir(directory):
                    if entry.name.startswith(TMP_PREFIX):
                        with contextlib.suppress(FileNotFoundError):
                            os.unlink(entry.path)

    # -- state.json ---------------------------------------------------------------------

    def load_state(self) -> AgentState | None:
        """The last committed state; None before the first report (or if it is unreadable,
        which costs one full snapshot and nothing else)."""
        try:
            doc = json.loads(self.state_file.read_bytes())
            return AgentState.from_json(doc)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def save_state(self, state: AgentState) -> None:
        write_atomic(self.state_file, dump(state.to_json()))

    # -- small JSON documents -------------------------------------------------------------

    def read_json(self, path: Path) -> dict[str, Any] | None:
        try:
            value = json.loads(path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise StateError(f"{path}: unreadable: {exc}") from None
        return value if isinstance(value, dict) else None

    def write_json(self, path: Path, value: dict[str, Any], mode: int = 0o600) -> None:
        write_atomic(path, json.dumps(value, indent=2, ensure_ascii=False).encode() + b"\n", mode)

    def write_last_scan(self, report: Report) -> None:
        """When the last scan finished and what it judged: the cadence checks read this."""
        doc = {
            "version": 1,
            "started_at": report["scan"]["started_at"],
            "finished_at": report["scan"]["finished_at"],
            "host_id": report["host"]["id"],
            "target": report["host"]["target"],
            "directives": [{"id": d["id"], "digest": d["digest"]} for d in report["directives"]],
            "summary": {"total": report["summary"]["total"], "counts": report["summary"]["counts"],
                        "status": report["summary"]["status"]},
            # The detection data the scan used and its age then (BOD 23-01, agent.facts.agentstate).
            "feeds": [{"name": f["name"], "version": f.get("version", ""), "age_hours": f.get("age_hours")}
                      for f in report["scan"].get("feeds", [])],
        }
        self.write_json(self.last_scan_file, doc, 0o644)

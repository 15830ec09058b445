"""A remote Linux host read over SSH, with nothing installed on it.

Files, metadata, directory listings and links come over one SFTP session (the server's own
sftp-server, or with ``sudo`` that same program run as root in read-only mode, ``-R``).
Requests are pipelined in waves (see agent.hosts.sftp), and everything is cached for the
scan, so a batch of reads costs a few round trips whatever its size:

- ``prefetch(paths, metadata, contents)``: stat and lstat every path; then read regular files, read
  links, and list directories (with every entry's lstat and link target) in the next waves;
  of ``metadata`` paths only the stat, lstat and link target are fetched; ``contents``
  directories are listed and their regular files read, all in the same waves;
- a listed directory answers later stat(follow=False)/readlink of its entries, and says
  NotFound for names it does not contain, without asking again.

Commands (``run``) execute as argv lists quoted by ``shlex.join`` under ``env -i`` with the
same minimal environment as the local host, one SSH exec channel each, with a timeout.
Sockets and addresses come from /proc exactly as on the local host (agent.hosts.procfs).

``round_trips`` counts every wait for the network after login: each SFTP wave, each channel
open, each exec request and each command's output; ``transfer_seconds`` the time spent in them.
"""
from __future__ import annotations

import shlex
import socket
import threading
import time
from typing import Any, Callable, Hashable, Iterator, Sequence

from agent.hosts import procfs, sftp
from agent.hosts.base import (
    MAX_READ, CommandResult, HostError, HostUnreachable, NotFound, PathStat, PermissionDenied, not_regular, too_large,
    type_name,
)
from agent.hosts.local import COMMAND_ENV
from agent.hosts.sftp import Attrs, Job, SftpError, Wire
from agent.hosts.sshconnect import Connection

READLINKS_PER_JOB = 1000  # a wave carries several such jobs, up to sftp.MAX_WAVE_REQUESTS
PREFETCH_MAX = 4 * 1024 * 1024  # larger files are read when asked for, not speculatively
# Where distributions install sftp-server (Debian/Ubuntu, Fedora/RHEL, SUSE/Arch, others).
SFTP_SERVERS = ("/usr/lib/openssh/sftp-server", "/usr/libexec/openssh/sftp-server", "/usr/lib/ssh/sftp-server",
                "/usr/libexec/sftp-server", "/usr/lib/sftp-server")
# A fixed script; the only data it receives are positional arguments ($1 = the sudo command).
SUDO_SFTP = ("for p in " + " ".join(SFTP_SERVERS) + "; do "
             'if [ -x "$p" ]; then exec "$1" -n -- "$p" -R; fi; done; '
             'echo "no sftp-server program found" >&2; exit 127')
PLAIN_SFTP = ("for p in " + " ".join(SFTP_SERVERS) + "; do "
              'if [ -x "$p" ]; then exec "$p" -R; fi; done; '
              'echo "no sftp-server program found" >&2; exit 127')
ROOT_HINT = "log in as root or use --sudo to read it"


def _parent(path: str) -> tuple[str, str]:
    directory, _, name = path.rstrip("/").rpartition("/")
    return directory or "/", name


def _join(directory: str, name: str) -> str:
    return f"{directory.rstrip('/')}/{name}"


def _pathstat(attrs: Attrs) -> PathStat:
    mode = attrs.mode or 0
    return PathStat(attrs.kind, mode & 0o7777, attrs.uid or 0, attrs.gid or 0, attrs.size or 0, type_name(mode))


def _pump(channel: Any, sock: socket.socket) -> None:
    """Copy bytes both ways between an SSH channel and a local socket until both ends close."""
    import select

    open_ends = {channel, sock}
    try:
        while open_ends:
            ready, _, _ = select.select(list(open_ends), [], [], 60.0)
            if not ready:
                break  # nothing moved for a minute: the prober has gone
            for end in ready:
                data = end.recv(65536)
                other = sock if end is channel else channel
                if data:
                    other.sendall(data)
                    continue
                open_ends.discard(end)
                if end is channel:
                    sock.shutdown(socket.SHUT_WR)
                else:
                    channel.shutdown_write()
    except OSError:
        pass  # either side went away; closing both below is all there is to do
    finally:
        channel.close()
        sock.close()


def parallel(jobs: list[Job[Any]]) -> Job[list[Any]]:
    """Run sub-jobs side by side: their requests share each wave."""
    results: list[Any] = [None] * len(jobs)
    pending: dict[int, list[sftp.Request]] = {}
    for i, job in enumerate(jobs):
        try:
            pending[i] = next(job)
        except StopIteration as done:
            results[i] = done.value
    while pending:
        order = list(pending)
        replies = yield [r for i in order for r in pending[i]]
        at = 0
        for i in order:
            part, at = replies[at:at + len(pending[i])], at + len(pending[i])
            try:
                pending[i] = jobs[i].send(part)
            except StopIteration as done:
                results[i] = done.value
                del pending[i]
    return results


class SSHHost:
    live = True

    def __init__(self, connection: Connection, sudo: bool = False, sudo_command: str = "sudo",
                 io_timeout: float = 60.0, deadline: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """``deadline``: seconds after which the whole scan of this host is abandoned."""
        self.connection = connection
        self.name = f"ssh:{connection.target}"
        self.io_timeout = io_timeout
        self.clock = clock
        self.round_trips = 0
        self.transfer_seconds = 0.0  # in SFTP waves and commands, after SFTP started
        self.transfer_cpu = 0.0  # of which CPU seconds of the calling thread (framing, parsing)
        self.sudo = sudo
        self.sudo_problem = ""  # why sudo was asked for but is not in effect
        self._aborted = ""
        self._lstat: dict[str, PathStat | HostError] = {}
        self._stat: dict[str, PathStat | HostError] = {}
        self._link: dict[str, str | HostError] = {}
        self._dir: dict[str, list[str] | HostError] = {}
        self._data: dict[str, bytes | HostError] = {}
        self._little_endian: bool | None = None
        self._channel: Any = None
        self._watchdog: threading.Timer | None = None
        if deadline is not None:
            self._watchdog = threading.Timer(deadline, self.abort, [f"scan timed out after {deadline:g} s"])
            self._watchdog.daemon = True
            self._watchdog.start()
        try:
            self.wire = self._open_sftp(sudo_command)
        except BaseException:
            self.close()
            raise

    @property
    def warnings(self) -> list[str]:
        out = list(getattr(self.connection, "warnings", []))  # known_hosts lines ignored for this host
        if self.sudo_problem:
            out.append(f"--sudo not in effect on {self.name} ({self.sudo_problem}): "
                       "what only root can read is reported as error")
        return out

    # Session ----------------------------------------------------------------------------------

    def _tick(self) -> None:
        self.round_trips += 1

    def _lost(self, reason: str) -> HostUnreachable:
        return HostUnreachable(f"{self.name}: {self._aborted or reason}")

    def _session(self, timeout: float) -> Any:
        try:
            self._tick()
            channel = self.connection.transport.open_session(timeout=timeout)
        except Exception as exc:  # paramiko: SSHException, ChannelException, EOFError, socket errors
            raise self._lost(f"cannot open an SSH channel: {exc}") from None
        channel.settimeout(timeout)
        return channel

    def _start_sftp(self, channel: Any, how: str, command: str = "") -> Wire | str:
        """A handshaken Wire, or the reason it could not start."""
        try:
            self._tick()
            if command:
                channel.exec_command(command)
            else:
                channel.invoke_subsystem("sftp")
            wire = Wire(channel, self._tick)
            wire.handshake()
            return wire
        except (sftp.ConnectionLost, OSError, Exception) as exc:  # paramiko.SSHException on refusal
            detail = ""
            try:
                channel.settimeout(2.0)
                detail = channel.recv_stderr(4096).decode("utf-8", "replace").strip().splitlines()[-1:]
                detail = detail[0] if detail else ""
            except Exception:  # the channel may already be gone; the reason below is enough
                pass
            channel.close()
            return f"{how}: {detail or exc}"

    def _open_sftp(self, sudo_command: str) -> Wire:
        attempts: list[tuple[str, str]] = []
        if self.sudo:
            attempts.append(("sudo", shlex.join(["sh", "-c", SUDO_SFTP, "fedharden", sudo_command])))
        attempts += [("sftp subsystem", ""), ("sftp-server", shlex.join(["sh", "-c", PLAIN_SFTP]))]
        problems = []
        for how, command in attempts:
            channel = self._session(self.io_timeout)
            started = self._start_sftp(channel, how, command)
            if isinstance(started, Wire):
                self._channel = channel
                return started
            problems.append(started)
            if how == "sudo":
                self.sudo_problem = started.removeprefix("sudo: ")
        raise self._lost("cannot start SFTP: " + "; ".join(problems))

    def abort(self, reason: str) -> None:
        """Stop a scan from another thread (a per-host timeout): every pending call fails."""
        self._aborted = reason
        self.connection.close()

    def close(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
        if self._channel is not None:
            self._channel.close()
        self.connection.close()

    # Running jobs -----------------------------------------------------------------------------

    def _run(self, jobs: dict[Hashable, Job[Any]]) -> dict[Hashable, Any]:
        if self._aborted:
            raise self._lost("")
        started, cpu = time.perf_counter(), time.thread_time()
        try:
            return self.wire.run(jobs)
        except sftp.ConnectionLost as exc:
            raise self._lost(str(exc)) from None
        finally:
            self.transfer_seconds += time.perf_counter() - started
            self.transfer_cpu += time.thread_time() - cpu

    def _error(self, path: str, exc: SftpError) -> HostError:
        if exc.code == sftp.FX_NO_SUCH_FILE:
            return NotFound(f"{path}: no such file")
        if exc.code == sftp.FX_PERMISSION_DENIED:
            hint = f"sudo unavailable: {self.sudo_problem}" if self.sudo_problem else ROOT_HINT
            return PermissionDenied(f"{path}: permission denied ({hint})")
        if exc.code == -2:
            return HostError(f"{path}: {exc.message}")
        return HostError(f"{path}: {exc.message}")

    def _close_later(self, handle: bytes) -> None:
        self.wire.close_later(handle)

    def _read_job(self, path: str, size: int | None, limit: int = MAX_READ) -> Job[None]:
        got = yield from sftp.read_job(path, size, limit, self._close_later)
        self._data[path] = self._error(path, got) if isinstance(got, SftpError) else got

    def _readlink_job(self, path: str) -> Job[None]:
        got = yield from sftp.readlink_job(path)
        self._link[path] = self._error(path, got) if isinstance(got, SftpError) else got

    def _readlinks_job(self, paths: list[str]) -> Job[None]:
        got = yield from sftp.readlinks_job(paths)
        for path, target in zip(paths, got):
            self._link[path] = self._error(path, target) if isinstance(target, SftpError) else target

    def _list_job(self, path: str, links: bool, contents: bool = False) -> Job[None]:
        """A listing, every entry's lstat, with ``links`` their link targets, with
        ``contents`` also the regular files it holds (directly or through a link) read."""
        got = yield from sftp.listdir_job(path, self._close_later)
        if isinstance(got, SftpError):
            self._dir[path] = self._error(path, got)
            return
        self._dir[path] = sorted(name for name, _ in got)
        to_read = []
        for name, attrs in got:
            entry = _join(path, name)
            self._lstat.setdefault(entry, _pathstat(attrs))
            if attrs.kind != "link":
                self._stat.setdefault(entry, _pathstat(attrs))
                if contents and attrs.kind == "file" and entry not in self._data and (attrs.size or 0) <= PREFETCH_MAX:
                    to_read.append(self._read_job(entry, attrs.size))
            elif contents:
                to_read.append(self._probe_job(entry, content=True, listing=False))
            elif links and entry not in self._link:
                to_read.append(self._readlink_job(entry))
        if to_read:
            yield from parallel(to_read)

    def _stat_job(self, path: str, follow: bool) -> Job[None]:
        got = yield from sftp.stat_job(path, follow)
        cache = self._stat if follow else self._lstat
        cache[path] = self._error(path, got) if isinstance(got, SftpError) else _pathstat(got)

    def _probe_job(self, path: str, content: bool, listing: bool, files: bool = False) -> Job[None]:
        """Everything about a path: lstat and stat, then its link, contents or listing (with
        ``files``, and the regular files of that listing)."""
        first = [self._stat_job(path, follow) for follow, cache in ((False, self._lstat), (True, self._stat))
                 if path not in cache]
        if first:
            yield from parallel(first)
        lstat, stat = self._lstat.get(path), self._stat.get(path)
        then: list[Job[None]] = []
        if isinstance(lstat, PathStat) and lstat.kind == "link" and path not in self._link:
            then.append(self._readlink_job(path))
        if isinstance(stat, PathStat):
            if content and stat.kind == "file" and path not in self._data and stat.size <= PREFETCH_MAX:
                then.append(self._read_job(path, stat.size))
            if listing and stat.kind == "dir" and path not in self._dir:
                then.append(self._list_job(path, links=True, contents=files))
        if then:
            yield from parallel(then)

    # What is already known --------------------------------------------------------------------

    def _absent(self, path: str) -> HostError | None:
        """NotFound when what is known of the parent says so: its listing lacks the name, or
        the parent itself does not exist or is not a directory (ENOENT and ENOTDIR alike)."""
        directory, name = _parent(path)
        if not name:
            return None  # "/" has no parent listing to consult
        listing = self._dir.get(directory)
        parent = self._stat.get(directory)
        if (isinstance(listing, list) and name not in listing) or isinstance(listing, NotFound) \
                or isinstance(parent, NotFound) or (isinstance(parent, PathStat) and parent.kind != "dir"):
            return NotFound(f"{path}: no such file")
        return None

    def _known_lstat(self, path: str) -> PathStat | HostError | None:
        return self._lstat.get(path) or self._absent(path)

    def _known_stat(self, path: str) -> PathStat | HostError | None:
        if path in self._stat:
            return self._stat[path]
        lstat = self._known_lstat(path)
        if isinstance(lstat, HostError) or (lstat is not None and lstat.kind != "link"):
            return lstat
        return None

    @staticmethod
    def _give(value: Any) -> Any:
        if isinstance(value, HostError):
            raise value
        return value

    # Host primitives --------------------------------------------------------------------------

    def prefetch(self, paths: Sequence[str], metadata: Sequence[str] = (), contents: Sequence[str] = ()) -> None:
        jobs: dict[Hashable, Job[Any]] = {}
        for path in dict.fromkeys(contents):
            if path not in self._dir and not isinstance(self._known_lstat(path), HostError):
                jobs[path] = self._probe_job(path, content=True, listing=True, files=True)
        for path in dict.fromkeys(paths):
            if path in jobs:
                continue
            if path in self._data or path in self._dir or isinstance(self._known_lstat(path), HostError):
                continue
            jobs[path] = self._probe_job(path, content=True, listing=True)
        for path in dict.fromkeys(metadata):
            if path in jobs or path in self._stat or isinstance(self._known_lstat(path), HostError):
                continue
            jobs[("m", path)] = self._probe_job(path, content=False, listing=False)
        if self._little_endian is None and any(p.startswith("/proc/net/") for p in paths):
            jobs["exe"] = self._head_job()  # the byte order the socket tables are printed in
        if jobs:
            self._run(jobs)

    def stat(self, path: str, follow: bool = True) -> PathStat:
        known = self._known_stat(path) if follow else self._known_lstat(path)
        if known is None:
            self._run({path: self._stat_job(path, follow)})
            known = (self._stat if follow else self._lstat)[path]
        return self._give(known)  # type: ignore[no-any-return]

    def readlink(self, path: str) -> str:
        if path not in self._link:
            lstat = self._known_lstat(path)
            if isinstance(lstat, HostError):
                raise lstat
            if isinstance(lstat, PathStat) and lstat.kind != "link":
                raise HostError(f"{path}: Invalid argument")
            self._run({path: self._readlink_job(path)})
        return self._give(self._link[path])  # type: ignore[no-any-return]

    def listdir(self, path: str) -> list[str]:
        if path not in self._dir:
            known = self._known_stat(path)
            if isinstance(known, HostError):
                raise known
            if isinstance(known, PathStat) and known.kind != "dir":
                raise NotFound(f"{path}: no such file")  # ENOTDIR, as the local host says
            self._run({path: self._list_job(path, links=True)})
        return list(self._give(self._dir[path]))

    def read(self, path: str) -> bytes:
        """A regular file's bytes. The server's open() would block on a FIFO (and with it the
        whole session) or read a device, so the path is stat-ed first and anything but a regular
        file of at most MAX_READ bytes is refused without an OPEN."""
        if path not in self._data:
            stat = self._known_stat(path)
            if stat is None:
                self._run({path: self._stat_job(path, True)})
                stat = self._stat[path]
            if isinstance(stat, HostError):
                raise stat
            if stat.kind != "file":
                raise not_regular(path, stat.type or "file of unknown type")
            if stat.size > MAX_READ:
                raise too_large(path, stat.size)
            self._run({path: self._read_job(path, stat.size)})
        return self._give(self._data[path])  # type: ignore[no-any-return]

    # Batches (agent.hosts.procfs.Batch) ---------------------------------------------------------

    def fetch(self, read: Sequence[str] = (), listdir: Sequence[str] = (), readlink: Sequence[str] = ()) -> None:
        """Everything of one step at once; reads go straight to OPEN (/proc files have no size)."""
        jobs: dict[Hashable, Job[Any]] = {}
        jobs.update({("r", p): self._read_job(p, None) for p in read if p not in self._data})
        jobs.update({("l", p): self._list_job(p, links=False) for p in listdir if p not in self._dir})
        links = list(dict.fromkeys(p for p in readlink if p not in self._link))
        for at in range(0, len(links), READLINKS_PER_JOB):
            jobs[("k", at)] = self._readlinks_job(links[at:at + READLINKS_PER_JOB])
        if self._little_endian is None and any(p.startswith("/proc/net/") for p in read):
            jobs["exe"] = self._head_job()
        if jobs:
            self._run(jobs)

    def read_many(self, paths: Sequence[str]) -> dict[str, bytes | HostError]:
        self.fetch(read=paths)
        return {p: self._data[p] for p in paths}

    def listdir_many(self, paths: Sequence[str]) -> dict[str, list[str] | HostError]:
        self.fetch(listdir=paths)
        return {p: self._dir[p] for p in paths}

    def readlink_many(self, paths: Sequence[str]) -> dict[str, str | HostError]:
        self.fetch(readlink=paths)
        return {p: self._link[p] for p in paths}

    def walk(self, top: str, prune: Sequence[str], errors: list[str]) -> Iterator[tuple[str, str, int, int, int]]:
        """As RootfsHost.walk, level by level: every directory of a level is listed in the
        same waves (the entries' lstat comes with the listing). Listings are not cached."""
        pruned = set(prune)
        level = [top]
        while level:
            got = self._run({d: sftp.listdir_job(d, self._close_later) for d in level})
            deeper = []
            for directory in level:
                entries = got[directory]
                if isinstance(entries, SftpError):
                    errors.append(f"{directory}: {entries.message}")
                    continue
                for name, attrs in sorted(entries):
                    path, kind, mode = _join(directory, name), attrs.kind, (attrs.mode or 0) & 0o7777
                    if kind == "link":
                        continue
                    if kind == "dir":
                        yield path, "dir", mode, attrs.uid or 0, attrs.gid or 0
                        if path not in pruned:
                            deeper.append(path)
                    else:
                        yield path, kind, mode, attrs.uid or 0, attrs.gid or 0
            level = deeper

    # Runtime state ----------------------------------------------------------------------------

    def _head_job(self) -> Job[None]:
        """The target's byte order, which /proc/net tables are printed in, from an ELF header."""
        got = yield from sftp.read_job("/proc/self/exe", 0, 16, self._close_later, head=True)
        self._little_endian = procfs.is_little_endian(got if isinstance(got, bytes) else b"")

    def _byte_order(self) -> bool:
        if self._little_endian is None:
            self._run({"exe": self._head_job()})
        return bool(self._little_endian)

    def connect(self, address: str, port: int, timeout: float) -> socket.socket:
        """A TCP connection made *by the target* to one of its own listeners (an SSH
        direct-tcpip channel), handed over as a local socket so TLS can be layered on it."""
        self._tick()
        try:
            channel = self.connection.transport.open_channel("direct-tcpip", (address, port), ("127.0.0.1", 0),
                                                              timeout=timeout)
        except Exception as exc:  # paramiko.ChannelException (refused, forwarding disabled), SSHException
            reason = getattr(exc, "text", "") or str(exc) or type(exc).__name__
            if not self.connection.transport.is_active():
                raise self._lost(f"connection lost: {reason}") from None
            raise HostError(f"{address}:{port}: {reason} (from {self.name})") from None
        ours, theirs = socket.socketpair()
        threading.Thread(target=_pump, args=(channel, theirs), daemon=True, name=f"fedharden-tcp-{port}").start()
        ours.settimeout(timeout)
        return ours

    def sockets(self) -> list[tuple[str, str, int, str, int]]:
        self.fetch(read=[p for _, p in procfs.NET_FILES], listdir=["/proc"])  # learns the byte order too
        return procfs.sockets(self, self._byte_order())

    def addresses(self) -> list[str]:
        return procfs.addresses(self)

    def run(self, argv: Sequence[str], timeout: float = 10.0) -> CommandResult:
        started, cpu = time.perf_counter(), time.thread_time()
        try:
            return self._command(argv, timeout)
        finally:
            self.transfer_seconds += time.perf_counter() - started
            self.transfer_cpu += time.thread_time() - cpu

    def _command(self, argv: Sequence[str], timeout: float) -> CommandResult:
        if not argv or "=" in argv[0]:
            raise HostError(f"{argv[0] if argv else '(empty)'}: not a command")
        env = [f"{k}={v}" for k, v in COMMAND_ENV.items()]
        command = shlex.join(["env", "-i", *env, *argv])
        deadline = self.clock() + timeout
        channel = self._session(timeout)
        try:
            self._tick()
            channel.exec_command(command)
            channel.shutdown_write()
            self._tick()
            out = bytearray()
            while chunk := channel.recv(65536):
                out += chunk
                channel.settimeout(max(deadline - self.clock(), 0.001))
            err = bytearray()
            while chunk := channel.recv_stderr(65536):
                err += chunk
            if not channel.status_event.wait(max(deadline - self.clock(), 0.001)):
                raise socket.timeout()
            code = channel.recv_exit_status()
        except (socket.timeout, TimeoutError):
            channel.close()
            if self._aborted:
                raise self._lost("") from None
            raise HostError(f"{' '.join(argv)}: timed out after {timeout:g} s") from None
        except Exception as exc:  # the connection died under us
            channel.close()
            raise self._lost(f"connection lost: {exc}") from None
        channel.close()
        if self._aborted or not self.connection.transport.is_active():
            raise self._lost("connection lost while a command ran")
        stderr = err.decode("utf-8", "replace")
        if code == 127 and not out:
            raise HostError(f"{argv[0]}: command not found")
        return CommandResult(tuple(argv), code, out.decode("utf-8", "replace"), stderr)

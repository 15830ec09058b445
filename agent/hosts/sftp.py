"""A small pipelined SFTP (version 3) client that only ever sends read-only requests.

Why not paramiko's SFTPClient: it waits for each answer before sending the next request, so
a scan would pay one network round trip per file. Here every request of a *wave* is sent at
once and the answers are collected afterwards, so stat-ing 300 paths or reading 40 files is
one round trip (or two or three: open, then read). Work is written as small generator *jobs*
(open, then read until end of file, then close) that ``Wire.run`` drives in lock step: each
wave gathers the next requests of every job still running.

The only requests this module can build are INIT, OPEN (read flag only), READ, CLOSE,
LSTAT, STAT, OPENDIR, READDIR and READLINK; nothing that changes the target.
"""
from __future__ import annotations

import socket
import struct
from typing import Callable, Generator, Hashable, Mapping, NamedTuple, Protocol, TypeVar

from agent.hosts.base import kind_of

INIT, VERSION, OPEN, CLOSE, READ, LSTAT, STAT, OPENDIR, READDIR, READLINK = 1, 2, 3, 4, 5, 7, 17, 11, 12, 19
STATUS, HANDLE, DATA, NAME, ATTRS = 101, 102, 103, 104, 105
FX_OK, FX_EOF, FX_NO_SUCH_FILE, FX_PERMISSION_DENIED = 0, 1, 2, 3
ATTR_SIZE, ATTR_UIDGID, ATTR_PERMISSIONS, ATTR_ACMODTIME, ATTR_EXTENDED = 1, 2, 4, 8, 0x80000000
OPEN_READ = 1

CHUNK = 64 * 1024  # per READ; small, as /proc/sys handlers allocate a buffer of the size asked for
READDIRS_PER_WAVE = 8  # OpenSSH answers up to 100 names per READDIR; ask for several at once
BURST = 16  # overlapping reads per wave for files of unknown size
BURST_FROM = 3072  # a first read of at least this much (a page, less a record) may have more behind it
MAX_WAVE_REQUESTS = 4000  # keep a wave well inside both sides' channel windows
MAX_PACKET = 512 * 1024

T = TypeVar("T")


class SftpError(Exception):
    """A STATUS answer other than OK/EOF, or a malformed conversation."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class ConnectionLost(Exception):
    """The channel closed or stalled: the whole host is gone, not one file."""


class ByteChannel(Protocol):
    def sendall(self, data: bytes) -> None: ...

    def recv(self, nbytes: int) -> bytes: ...


class Attrs(NamedTuple):  # a tuple: a scan builds thousands (every listed entry has one)
    mode: int | None
    uid: int | None
    gid: int | None
    size: int | None

    @property
    def kind(self) -> str:
        return kind_of(self.mode or 0)


class Reply(NamedTuple):
    type: int
    body: bytes


U32 = struct.Struct(">I")
# The attributes OpenSSH sends for every file: size, uid and gid, permissions, times.
COMMON_FLAGS = ATTR_SIZE | ATTR_UIDGID | ATTR_PERMISSIONS | ATTR_ACMODTIME
COMMON_ATTRS = struct.Struct(">QIIIII")
RECV_SIZE = 256 * 1024  # per read from the channel: many answers at once


Request = tuple[int, bytes]
Job = Generator[list[Request], list[Reply], T]


def encode_path(path: str) -> bytes:
    return path.encode("utf-8", "surrogateescape")


def decode_name(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")  # as os.listdir(str) decodes names


def string(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


class Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def u32(self) -> int:
        value: int = U32.unpack_from(self.data, self.pos)[0]
        self.pos += 4
        return value

    def u64(self) -> int:
        value: int = struct.unpack_from(">Q", self.data, self.pos)[0]
        self.pos += 8
        return value

    def string(self) -> bytes:
        size = self.u32()
        value = self.data[self.pos:self.pos + size]
        if len(value) != size:
            raise SftpError(-1, "malformed SFTP packet")
        self.pos += size
        return value

    def attrs(self) -> Attrs:
        flags = self.u32()
        if flags == COMMON_FLAGS and len(self.data) >= self.pos + COMMON_ATTRS.size:  # one unpack
            size, uid, gid, mode, _, _ = COMMON_ATTRS.unpack_from(self.data, self.pos)
            self.pos += COMMON_ATTRS.size
            return Attrs(mode, uid, gid, size)
        size = self.u64() if flags & ATTR_SIZE else None
        uid, gid = (self.u32(), self.u32()) if flags & ATTR_UIDGID else (None, None)
        mode = self.u32() if flags & ATTR_PERMISSIONS else None
        if flags & ATTR_ACMODTIME:
            self.u32(), self.u32()
        if flags & ATTR_EXTENDED:
            for _ in range(self.u32()):
                self.string(), self.string()
        return Attrs(mode, uid, gid, size)


# Interpreting replies ----------------------------------------------------------------------

def status_of(reply: Reply) -> tuple[int, str]:
    r = Reader(reply.body)
    code = r.u32()
    try:
        message = r.string().decode("utf-8", "replace")
    except (SftpError, struct.error):
        message = ""
    return code, message


def fail(reply: Reply) -> SftpError:
    if reply.type != STATUS:
        return SftpError(-1, f"unexpected SFTP answer type {reply.type}")
    code, message = status_of(reply)
    return SftpError(code, message or f"SFTP status {code}")


def expect_attrs(reply: Reply) -> Attrs:
    if reply.type != ATTRS:
        raise fail(reply)
    return Reader(reply.body).attrs()


def expect_handle(reply: Reply) -> bytes:
    if reply.type != HANDLE:
        raise fail(reply)
    return Reader(reply.body).string()


NO_ATTRS = Attrs(None, None, None, None)


def names_of(reply: Reply) -> list[tuple[str, Attrs]]:
    """The entries of a NAME answer (a directory listing's, a link's target). Unpacked in
    place, with the usual attributes at once: a scan parses thousands of entries per host."""
    data = reply.body
    out = []
    unpack, common = U32.unpack_from, COMMON_ATTRS.unpack_from
    try:
        (count,) = unpack(data, 0)
        pos = 4
        for _ in range(count):
            (size,) = unpack(data, pos)
            name = data[pos + 4:pos + 4 + size]
            if len(name) != size:
                raise SftpError(-1, "malformed SFTP packet")
            pos += 4 + size
            (size,) = unpack(data, pos)  # the ls -l style long name: not needed
            pos += 4 + size
            (flags,) = unpack(data, pos)
            if flags == COMMON_FLAGS:
                size, uid, gid, mode, _, _ = common(data, pos + 4)
                attrs, pos = Attrs(mode, uid, gid, size), pos + 4 + COMMON_ATTRS.size
            elif flags == 0:  # as a link's target comes
                attrs, pos = NO_ATTRS, pos + 4
            else:
                r = Reader(data)
                r.pos = pos
                attrs, pos = r.attrs(), r.pos
            out.append((name.decode("utf-8", "surrogateescape"), attrs))  # as decode_name
    except struct.error:
        raise SftpError(-1, "malformed SFTP packet") from None
    return out


def is_eof(reply: Reply) -> bool:
    return reply.type == STATUS and status_of(reply)[0] == FX_EOF


# Jobs ----------------------------------------------------------------------------------------

def stat_job(path: str, follow: bool = True) -> Job[Attrs | SftpError]:
    (reply,) = yield [(STAT if follow else LSTAT, string(encode_path(path)))]
    try:
        return expect_attrs(reply)
    except SftpError as exc:
        return exc


def readlink_job(path: str) -> Job[str | SftpError]:
    (reply,) = yield [(READLINK, string(encode_path(path)))]
    if reply.type != NAME:
        return fail(reply)
    names = names_of(reply)
    return names[0][0] if names else SftpError(-1, "empty READLINK answer")


def readlinks_job(paths: list[str]) -> Job[list[str | SftpError]]:
    """Many links' targets in one wave: one job, not one per link (a scan resolves every open
    file of every process to find who owns a socket: thousands on a busy host)."""
    replies = yield [(READLINK, string(encode_path(path))) for path in paths]
    out: list[str | SftpError] = []
    for reply in replies:
        if reply.type != NAME:
            out.append(fail(reply))
            continue
        names = names_of(reply)
        out.append(names[0][0] if names else SftpError(-1, "empty READLINK answer"))
    return out


def listdir_job(path: str, close: Callable[[bytes], None]) -> Job[list[tuple[str, Attrs]] | SftpError]:
    """Names and lstat attributes of a directory's entries ('.' and '..' left out)."""
    (reply,) = yield [(OPENDIR, string(encode_path(path)))]
    try:
        handle = expect_handle(reply)
    except SftpError as exc:
        return exc
    entries: list[tuple[str, Attrs]] = []
    per_wave = 2  # most directories fit in one answer (the second says end): more only for big ones
    try:
        while True:
            replies = yield [(READDIR, string(handle))] * per_wave
            per_wave = READDIRS_PER_WAVE
            for reply in replies:
                if is_eof(reply):
                    return [(n, a) for n, a in entries if n not in (".", "..")]
                if reply.type != NAME:
                    return fail(reply)
                entries.extend(names_of(reply))
    finally:
        close(handle)


def read_plan(pos: int, size: int | None, stride: int, burst: int, limit: int) -> list[tuple[int, int]]:
    """(offset, length) of the READs of the next wave.

    A known size: reads that cover it plus one at its end to see end-of-file, all at once.
    Files that report size 0 (/proc) answer a page or less per read: after a first read of
    ``2 * stride`` bytes, bursts of ``burst`` overlapping reads ``stride`` apart follow; the
    overlap absorbs reads that stop short at a record boundary."""
    if size:
        want = min(size, limit + 1)
        return [(o, min(CHUNK, want - o)) for o in range(pos, want, CHUNK)] + [(max(pos, want), CHUNK)]
    if stride < BURST_FROM // 2:
        return [(pos, CHUNK)]  # a short first read: most likely the whole file, confirm end-of-file
    return [(pos + i * stride, CHUNK) for i in range(burst)]


def read_job(path: str, size: int | None, limit: int, close: Callable[[bytes], None],
             head: bool = False) -> Job[bytes | SftpError]:
    """The whole file up to ``limit`` bytes (more is an error), read until end of file;
    with ``head``, only its first ``limit`` bytes. See read_plan for how reads are pipelined."""
    (reply,) = yield [(OPEN, string(encode_path(path)) + struct.pack(">II", OPEN_READ, 0))]
    try:
        handle = expect_handle(reply)
    except SftpError as exc:
        return exc
    h = string(handle)
    data = bytearray()
    try:
        if head:
            (reply,) = yield [(READ, h + struct.pack(">QI", 0, limit))]
            return Reader(reply.body).string()[:limit] if reply.type == DATA else b""
        stride, burst = 0, BURST
        while True:
            if len(data) > limit:
                return SftpError(-2, f"larger than {limit} bytes")
            plan = read_plan(len(data), size, stride, burst, limit)
            replies = yield [(READ, h + struct.pack(">QI", o, n)) for o, n in plan]
            size = None  # the size was a hint; from here on read until end of file
            for (offset, _), reply in zip(plan, replies):
                if offset > len(data):
                    break  # a gap (a short read before it): continue from where the data ends
                if is_eof(reply):
                    return bytes(data)
                if reply.type != DATA:
                    return fail(reply)
                chunk = Reader(reply.body).string()
                if offset + len(chunk) > len(data):
                    data += chunk[len(data) - offset:]
                if not stride:
                    stride = len(chunk) // 2  # what this file answers per read, with overlap
            else:
                burst *= 2  # no gap: the file is long, ask for more at once
    finally:
        close(handle)


# The wire ------------------------------------------------------------------------------------

class Wire:
    """One SFTP conversation on a channel; counts the waves it waits on."""

    def __init__(self, channel: ByteChannel, on_wave: Callable[[], None] = lambda: None) -> None:
        self.channel = channel
        self.on_wave = on_wave
        self._next_id = 1
        self._buffer = bytearray()
        self._pos = 0  # where the next packet starts in _buffer
        self._discard: set[int] = set()  # fire-and-forget requests (CLOSE) still unanswered
        self._pending_closes: list[bytes] = []

    # Framing --------------------------------------------------------------------------------

    def _fill(self, size: int) -> None:
        """Receive until ``size`` bytes are buffered past the read position."""
        if self._pos:
            del self._buffer[:self._pos]  # drop what was parsed before growing the buffer
            self._pos = 0
        while len(self._buffer) < size:
            try:
                chunk = self.channel.recv(max(size - len(self._buffer), RECV_SIZE))
            except (socket.timeout, TimeoutError):
                raise ConnectionLost("no answer from the SFTP server in time") from None
            except OSError as exc:
                raise ConnectionLost(f"connection lost: {exc}") from None
            if not chunk:
                raise ConnectionLost("the SFTP channel closed")
            self._buffer += chunk

    def _packet(self) -> tuple[int, bytes]:
        """The next packet's type and body; parsed in place from what one read brought (a
        read brings many answers), receiving only when the buffer holds no whole packet."""
        buffer, pos = self._buffer, self._pos
        if len(buffer) - pos < 4:
            self._fill(4)
            buffer, pos = self._buffer, self._pos
        (length,) = U32.unpack_from(buffer, pos)
        if not 1 <= length <= MAX_PACKET:
            raise ConnectionLost(f"malformed SFTP packet length {length}")
        if len(buffer) - pos - 4 < length:
            self._fill(4 + length)
            buffer, pos = self._buffer, self._pos
        end = pos + 4 + length
        self._pos = end
        return buffer[pos + 4], bytes(buffer[pos + 5:end])

    def _send(self, data: bytes) -> None:
        try:
            self.channel.sendall(data)
        except OSError as exc:
            raise ConnectionLost(f"connection lost: {exc}") from None

    def handshake(self) -> int:
        self._send(struct.pack(">IBI", 5, INIT, 3))
        self.on_wave()
        kind, body = self._packet()
        if kind != VERSION:
            raise ConnectionLost(f"not an SFTP server (answered type {kind})")
        return int(Reader(body).u32())

    # Waves ----------------------------------------------------------------------------------

    def close_later(self, handle: bytes) -> None:
        """CLOSE a handle with the next wave, without waiting for the answer."""
        self._pending_closes.append(handle)

    def _frame(self, kind: int, body: bytes) -> tuple[int, bytes]:
        rid = self._next_id
        self._next_id = (self._next_id + 1) & 0xFFFFFFFF or 1
        return rid, struct.pack(">IBI", len(body) + 5, kind, rid) + body

    def wave(self, requests: list[Request]) -> list[Reply]:
        """Send every request, then collect their answers in order: one round trip."""
        frames = []
        while self._pending_closes:
            rid, frame = self._frame(CLOSE, string(self._pending_closes.pop()))
            self._discard.add(rid)
            frames.append(frame)
        ids = []
        for kind, body in requests:
            rid, frame = self._frame(kind, body)
            ids.append(rid)
            frames.append(frame)
        if not ids and not frames:
            return []
        self._send(b"".join(frames))
        self.on_wave()
        got: dict[int, Reply] = {}
        wanted = set(ids)
        while wanted:
            kind, body = self._packet()
            if len(body) < 4:
                raise ConnectionLost("malformed SFTP answer")
            (rid,) = U32.unpack_from(body)
            if rid in self._discard:
                self._discard.discard(rid)
                continue
            if rid not in wanted:
                raise ConnectionLost(f"SFTP answer to an unknown request {rid}")
            wanted.discard(rid)
            got[rid] = Reply(kind, body[4:])
        return [got[rid] for rid in ids]

    def run(self, jobs: Mapping[Hashable, Job[T]]) -> dict[Hashable, T]:
        """Drive jobs in lock step; each wave carries the next requests of every running job."""
        results: dict[Hashable, T] = {}
        pending: dict[Hashable, list[Request]] = {}
        for key, job in jobs.items():
            try:
                pending[key] = next(job)
            except StopIteration as done:
                results[key] = done.value
        while pending:
            batch: list[tuple[Hashable, list[Request]]] = []
            count = 0
            for key, requests in list(pending.items()):
                if batch and count + len(requests) > MAX_WAVE_REQUESTS:
                    break
                batch.append((key, requests))
                count += len(requests)
            flat = self.wave([r for _, requests in batch for r in requests])
            at = 0
            for key, requests in batch:
                replies, at = flat[at:at + len(requests)], at + len(requests)
                try:
                    pending[key] = jobs[key].send(replies)
                except StopIteration as done:
                    results[key] = done.value
                    del pending[key]
        return results

"""The pipelined SFTP client against the real OpenSSH sftp-server (read-only mode), spoken to
over pipes: whole files in few waves, big directories, links, errors."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Iterator

import pytest

from agent.hosts import sftp

SFTP_SERVER = "/usr/lib/openssh/sftp-server"


class Pipes:
    """A byte channel to a local sftp-server process."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen([SFTP_SERVER, "-R"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def sendall(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def recv(self, nbytes: int) -> bytes:
        assert self.proc.stdout is not None
        return os.read(self.proc.stdout.fileno(), nbytes)

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


@pytest.fixture
def wire() -> Iterator[tuple[sftp.Wire, list[int]]]:
    if not os.path.exists(SFTP_SERVER):
        pytest.fail("openssh-sftp-server is missing: run the suite through tests/run")
    pipes = Pipes()
    waves: list[int] = []
    w = sftp.Wire(pipes, lambda: waves.append(1))
    assert w.handshake() == 3
    waves.clear()
    yield w, waves
    pipes.close()


def test_files_of_known_size_are_read_in_two_waves(wire: tuple[sftp.Wire, list[int]], tmp_path: Path) -> None:
    w, waves = wire
    big = tmp_path / "big"
    big.write_bytes(os.urandom(3 * sftp.CHUNK + 5))
    small = tmp_path / "small"
    small.write_bytes(b"x" * 10)
    got = w.run({p: sftp.read_job(str(p), p.stat().st_size, 1 << 24, w.close_later) for p in (big, small)})
    assert got == {big: big.read_bytes(), small: small.read_bytes()}
    assert len(waves) == 2  # OPEN, then every READ (and the end-of-file check) at once


def test_files_without_a_size_are_read_to_the_end(wire: tuple[sftp.Wire, list[int]]) -> None:
    w, _ = wire
    path = "/proc/self/status"  # the server's own: only its shape can be compared
    got = w.run({0: sftp.read_job(path, None, 1 << 20, w.close_later)})[0]
    assert isinstance(got, bytes) and got.startswith(b"Name:\tsftp-server\n") and got.endswith(b"\n")


def test_a_limit_is_an_error(wire: tuple[sftp.Wire, list[int]], tmp_path: Path) -> None:
    w, _ = wire
    path = tmp_path / "f"
    path.write_bytes(b"y" * 5000)
    got = w.run({0: sftp.read_job(str(path), 5000, 1000, w.close_later)})[0]
    assert isinstance(got, sftp.SftpError) and got.message == "larger than 1000 bytes"


def test_big_directories_links_and_errors(wire: tuple[sftp.Wire, list[int]], tmp_path: Path) -> None:
    w, waves = wire
    for i in range(350):  # several READDIR answers (OpenSSH sends at most 100 names each)
        (tmp_path / f"f{i:03d}").write_text("")
    os.symlink("f000", tmp_path / "link")
    (tmp_path / "d").mkdir()
    got = w.run({
        "list": sftp.listdir_job(str(tmp_path), w.close_later),
        "link": sftp.readlink_job(str(tmp_path / "link")),
        "lstat": sftp.stat_job(str(tmp_path / "link"), follow=False),
        "stat": sftp.stat_job(str(tmp_path / "link"), follow=True),
        "missing": sftp.stat_job(str(tmp_path / "nope")),
        "notdir": sftp.listdir_job(str(tmp_path / "f000"), w.close_later),
    })
    names = dict(got["list"])
    assert sorted(names) == sorted(os.listdir(tmp_path)) and names["d"].kind == "dir" and names["link"].kind == "link"
    assert got["link"] == "f000"
    assert got["lstat"].kind == "link" and got["stat"].kind == "file"
    assert isinstance(got["missing"], sftp.SftpError) and got["missing"].code == sftp.FX_NO_SUCH_FILE
    assert isinstance(got["notdir"], sftp.SftpError)
    assert len(waves) <= 4  # everything side by side: open/stat, then the listing's READDIRs


def test_only_read_requests_exist() -> None:
    """The client cannot change the target: it has no request type that writes."""
    sent = {sftp.INIT, sftp.OPEN, sftp.CLOSE, sftp.READ, sftp.LSTAT, sftp.STAT, sftp.OPENDIR, sftp.READDIR,
            sftp.READLINK}
    writes = {6, 9, 10, 13, 14, 15, 18, 20}  # WRITE, SETSTAT, FSETSTAT, REMOVE, MKDIR, RMDIR, RENAME, SYMLINK
    assert not sent & writes
    assert sftp.OPEN_READ == 1  # files are opened for reading only

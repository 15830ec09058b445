"""Only regular files are read, on every transport: a FIFO, a device node or a socket where a
file is expected is refused with its type before it is opened (a FIFO would block the scan,
a block device would hand over a disk), and a file past the read bound is refused unread."""
from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from agent.facts.context import Context
from agent.hosts import HostError, LocalHost, NotFound, RootfsHost
from agent.hosts.base import MAX_READ


SPARSE = 5 * 1024 ** 3  # a sparse 5 GiB file: reading it whole would take minutes and all memory

# path on the target -> the error every transport gives
EXPECTED = {
    "/etc/ssh/sshd_config": "/etc/ssh/sshd_config: is a FIFO, not a regular file",
    "/etc/hostname": "/etc/hostname: is a block device, not a regular file",
    "/etc/os-release": "/etc/os-release: is a character device, not a regular file",
    "/etc/login.defs": "/etc/login.defs: is a socket, not a regular file",
    "/etc/big.conf": f"/etc/big.conf: {SPARSE} bytes, larger than the {MAX_READ // 1024 ** 2} MiB bound on a file read",
    "/etc": "/etc: is a directory",
}


def within(seconds: float, call: Callable[[], Any]) -> Any:
    """``call()``'s result or exception, failing the test if it does not return in time (a
    blocked open of a FIFO never returns)."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:  # handed back to the test thread
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still blocked after {seconds} s"
    if "error" in box:
        raise box["error"]
    return box["value"]


def build(root: Path) -> Path:
    (root / "etc/ssh").mkdir(parents=True)
    os.mkfifo(root / "etc/ssh/sshd_config")
    os.mknod(root / "etc/hostname", 0o644 | 0o060000, os.makedev(7, 0))  # a loop device
    os.mknod(root / "etc/os-release", 0o644 | 0o020000, os.makedev(1, 3))  # /dev/null's numbers
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(root / "etc/login.defs"))
    with open(root / "etc/big.conf", "wb") as fh:
        fh.truncate(SPARSE)
    (root / "etc/regular.conf").write_text("PermitRootLogin no\n")
    return root


@pytest.fixture
def special_root() -> Iterator[Path]:
    """World-traversable, so the unprivileged SSH account could reach it too."""
    if os.geteuid() != 0:
        pytest.fail("device nodes need root: run the suite through tests/run")
    base = Path(tempfile.mkdtemp(prefix="fedharden-special-"))
    base.chmod(0o755)
    try:
        yield build(base / "root")
    finally:
        shutil.rmtree(base, ignore_errors=True)


def reasons(host: Any, prefix: str = "") -> dict[str, str]:
    out = {}
    for path in EXPECTED:
        with pytest.raises(HostError) as caught:
            within(10, lambda: host.read(prefix + path))  # noqa: B023 (called at once)
        assert not isinstance(caught.value, NotFound)
        out[path] = caught.value.reason.removeprefix(prefix)
    return out


def test_an_image_refuses_everything_but_regular_files(special_root: Path) -> None:
    host = RootfsHost(str(special_root))
    assert reasons(host) == EXPECTED
    assert host.read("/etc/regular.conf") == b"PermitRootLogin no\n"
    assert {p: host.stat(p).type for p in ("/etc/ssh/sshd_config", "/etc/hostname", "/etc/os-release")} == {
        "/etc/ssh/sshd_config": "FIFO", "/etc/hostname": "block device", "/etc/os-release": "character device"}


def test_the_local_host_refuses_them_too(special_root: Path) -> None:
    assert reasons(LocalHost(), prefix=str(special_root)) == EXPECTED
    with pytest.raises(HostError, match="^/dev/null: is a character device, not a regular file$"):
        LocalHost().read("/dev/null")
    assert LocalHost().read("/proc/self/status").startswith(b"Name:")  # /proc files are regular, size 0


def test_a_link_to_a_fifo_is_refused_as_the_fifo(special_root: Path) -> None:
    (special_root / "etc/ssh/link").symlink_to("sshd_config")
    with pytest.raises(HostError, match="^/etc/ssh/link: is a FIFO, not a regular file$"):
        within(10, lambda: RootfsHost(str(special_root)).read("/etc/ssh/link"))


def test_the_gathering_context_gives_the_error(special_root: Path) -> None:
    ctx = Context(RootfsHost(str(special_root)))
    with pytest.raises(HostError, match="is a FIFO"):
        within(10, lambda: ctx.text("/etc/ssh/sshd_config"))


def test_over_ssh_nothing_but_a_regular_file_is_opened(ssh_server: Any, special_root: Path) -> None:
    """The server's sftp-server would block on the FIFO (and the whole session with it): the
    path is stat-ed and refused first, both when read and when prefetched."""
    from agent.hosts.ssh import SSHHost
    from agent.hosts.sshconnect import ConnectOptions, Credentials, Target, connect

    def fresh() -> SSHHost:
        conn = connect(Target("127.0.0.1", ssh_server.port, "root"),
                       Credentials(identity=str(ssh_server.root_key), use_agent=False, look_for_keys=False),
                       ConnectOptions(known_hosts=str(ssh_server.known_hosts), timeout=10))
        return SSHHost(conn, io_timeout=20)

    host = fresh()
    try:
        assert reasons(host, prefix=str(special_root)) == EXPECTED
        assert host.read(f"{special_root}/etc/regular.conf") == b"PermitRootLogin no\n"
    finally:
        host.close()
    host = fresh()
    try:
        within(20, lambda: host.prefetch([str(special_root) + p for p in EXPECTED]))
        assert reasons(host, prefix=str(special_root)) == EXPECTED
    finally:
        host.close()

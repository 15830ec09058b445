"""The running system the agent is on."""
from __future__ import annotations

import socket
import subprocess
from typing import Sequence

from agent.hosts.base import CommandResult, HostError
from agent.hosts.rootfs import RootfsHost

# Commands get a fixed, minimal environment: no user aliases, no localized output.
COMMAND_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C", "SYSTEMD_PAGER": "", "SYSTEMD_COLORS": "0"}


class LocalHost(RootfsHost):
    live = True

    def __init__(self) -> None:
        super().__init__("/")
        self.name = "local"

    def run(self, argv: Sequence[str], timeout: float = 10.0) -> CommandResult:
        try:
            proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout,
                                  env=COMMAND_ENV, stdin=subprocess.DEVNULL, check=False)
        except FileNotFoundError:
            raise HostError(f"{argv[0]}: command not found") from None
        except subprocess.TimeoutExpired:
            raise HostError(f"{' '.join(argv)}: timed out after {timeout:g} s") from None
        return CommandResult(tuple(argv), proc.returncode, proc.stdout, proc.stderr)

    def connect(self, address: str, port: int, timeout: float) -> socket.socket:
        """A TCP connection to one of this host's own listeners (probes of BOD 18-01)."""
        try:
            return socket.create_connection((address, port), timeout=timeout)
        except OSError as exc:
            raise HostError(f"{address}:{port}: {exc.strerror or exc}") from None

    def sockets(self) -> list[tuple[str, str, int, str, int]]:
        import psutil

        found = []
        names: dict[int, str] = {}
        for conn in psutil.net_connections(kind="inet"):
            # TCP listens; an unconnected UDP socket receives from anyone.
            listening = conn.status == psutil.CONN_LISTEN or (conn.type == socket.SOCK_DGRAM and not conn.raddr)
            if not listening or not conn.laddr:
                continue
            v6 = conn.family == socket.AF_INET6
            proto = ("tcp" if conn.type == socket.SOCK_STREAM else "udp") + ("6" if v6 else "")
            process = ""
            if conn.pid:
                if conn.pid not in names:
                    try:
                        names[conn.pid] = psutil.Process(conn.pid).name()
                    except psutil.Error:
                        names[conn.pid] = ""
                process = names[conn.pid]
            found.append((proto, conn.laddr.ip, conn.laddr.port, process, conn.pid or 0))
        return found

    def addresses(self) -> list[str]:
        import psutil

        out = []
        for addrs in psutil.net_if_addrs().values():
            for addr in addrs:
                if addr.family in (socket.AF_INET, socket.AF_INET6):
                    out.append(addr.address.split("%")[0])
        return sorted(set(out))

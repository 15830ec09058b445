"""The running system the agent is on.

socket and subprocess are imported when a command runs or a listener is probed: a scan of a
root filesystem imports this module (agent.hosts) and needs neither.
"""
from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Sequence

from agent.hosts import procfs
from agent.hosts.base import CommandResult, HostError
from agent.hosts.rootfs import RootfsHost

if TYPE_CHECKING:
    import socket

# Commands get a fixed, minimal environment: no user aliases, no localized output.
COMMAND_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C", "SYSTEMD_PAGER": "", "SYSTEMD_COLORS": "0"}


class LocalHost(RootfsHost):
    live = True

    def __init__(self) -> None:
        super().__init__("/")
        self.name = "local"

    def run(self, argv: Sequence[str], timeout: float = 10.0) -> CommandResult:
        import subprocess

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
        import socket

        try:
            return socket.create_connection((address, port), timeout=timeout)
        except OSError as exc:
            raise HostError(f"{address}:{port}: {exc.strerror or exc}") from None

    def sockets(self) -> list[tuple[str, str, int, str, int]]:
        # From /proc as the SSH host reads it, so both give the same facts (agent.hosts.procfs):
        # TCP sockets that listen, and unconnected UDP sockets (they receive from anyone).
        return procfs.sockets(procfs.HostBatch(self), sys.byteorder == "little")

    def addresses(self) -> list[str]:
        return procfs.addresses(procfs.HostBatch(self))

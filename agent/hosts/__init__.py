"""Host transports: where facts come from. One Protocol, several implementations.

- ``LocalHost``: the running system this agent is on (files, /proc, argv commands).
- ``RootfsHost``: an unpacked or mounted root filesystem; every path resolves under the
  root, symlinks included; runtime state does not exist there.
- ``SSHHost`` (agent.hosts.ssh, imported lazily: paramiko) reads a remote system with
  nothing installed on it; sockets and addresses come from /proc on both live hosts
  (agent.hosts.procfs), so a host scanned locally or over SSH gives the same facts.
"""
from __future__ import annotations

from agent.hosts.base import (
    CommandResult,
    Host,
    HostError,
    HostUnreachable,
    NotFound,
    NotSupported,
    PathStat,
    PermissionDenied,
)
from agent.hosts.local import LocalHost
from agent.hosts.rootfs import RootfsHost

__all__ = [
    "CommandResult",
    "Host",
    "HostError",
    "HostUnreachable",
    "LocalHost",
    "NotFound",
    "NotSupported",
    "PathStat",
    "PermissionDenied",
    "RootfsHost",
]

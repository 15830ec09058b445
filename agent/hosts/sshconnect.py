"""Opening an SSH connection the way OpenSSH would: known_hosts, keys, agent, jump host.

Host keys are always verified against a known_hosts file. An unknown key is refused unless
the caller opted in with ``accept_new`` (OpenSSH's StrictHostKeyChecking=accept-new): then
it is appended to that file. A key that differs from the recorded one is always refused.
Marker lines are understood (agent.hosts.known_hosts): a key marked ``@revoked`` for the host
is refused, ``@cert-authority`` lines are ignored with a warning.
paramiko is imported lazily: a local scan never pays for it.
"""
from __future__ import annotations

import base64
import getpass
import hashlib
import os
import re
import socket
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from agent import UsageError
from agent.hosts.base import HostUnreachable
from agent.hosts.known_hosts import KnownHosts
from agent.hosts.known_hosts import load_cached as load_known_hosts

if TYPE_CHECKING:
    import paramiko

DEFAULT_KNOWN_HOSTS = "~/.ssh/known_hosts"
TARGET = re.compile(r"^(?:(?P<user>[^@\s]+)@)?(?:\[(?P<v6>[0-9A-Fa-f:.%\w]+)\]|(?P<host>[^:@\s\[\]]+))(?::(?P<port>\d+))?$")


class HostKeyRejected(HostUnreachable):
    """The server's host key is unknown or changed: the host is refused."""


@dataclass(frozen=True)
class Target:
    host: str
    port: int = 22
    user: str = ""

    @classmethod
    def parse(cls, text: str, default_user: str = "", default_port: int = 22) -> Target:
        """``[user@]host[:port]``, with ``[v6addr]:port`` for IPv6; raises UsageError."""
        found = TARGET.match(text.strip())
        if not found:
            raise UsageError(f"{text!r}: not a target of the form [user@]host[:port]")
        port = int(found.group("port") or default_port)
        if not 1 <= port <= 65535:
            raise UsageError(f"{text!r}: port must be 1-65535")
        return cls(found.group("v6") or found.group("host"), port, found.group("user") or default_user)

    @property
    def login(self) -> str:
        return self.user or getpass.getuser()

    def known_hosts_name(self) -> str:
        return self.host if self.port == 22 else f"[{self.host}]:{self.port}"

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = "" if self.port == 22 else f":{self.port}"
        return f"{self.login}@{host}{port}"


@dataclass(frozen=True)
class Credentials:
    """How to log in. Secrets live only here, in memory; they are never logged or shown."""

    identity: str | None = None
    pkey: Any = field(default=None, repr=False)  # the identity, already loaded (asked once for many hosts)
    password: str | None = field(default=None, repr=False)
    ask_passphrase: Callable[[str], str] | None = field(default=None, repr=False)
    use_agent: bool = True
    look_for_keys: bool = True


@dataclass(frozen=True)
class ConnectOptions:
    known_hosts: str = DEFAULT_KNOWN_HOSTS
    accept_new: bool = False
    timeout: float = 15.0
    jump: Target | None = None


def fingerprint(key: Any) -> str:
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


def _revoked(hostname: str, key: Any, known: KnownHosts) -> HostKeyRejected | None:
    line = known.revoked_line(hostname, key)
    if line is None:
        return None
    return HostKeyRejected(f"{hostname}: host key {key.get_name()} {fingerprint(key)} is marked @revoked in "
                           f"{known.path} line {line}; refusing to connect")


def _policy(path: str, accept_new: bool, known: KnownHosts) -> Any:
    import paramiko

    class Policy(paramiko.MissingHostKeyPolicy):
        """Refuse unknown keys, or (accept-new) record them in the known_hosts file; a revoked
        key is refused either way (it is never among the known ones: KnownHosts.trusted)."""

        def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: paramiko.PKey) -> None:
            if (revoked := _revoked(hostname, key, known)) is not None:
                raise revoked
            if not accept_new:
                raise HostKeyRejected(
                    f"{hostname}: host key not known ({key.get_name()} {fingerprint(key)}); verify it and add it "
                    f"to {path}, or rerun with --accept-new")
            line = paramiko.hostkeys.HostKeyEntry([hostname], key).to_line()
            assert line is not None  # None only for an entry without names or key
            directory = os.path.dirname(path)
            if directory and not os.path.isdir(directory):
                os.makedirs(directory, mode=0o700, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with os.fdopen(fd, "a") as fh:
                fh.write(line)
            client.get_host_keys().add(hostname, key.get_name(), key)

    return Policy()


def load_key(path: str, ask: Callable[[str], str] | None) -> Any:
    """A private key file, asking its passphrase through ``ask`` when it has one."""
    import paramiko

    path = os.path.expanduser(path)
    try:
        return paramiko.PKey.from_path(path)
    except (paramiko.PasswordRequiredException, TypeError):
        # paramiko raises the former; for OpenSSH-format keys the crypto library the latter
        if ask is None:
            raise UsageError(f"--identity: {path} is protected by a passphrase and there is no terminal to ask it") from None
        try:
            # positional: paramiko 3 calls it passphrase, 5 password; bytes, as the crypto library wants
            return paramiko.PKey.from_path(path, ask(path).encode())  # type: ignore[arg-type]
        except (paramiko.SSHException, ValueError, TypeError):
            raise UsageError(f"--identity: {path}: wrong passphrase") from None
    except (OSError, paramiko.SSHException, ValueError) as exc:
        raise UsageError(f"--identity: {path}: not a usable private key ({exc})") from None


def _client(known_hosts: str, accept_new: bool, hostname: str) -> tuple[Any, KnownHosts]:
    """A client that trusts the file's keys for ``hostname`` (marker lines understood)."""
    import paramiko

    client = paramiko.SSHClient()
    try:
        known = load_known_hosts(known_hosts)
    except OSError as exc:
        raise UsageError(f"--known-hosts: {known_hosts}: cannot read it ({exc.strerror or exc})") from None
    keys = client.get_host_keys()
    for _, key in known.matching(hostname):  # OpenSSH's patterns: wildcards, negation, hashed names
        keys.add(hostname, key.get_name(), key)
    client.set_missing_host_key_policy(_policy(known_hosts, accept_new, known))
    return client, known


def _connect_one(target: Target, creds: Credentials, options: ConnectOptions, pkey: Any,
                 sock: Any) -> tuple[Any, list[str]]:
    """The connected client and the known_hosts warnings that concern this target."""
    import paramiko

    path = os.path.expanduser(options.known_hosts)
    client, known = _client(path, options.accept_new, target.known_hosts_name())
    label = str(target)
    started = time.monotonic()
    try:
        client.connect(
            target.host, target.port, username=target.login, password=creds.password, pkey=pkey,
            allow_agent=creds.use_agent, look_for_keys=creds.look_for_keys and pkey is None,
            timeout=options.timeout, banner_timeout=options.timeout, auth_timeout=options.timeout,
            channel_timeout=options.timeout, sock=sock)
    except HostKeyRejected:
        client.close()
        raise
    except paramiko.BadHostKeyException as exc:
        client.close()
        if (revoked := _revoked(target.known_hosts_name(), exc.key, known)) is not None:
            raise revoked from None
        raise HostKeyRejected(
            f"{target.known_hosts_name()}: host key CHANGED: the server offers {exc.key.get_name()} "
            f"{fingerprint(exc.key)} but {path} records {fingerprint(exc.expected_key)}; refusing to connect "
            f"(possible man-in-the-middle; if the change is expected, remove the old line from {path})") from None
    except paramiko.AuthenticationException:
        client.close()
        raise HostUnreachable(f"{label}: authentication failed (key, agent and password refused)") from None
    except (socket.timeout, TimeoutError):
        client.close()
        raise HostUnreachable(f"{label}: connection timed out after {options.timeout:g} s") from None
    except paramiko.SSHException as exc:
        client.close()
        # The port answers but no SSH server speaks on it in time (paramiko words this variously).
        if "banner" in str(exc) or time.monotonic() - started >= options.timeout:
            raise HostUnreachable(f"{label}: timed out after {options.timeout:g} s waiting for the SSH banner") from None
        raise HostUnreachable(f"{label}: cannot connect: {exc}") from None
    except (OSError, EOFError) as exc:
        client.close()
        causes = list(getattr(exc, "errors", {}).values()) or [exc]  # paramiko: one error per address tried
        reason = "; ".join(dict.fromkeys(
            (c.strerror if isinstance(c, OSError) and c.strerror else str(c) or type(c).__name__) for c in causes))
        raise HostUnreachable(f"{label}: cannot connect: {reason}") from None
    return client, known.warnings(target.known_hosts_name())


@dataclass
class Connection:
    """An authenticated client, and the jump host's client it runs through (if any)."""

    target: Target
    client: Any
    jump_client: Any = None
    warnings: list[str] = field(default_factory=list)  # known_hosts lines ignored for this connection

    @property
    def transport(self) -> paramiko.Transport:
        return self.client.get_transport()

    def close(self) -> None:
        for client in (self.client, self.jump_client):
            if client is not None:
                client.close()


def connect(target: Target, creds: Credentials, options: ConnectOptions) -> Connection:
    """Connect and authenticate; raises HostKeyRejected, HostUnreachable or UsageError."""
    pkey = creds.pkey
    if pkey is None and creds.identity:
        pkey = load_key(creds.identity, creds.ask_passphrase)
    jump_client = None
    sock = None
    warnings: list[str] = []
    if options.jump is not None:
        jump_client, warnings = _connect_one(options.jump, creds, options, pkey, None)
        try:
            sock = jump_client.get_transport().open_channel(
                "direct-tcpip", (target.host, target.port), ("127.0.0.1", 0), timeout=options.timeout)
        except Exception as exc:  # paramiko raises ChannelException, SSHException or socket errors here
            jump_client.close()
            raise HostUnreachable(f"{target}: the jump host {options.jump} cannot reach it: {exc}") from None
    try:
        client, more = _connect_one(target, creds, options, pkey, sock)
    except BaseException:
        if jump_client is not None:
            jump_client.close()
        raise
    return Connection(target, client, jump_client, list(dict.fromkeys(warnings + more)))

"""How to reach hosts over SSH (``SshSettings``) and opening one of them.

``scan --ssh user@host[:port]`` scans one host; ``scan --inventory hosts.yaml`` many
(agent.inventory_scan); ``enroll`` takes the same options to enroll them (agent.remote_fleet).
The options themselves are agent.commands.options'; agent.target parses them.
Nothing here imports paramiko; agent.hosts.ssh does, when a host is opened.
"""
from __future__ import annotations

import time
from dataclasses import field, replace
from typing import Any, Callable

from agent import UsageError
from checks.record import record

DEFAULT_TIMEOUT = 300.0
DEFAULT_JOBS = 8


@record
class SshSettings:
    """How to reach hosts; per-host inventory fields override these."""

    user: str = ""
    port: int = 22
    identity: str | None = None
    known_hosts: str = "~/.ssh/known_hosts"
    accept_new: bool = False
    jump: str | None = None
    sudo: bool = False
    timeout: float = DEFAULT_TIMEOUT
    password: str | None = field(default=None, repr=False)
    keys: dict[str, Any] = field(default_factory=dict, repr=False)  # identity path -> loaded key
    sudo_command: str = "sudo"
    # Asks the user for a secret, never echoed (the command line's terminal prompt); None: nobody
    # to ask, so a protected key or --ask-pass is a usage error.
    ask: Callable[[str], str] | None = field(default=None, repr=False, compare=False)

    def with_secrets(self, ask_pass: bool, identities: list[str], label: str) -> SshSettings:
        """Ask, once and up front, for the password and key passphrases (never shown or logged)."""
        from agent.hosts.sshconnect import load_key

        password = self.password
        if ask_pass:
            if self.ask is None:
                raise UsageError("--ask-pass: there is no terminal to ask the password on")
            password = self.ask(f"Password for {label}")
        keys = dict(self.keys)
        for path in dict.fromkeys(identities):
            keys[path] = load_key(path, self.passphrase_asker())
        return replace(self, password=password, keys=keys)

    def passphrase_asker(self) -> Callable[[str], str] | None:
        """What asks for a key file's passphrase; an empty answer refuses the key."""
        ask = self.ask
        if ask is None:
            return None

        def passphrase(path: str) -> str:
            answer = ask(f"Passphrase for {path}")
            if not answer:
                raise UsageError(f"--identity: {path} is protected by a passphrase and none was given")
            return answer

        return passphrase


def open_ssh(target_text: str, settings: SshSettings) -> Any:
    """Connect, authenticate, verify the host key and start reading: an SSHHost."""
    from agent.hosts.ssh import SSHHost
    from agent.hosts.sshconnect import ConnectOptions, Credentials, Target, connect

    target = Target.parse(target_text, settings.user, settings.port)
    jump = Target.parse(settings.jump, settings.user) if settings.jump else None
    connect_timeout = min(30.0, settings.timeout)
    creds = Credentials(identity=settings.identity, pkey=settings.keys.get(settings.identity or ""),
                        password=settings.password, ask_passphrase=settings.passphrase_asker())
    options = ConnectOptions(known_hosts=settings.known_hosts, accept_new=settings.accept_new,
                             timeout=connect_timeout, jump=jump)
    started = time.monotonic()
    connection = connect(target, creds, options)
    left = max(1.0, settings.timeout - (time.monotonic() - started))  # the timeout covers the whole host
    return SSHHost(connection, sudo=settings.sudo, sudo_command=settings.sudo_command,
                   io_timeout=min(60.0, left), deadline=left)

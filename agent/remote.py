"""How to reach hosts over SSH (``SshSettings``) and opening one of them.

``scan --ssh user@host[:port]`` scans one host; ``scan --inventory hosts.yaml`` many
(agent.inventory_scan); ``enroll`` takes the same options to enroll them (agent.remote_fleet).
The options themselves are agent.commands.options'; agent.target parses them.
Nothing here imports paramiko; agent.hosts.ssh does, when a host is opened.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

import click

from agent import UsageError

DEFAULT_TIMEOUT = 300.0
DEFAULT_JOBS = 8


@dataclass(frozen=True)
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

    def with_secrets(self, ask_pass: bool, identities: list[str], label: str) -> SshSettings:
        """Ask, once and up front, for the password and key passphrases (never shown or logged)."""
        from agent.hosts.sshconnect import load_key

        password = self.password
        if ask_pass:
            password = click.prompt(f"Password for {label}", hide_input=True, err=True, default="",
                                    show_default=False)
        keys = dict(self.keys)
        for path in dict.fromkeys(identities):
            keys[path] = load_key(path, ask_passphrase)
        return replace(self, password=password, keys=keys)


def ask_passphrase(path: str) -> str:
    try:
        return str(click.prompt(f"Passphrase for {path}", hide_input=True, err=True))
    except click.Abort:
        raise UsageError(f"--identity: {path} is protected by a passphrase and none was given") from None


def open_ssh(target_text: str, settings: SshSettings) -> Any:
    """Connect, authenticate, verify the host key and start reading: an SSHHost."""
    from agent.hosts.ssh import SSHHost
    from agent.hosts.sshconnect import ConnectOptions, Credentials, Target, connect

    target = Target.parse(target_text, settings.user, settings.port)
    jump = Target.parse(settings.jump, settings.user) if settings.jump else None
    connect_timeout = min(30.0, settings.timeout)
    creds = Credentials(identity=settings.identity, pkey=settings.keys.get(settings.identity or ""),
                        password=settings.password, ask_passphrase=ask_passphrase)
    options = ConnectOptions(known_hosts=settings.known_hosts, accept_new=settings.accept_new,
                             timeout=connect_timeout, jump=jump)
    started = time.monotonic()
    connection = connect(target, creds, options)
    left = max(1.0, settings.timeout - (time.monotonic() - started))  # the timeout covers the whole host
    return SSHHost(connection, sudo=settings.sudo, sudo_command=settings.sudo_command,
                   io_timeout=min(60.0, left), deadline=left)

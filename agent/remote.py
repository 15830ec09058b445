"""Command-line options for scanning over SSH, and opening one SSH host from them.

``scan --ssh user@host[:port]`` scans one host; ``scan --inventory hosts.yaml`` many
(agent.inventory_scan); ``enroll`` takes the same options to enroll them (agent.remote_fleet).
Nothing here imports paramiko; agent.hosts.ssh does, when a host is opened.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable

import click

from agent import UsageError

DEFAULT_TIMEOUT = 300.0
DEFAULT_JOBS = 8


def remote_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The SSH and inventory options of ``fedharden scan``."""
    return ssh_options("scan", "scanned")(command)


def ssh_options(verb: str, done: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The SSH and inventory options, for a command that does ``verb`` to hosts (scan, enroll)."""
    return lambda command: _with_options(command, verb, done)


def _with_options(command: Callable[..., Any], verb: str, done: str) -> Callable[..., Any]:
    what = verb.capitalize()
    options = [
        click.option("--ssh", "ssh_target", metavar="USER@HOST[:PORT]",
                     help=f"{what} this remote host over SSH (nothing is installed on it)."),
        click.option("--inventory", type=click.Path(dir_okay=False), metavar="HOSTS.yaml",
                     help=f"{what} every host of this inventory over SSH, in parallel (see docs/ssh.md)."),
        click.option("--identity", "-i", type=click.Path(exists=True, dir_okay=False), metavar="FILE",
                     help="Private key file (its passphrase is asked for); the SSH agent and ~/.ssh keys are also tried."),
        click.option("--known-hosts", type=click.Path(dir_okay=False), metavar="FILE",
                     help="Verify host keys against this file instead of ~/.ssh/known_hosts."),
        click.option("--accept-new", is_flag=True,
                     help="Trust and record the key of a host not yet in known_hosts (never a changed key)."),
        click.option("--jump", metavar="USER@HOST[:PORT]", help="Reach the target through this jump host (ProxyJump)."),
        click.option("--sudo", is_flag=True,
                     help="Read files as root through sudo (read-only sftp-server; see docs/ssh.md for sudoers)."),
        click.option("--ask-pass", is_flag=True, help="Ask for a login password (once, for every host)."),
        click.option("--timeout", type=click.FloatRange(min=1), default=DEFAULT_TIMEOUT, show_default=True,
                     help="Give up on a host after this many seconds."),
        click.option("--jobs", "-j", type=click.IntRange(min=1, max=256), default=DEFAULT_JOBS, show_default=True,
                     help=f"With --inventory: hosts {done} at the same time."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


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

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> SshSettings:
        return cls(identity=options.get("identity"), known_hosts=options.get("known_hosts") or "~/.ssh/known_hosts",
                   accept_new=bool(options.get("accept_new")), jump=options.get("jump"),
                   sudo=bool(options.get("sudo")), timeout=float(options.get("timeout") or DEFAULT_TIMEOUT))

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


def check_combination(root: str | None, options: dict[str, Any], what: str = "scans") -> None:
    """One-line usage errors for options that do not go together."""
    ssh, inventory = options.get("ssh_target"), options.get("inventory")
    if ssh and inventory:
        raise UsageError("--ssh and --inventory cannot be combined (put the host in the inventory)")
    if root and (ssh or inventory):
        raise UsageError("--root scans a mounted image; it cannot be combined with --ssh or --inventory")
    if not (ssh or inventory):
        for name in ("identity", "known_hosts", "jump", "accept_new", "sudo", "ask_pass"):
            if options.get(name):
                raise UsageError(f"--{name.replace('_', '-')} applies to --ssh or --inventory {what} only")


def single(root: str | None, options: dict[str, Any]) -> Any:
    """The host to scan for ``--ssh`` (after asking for secrets), or None for a local scan."""
    check_combination(root, options)
    if not options.get("ssh_target"):
        return None
    settings = SshSettings.from_options(options)
    settings = settings.with_secrets(bool(options.get("ask_pass")), [settings.identity] if settings.identity else [],
                                     options["ssh_target"])
    host = open_ssh(options["ssh_target"], settings)
    for warning in host.warnings:
        click.echo(f"fedharden: warning: {warning}", err=True)
    return host

"""What a command works on, parsed once at the command line's boundary: this host, a root
filesystem mounted or unpacked somewhere (``--root``), one host over SSH (``--ssh``) or every
host of an inventory (``--inventory``), with the settings that reach remote hosts.

Options that do not go together are refused here, in one line naming them, before anything
is read; the rest of the agent receives a ``Target`` and never sees the command line.
"""
from __future__ import annotations

import os
from dataclasses import field
from typing import Any, Callable, Literal

from agent import UsageError
from agent.remote import DEFAULT_JOBS, DEFAULT_TIMEOUT, SshSettings
from checks.record import record

Kind = Literal["local", "root", "ssh", "inventory"]

# Options that only mean something for hosts reached over SSH, by their command-line names.
SSH_ONLY = ("identity", "known-hosts", "jump", "accept-new", "sudo", "ask-pass")

# What makes a directory a root filesystem worth scanning: without /etc and an os-release every
# requirement would be an error. A package database is named when missing too, but not required:
# an image of configuration files only can still be judged.
PACKAGE_DATABASES = ("/var/lib/dpkg/status", "/var/lib/rpm", "/usr/lib/sysimage/rpm")


@record
class Target:
    """What a command works on: this host, a root, an SSH host or an inventory."""

    kind: Kind = "local"
    root: str | None = None  # kind "root": the directory
    address: str | None = None  # kind "ssh": USER@HOST[:PORT]
    inventory: str | None = None  # kind "inventory": the YAML file
    ssh: SshSettings = field(default_factory=SshSettings)  # how to reach remote hosts (no secrets yet)
    ask_pass: bool = False  # ask for a login password once, before any host is contacted
    jobs: int = DEFAULT_JOBS  # inventory hosts worked on at the same time

    @classmethod
    def parse(cls, *, root: str | None = None, ssh: str | None = None, inventory: str | None = None,
              identity: str | None = None, known_hosts: str | None = None, accept_new: bool = False,
              jump: str | None = None, sudo: bool = False, ask_pass: bool = False,
              timeout: float = DEFAULT_TIMEOUT, jobs: int = DEFAULT_JOBS, what: str = "scans",
              ask: Callable[[str], str] | None = None) -> Target:
        """The target the options name; UsageError for options that do not go together
        (``what``: the command's noun for the message, "scans" or "enrollments"; ``ask``: how to
        ask the user for a password or passphrase, none when nobody can answer)."""
        if ssh and inventory:
            raise UsageError("--ssh and --inventory cannot be combined (put the host in the inventory)")
        if root and (ssh or inventory):
            raise UsageError("--root scans a mounted image; it cannot be combined with --ssh or --inventory")
        given = {"identity": identity, "known-hosts": known_hosts, "jump": jump, "accept-new": accept_new,
                 "sudo": sudo, "ask-pass": ask_pass}
        if not (ssh or inventory):
            for name in SSH_ONLY:
                if given[name]:
                    raise UsageError(f"--{name} applies to --ssh or --inventory {what} only")
        settings = SshSettings(identity=identity, known_hosts=known_hosts or SshSettings.known_hosts,
                               accept_new=accept_new, jump=jump, sudo=sudo, timeout=float(timeout), ask=ask)
        kind: Kind = "ssh" if ssh else "inventory" if inventory else "root" if root else "local"
        return cls(kind, root or None, ssh or None, inventory or None, settings, ask_pass, int(jobs))

    @property
    def remote(self) -> bool:
        """Hosts reached over SSH, each enrolled and reported as itself."""
        return self.kind in ("ssh", "inventory")

    def open(self) -> Any:
        """The Host to read: this host, the root filesystem (checked to be one), or the SSH
        host (secrets asked for first, host key verified). The caller closes it; an SSH host's
        ``warnings`` (sudo refused) are the caller's to show."""
        from agent.hosts import LocalHost, RootfsHost

        if self.kind == "inventory":
            raise UsageError("--inventory names many hosts; they are opened one by one")
        if self.kind == "ssh":
            from agent.remote import open_ssh

            assert self.address is not None
            identities = [self.ssh.identity] if self.ssh.identity else []
            return open_ssh(self.address, self.ssh.with_secrets(self.ask_pass, identities, self.address))
        if self.root is None:
            return LocalHost()
        if not os.path.isdir(self.root):
            raise UsageError(f"--root: {self.root}: not a directory")
        host = RootfsHost(self.root)
        missing = not_a_root(host)
        if missing:
            host.close()
            raise UsageError(f"--root: {self.root}: not a root filesystem (no {', no '.join(missing)})")
        return host


def not_a_root(host: Any) -> list[str]:
    """What a root lacks to be a root filesystem, read through the root's own Host (links
    resolve inside it); empty when it is one. Only /etc and an os-release are required; the
    package database is named alongside them when they are missing."""
    from agent.hosts.base import HostError

    def kind(path: str) -> str:
        try:
            return str(host.stat(path).kind)
        except HostError:
            return ""

    required: list[str] = []
    if kind("/etc") != "dir":
        required.append("/etc")
    if not (kind("/etc/os-release") or kind("/usr/lib/os-release")):  # there, if unreadable: judged as such
        required.append("/etc/os-release or /usr/lib/os-release")
    if required and not any(kind(p) for p in PACKAGE_DATABASES):
        required.append("dpkg or rpm database")
    return required

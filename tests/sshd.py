"""A real OpenSSH server on loopback for tests and benchmarks: its own host key, config,
authorized keys and a known_hosts file that trusts it, all in one temporary directory.

It serves this very machine, so a scan over it can be compared with a local scan.
"""
from __future__ import annotations

import os
import pwd
import secrets
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

SSHD = "/usr/sbin/sshd"
SFTP_SERVER = "/usr/lib/openssh/sftp-server"
START_TIMEOUT = 10.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def keygen(path: Path, passphrase: str = "", kind: str = "ed25519") -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", passphrase, "-C", "fedharden-test", "-f", str(path)],
                   check=True, timeout=30, stdin=subprocess.DEVNULL)
    return path


def public(path: Path) -> str:
    return Path(f"{path}.pub").read_text().split(" #")[0].strip()


@dataclass
class Sshd:
    directory: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    sftp_subsystem: bool = True  # False: a server without "Subsystem sftp", as some hardened ones are
    host_key: Path = field(init=False)
    known_hosts: Path = field(init=False)

    def __post_init__(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.host_key = keygen(self.directory / "host_ed25519")
        self.known_hosts = self.directory / "known_hosts"
        (self.directory / "authorized").mkdir(exist_ok=True)
        for directory in (self.directory, self.directory / "authorized"):
            directory.chmod(0o755)  # sshd reads authorized keys as the user logging in

    def authorize(self, user: str, key: Path) -> None:
        path = self.directory / "authorized" / user
        with path.open("a") as fh:
            fh.write(public(key) + "\n")
        os.chmod(path, 0o644)

    def trust(self) -> None:
        """Write a known_hosts file that holds this server's key."""
        kind, blob = public(self.host_key).split()[:2]
        self.known_hosts.write_text(f"[127.0.0.1]:{self.port} {kind} {blob}\n")

    def config(self) -> Path:
        path = self.directory / "sshd_config"
        path.write_text("\n".join([
            f"Port {self.port}",
            "ListenAddress 127.0.0.1",
            f"HostKey {self.host_key}",
            f"PidFile {self.directory / 'sshd.pid'}",
            f"AuthorizedKeysFile {self.directory / 'authorized'}/%u",
            "StrictModes no",
            "PermitRootLogin prohibit-password",
            "PasswordAuthentication yes",
            "KbdInteractiveAuthentication no",
            "UsePAM no",
            "MaxStartups 200:30:400",
            "MaxSessions 64",
            "LogLevel ERROR",
            f"Subsystem sftp {SFTP_SERVER}" if self.sftp_subsystem else "",
            "",
        ]))
        return path

    def start(self) -> Sshd:
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege separation directory
        for _ in range(3):  # the free port may be taken between choosing and binding it
            self.port = free_port()
            log = (self.directory / "sshd.log").open("wb")
            self.process = subprocess.Popen([SSHD, "-D", "-e", "-f", str(self.config())], stdout=log,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            deadline = time.monotonic() + START_TIMEOUT
            while time.monotonic() < deadline and self.process.poll() is None:
                try:
                    with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                        if conn.recv(4).startswith(b"SSH-"):
                            self.trust()
                            return self
                except OSError:
                    time.sleep(0.05)
            self.stop()
        raise RuntimeError(f"sshd did not start: {(self.directory / 'sshd.log').read_text()[-2000:]}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None


def temporary_user(password: str) -> str:
    """A new local account of its own for one test session or benchmark run (several may run on
    one machine at once), with a password and /bin/sh, without a home directory."""
    name = "fh" + secrets.token_hex(4)
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/bin/sh", name], check=True, timeout=30)
    subprocess.run(["chpasswd"], input=f"{name}:{password}\n".encode(), check=True, timeout=30)
    pwd.getpwnam(name)
    return name


def remove_user(name: str) -> None:
    # -f: sessions of the just-stopped server may still be exiting
    subprocess.run(["userdel", "-f", name], check=False, timeout=30, capture_output=True)


def sudoers_file(user: str) -> Path:
    """The documented one-line allowlist (docs/ssh.md) for this account; remove it afterwards."""
    path = Path(f"/etc/sudoers.d/fedharden-{user}")
    path.write_text(f"{user} ALL=(root) NOPASSWD: {SFTP_SERVER} -R\n")
    path.chmod(0o440)
    return path

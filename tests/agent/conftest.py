"""SSH fixtures: a real OpenSSH server on loopback serving this machine, its users and keys;
the real collector's test helper (tests/collector.py) for the end-to-end tests.

- ``root`` logs in with a key (the tests run as root), so a scan over SSH can be compared
  with a local scan of the same machine;
- ``user``, an unprivileged account of this test session (created, and removed at the end)
  with a key and a password, for non-root scans, password logins and sudo (``sudo_allowed``
  adds the documented sudoers line).
"""
from __future__ import annotations

import importlib.util
import os
import secrets
import shutil
import stat
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Iterator

import pytest


def _load(path: Path, name: str) -> ModuleType:
    """tests/sshd.py, shared with the benchmarks (the tests directory is not a package)."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


_sshd = _load(Path(__file__).resolve().parents[1] / "sshd.py", "fedharden_tests_sshd")
Sshd, keygen, temporary_user, remove_user, sudoers_file = (
    _sshd.Sshd, _sshd.keygen, _sshd.temporary_user, _sshd.remove_user, _sshd.sudoers_file)
_load(Path(__file__).resolve().parents[1] / "collector.py", "fedharden_tests_collector")  # a real collector



@dataclass(frozen=True)
class SshServer:
    sshd: Any
    root_key: Path
    user_key: Path
    stranger_key: Path  # a key no account accepts
    password: str
    user: str

    @property
    def port(self) -> int:
        return self.sshd.port

    @property
    def known_hosts(self) -> Path:
        return self.sshd.known_hosts

    def target(self, user: str = "root") -> str:
        return f"{user}@127.0.0.1:{self.port}"


@pytest.fixture(scope="session")
def ssh_server() -> Iterator[SshServer]:
    if os.geteuid() != 0 or not os.path.exists("/usr/sbin/sshd"):
        pytest.fail("the SSH tests need root and openssh-server: run the suite through tests/run")
    if not stat.S_ISCHR(os.stat("/dev/null").st_mode):
        pytest.fail("/dev/null is not the null device (something replaced it with a file): sshd cannot work")
    # sshd reads a user's authorized keys as that user: the directory must be traversable by all
    # (pytest's temporary directories are private to root).
    base = Path(tempfile.mkdtemp(prefix="fedharden-ssh-"))
    base.chmod(0o755)
    password = secrets.token_urlsafe(12)
    user = temporary_user(password)
    server = Sshd(base / "sshd")
    root_key, user_key = keygen(base / "root_ed25519"), keygen(base / "user_ed25519")
    server.authorize("root", root_key)
    server.authorize(user, user_key)
    try:
        server.start()
        yield SshServer(server, root_key, user_key, keygen(base / "stranger_ed25519"), password, user)
    finally:
        server.stop()
        remove_user(user)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def sudo_allowed(ssh_server: SshServer) -> Iterator[None]:
    """The minimal sudoers allowlist of docs/ssh.md, for the scan user, during one test."""
    if shutil.which("sudo") is None:
        pytest.fail("sudo is not installed: run the suite through tests/run")
    path = sudoers_file(ssh_server.user)
    try:
        check = subprocess.run(["visudo", "-c", "-f", str(path)], capture_output=True, text=True, timeout=30)
        assert check.returncode == 0, check.stdout + check.stderr
        yield
    finally:
        path.unlink(missing_ok=True)

"""Shared fixtures: hand-made fixture roots for unit tests, a real Debian 12 root for end-to-end ones."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Callable, Iterator

import pytest


def write_tree(root: Path, files: dict[str, str | bytes], modes: dict[str, int] | None = None) -> Path:
    """Create files under ``root`` (paths are absolute paths on the target)."""
    for path, content in files.items():
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content)
    for path, mode in (modes or {}).items():
        os.chmod(root / path.lstrip("/"), mode)
    return root


@pytest.fixture
def make_root(tmp_path: Path) -> Callable[..., Path]:
    """Build a fixture root filesystem: make_root({"/etc/passwd": "..."}, modes={...})."""
    counter = iter(range(1000))

    def make(files: dict[str, str | bytes], modes: dict[str, int] | None = None) -> Path:
        root = tmp_path / f"root{next(counter)}"
        root.mkdir()
        return write_tree(root, files, modes)

    return make


ROOTS = {"bookworm": "FEDHARDEN_TEST_ROOTFS", "trixie": "FEDHARDEN_TEST_ROOTFS_TRIXIE"}


def real_root(codename: str) -> Path:
    """A real Debian minbase root built by debootstrap (tests/run builds bookworm and trixie)."""
    path = os.environ.get(ROOTS[codename], str(Path(__file__).parent / ".cache" / codename))
    root = Path(path)
    if not (root / ".complete").exists():
        pytest.fail(f"no Debian {codename} root filesystem at {root}: run the suite through tests/run, which builds it")
    return root


@pytest.fixture(scope="session")
def debian_rootfs() -> Path:
    """A real Debian 12 (bookworm) minbase root built by debootstrap; tests/run builds it."""
    return real_root("bookworm")


@pytest.fixture(scope="session")
def trixie_rootfs() -> Path:
    """A real Debian 13 (trixie) minbase root built by debootstrap; tests/run builds it."""
    return real_root("trixie")


@pytest.fixture(scope="session", params=sorted(ROOTS))
def debian_release_root(request: pytest.FixtureRequest) -> Path:
    """Each real Debian root in turn (Debian 12, then Debian 13)."""
    return real_root(request.param)


@pytest.fixture
def tree() -> Callable[..., Path]:
    """``write_tree`` itself, for tests that place a fixture root somewhere particular."""
    return write_tree


@pytest.fixture(scope="session", autouse=True)
def checkout_on_pythonpath() -> Iterator[None]:
    """The processes tests start (``fedharden ...``, ``python -m agent.cli``) run this checkout's
    code, as the tests themselves do (pytest's ``pythonpath``), whichever copy is installed."""
    repo = str(Path(__file__).resolve().parents[1])
    before = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join([repo, before] if before else [repo])
    yield
    if before is None:
        os.environ.pop("PYTHONPATH", None)
    else:
        os.environ["PYTHONPATH"] = before


@pytest.fixture(scope="session", autouse=True)
def retries_without_waiting() -> Iterator[None]:
    """Agents that tests start retry an unavailable collector at once (``--retry-delay 0``): the
    retries still happen, the waits between them do not (tests/agent/test_state.py times them)."""
    before = os.environ.get("FEDHARDEN_RETRY_DELAY")
    os.environ["FEDHARDEN_RETRY_DELAY"] = "0"
    yield
    if before is None:
        os.environ.pop("FEDHARDEN_RETRY_DELAY", None)
    else:
        os.environ["FEDHARDEN_RETRY_DELAY"] = before


@pytest.fixture(scope="session", autouse=True)
def empty_feed_store() -> Iterator[Path]:
    """Scans in tests use the shipped KEV snapshot, never a feed store this machine may have.
    World-readable, for the tests that scan as an unprivileged user."""
    path = Path(tempfile.mkdtemp(prefix="fedharden-feeds-"))
    os.chmod(path, 0o755)
    before = os.environ.get("FEDHARDEN_FEEDS_DIR")
    os.environ["FEDHARDEN_FEEDS_DIR"] = str(path)
    yield path
    if before is None:
        os.environ.pop("FEDHARDEN_FEEDS_DIR", None)
    else:
        os.environ["FEDHARDEN_FEEDS_DIR"] = before
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def netns() -> Iterator[Callable[..., str]]:
    """Make network namespaces for a test: ``netns("10.1.2.3", ...)`` gives one whose loopback
    device is up and also carries those addresses, so no packet ever leaves it."""
    made: list[str] = []

    def make(*addresses: str) -> str:
        name = f"fh-{uuid.uuid4().hex[:8]}"
        subprocess.run(["ip", "netns", "add", name], check=True, timeout=10)
        made.append(name)
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True, timeout=10)
        for address in addresses:
            subprocess.run(["ip", "-n", name, "addr", "add", f"{address}/32", "dev", "lo"], check=True, timeout=10)
        return name

    yield make
    for name in made:
        subprocess.run(["ip", "netns", "del", name], check=False, timeout=10)


def scan_in_netns(ns: str, program: list[str], *scan_args: str) -> dict[str, str]:
    """Start ``program`` (it prints "ready" when its servers listen) and then ``fedharden scan``
    inside the namespace; the scan's {result key: status}."""
    fedharden = str(Path(sys.executable).with_name("fedharden"))
    servers = subprocess.Popen(["ip", "netns", "exec", ns, *program], stdout=subprocess.PIPE, text=True)
    try:
        assert servers.stdout is not None and servers.stdout.readline().strip() == "ready"
        proc = subprocess.run(["ip", "netns", "exec", ns, fedharden, "scan", *scan_args, "--format", "json"],
                              capture_output=True, text=True, timeout=120, check=False)
        assert proc.returncode in (0, 1), proc.stderr
        return {r["key"]: r["status"] for r in json.loads(proc.stdout)["results"]}
    finally:
        servers.kill()
        servers.wait(timeout=10)


@pytest.fixture
def netns_scan() -> Callable[..., dict[str, str]]:
    """``scan_in_netns`` itself (the tests directory is not a package)."""
    return scan_in_netns


SLOW_DIRS = ("semantics",)  # differential runs: each case against the real program


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """``slow`` beside each module's own pytestmark: every differential test, and every test
    that needs the real sshd (tests/agent/conftest.py), wherever it sits."""
    here = Path(__file__).parent
    for item in items:
        where = item.path.relative_to(here).parts if item.path.is_relative_to(here) else ()
        if where[:1] and where[0] in SLOW_DIRS or "ssh_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)

"""A hostile root filesystem, built by the test, scanned by ``fedharden scan --root`` as a
user runs it: FIFOs, device nodes, sockets, symlink loops and links out of the root, sparse
multi-GB files, binary garbage, include loops and fan-out, control characters and undecodable
names in every text a host supplies.

Each scan runs in its own process with a wall-clock timeout and an address-space limit, and
must: finish (no hang) within the time and memory bounds, exit 0 or 1 with a valid report
and no traceback, show nothing of the files outside the root that links point at, leave
the root exactly as it was (a digest of every entry's metadata and every regular file's
contents before and after), and turn what it refused into ``error`` with the reason.

The base is the real Debian 12 root's configuration (/etc, the dpkg database, os-release,
systemd units), copied per case; each case then replaces files (unlink first, never write
through) with what an attacker who controls the image would put there.
"""
from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import socket
import stat
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import pytest

import checks
from agent.facts.context import MAX_INCLUDED_FILES
from agent.hosts.base import MAX_READ
from agent.contract import validation_errors
from checks.facts import FactKey
from directives import load_library

pytestmark = pytest.mark.slow  # scans of hostile roots, bounded in time and memory

FEDHARDEN = str(Path(sys.executable).with_name("fedharden"))
TIMEOUT = 60.0  # seconds per scan; a good one takes about one
MEMORY_LIMIT = 2 * 1024 ** 3  # address space of the scan process (RLIMIT_AS): a runaway read dies here
MAX_RSS = 400 * 1024 ** 2  # what a scan may really use (peak resident set), whatever the root holds
GIB = 1024 ** 3
SECRET = "OUTSIDE-THE-ROOT-7f3a9c"  # in every file outside the root that a link points at
COPIED = ("etc", "var/lib/dpkg", "usr/lib/os-release", "usr/lib/sysctl.d", "usr/lib/systemd", "usr/lib/tmpfiles.d",
          "bin", "sbin", "lib", "lib64", "root", "tmp", "home", "boot")
SSHD_CONFIG = FactKey("config", "sshd:/etc/ssh/sshd_config")
LIBRARY = load_library()


def requirements_needing(family: str, arg: str | None = None) -> set[str]:
    """Requirement ids whose check reads the given fact (from the shipped library)."""
    out = set()
    for directive in LIBRARY:
        for req in directive.requirements:
            keys = checks.needs(req.check) | (checks.needs(req.only_if) if req.only_if else set())
            if any(k.family == family and (arg is None or k.arg == arg) for k in keys):
                out.add(req.id)
    return out


SSHD_REQUIREMENTS = requirements_needing("config", SSHD_CONFIG.arg)


# Building the root -------------------------------------------------------------------------------

@dataclass
class Case:
    root: Path
    outside: Path  # a directory beside the root, holding what links out of the root point at
    devices: list[str]  # loop devices attached for this case, detached afterwards

    def at(self, path: str) -> Path:
        """The local path of a target path, emptied so that nothing is written through."""
        local = self.root / path.lstrip("/")
        local.parent.mkdir(parents=True, exist_ok=True)
        if local.is_symlink() or local.exists():
            if local.is_dir() and not local.is_symlink():
                shutil.rmtree(local)
            else:
                local.unlink()
        return local

    def write(self, path: str, content: str | bytes) -> None:
        local = self.at(path)
        local.write_bytes(content.encode("utf-8", "surrogateescape") if isinstance(content, str) else content)

    def fifo(self, path: str) -> None:
        os.mkfifo(self.at(path))

    def device(self, path: str, kind: int, major: int, minor: int) -> None:
        os.mknod(self.at(path), 0o644 | kind, os.makedev(major, minor))

    def socket(self, path: str) -> None:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.bind(str(self.at(path)))

    def sparse(self, path: str, size: int) -> None:
        with open(self.at(path), "wb") as fh:
            fh.truncate(size)

    def link(self, path: str, target: str) -> None:
        self.at(path).symlink_to(target)

    def secret(self, name: str, content: str) -> Path:
        """A file outside the root (its content carries SECRET); returns its absolute path."""
        path = self.outside / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
        return path

    def loop_device(self, content: bytes) -> tuple[int, int]:
        """A real block device holding ``content`` (a loop device on a file outside the root)."""
        image = self.outside / f"disk{len(self.devices)}.img"
        image.write_bytes(content + b"\0" * (-len(content) % 512))
        device = subprocess.run(["losetup", "--find", "--show", "--read-only", str(image)], capture_output=True,
                                text=True, check=True, timeout=30).stdout.strip()
        self.devices.append(device)
        rdev = os.stat(device).st_rdev
        return os.major(rdev), os.minor(rdev)


# os-release and the package database decide whether requirements apply (directive scope,
# "openssh-server installed" conditions): the cases that aim at other files leave them intact,
# and cases of their own aim at them.

def fifos(c: Case) -> None:
    for path in ("/etc/ssh/sshd_config", "/etc/passwd", "/etc/login.defs", "/etc/sysctl.conf",
                 "/etc/pam.d/common-password", "/etc/hostname", "/etc/machine-id"):
        c.fifo(path)


def fifo_os_release(c: Case) -> None:
    c.fifo("/usr/lib/os-release")


def fifo_package_database(c: Case) -> None:
    c.fifo("/var/lib/dpkg/status")


def sparse_package_database(c: Case) -> None:
    c.sparse("/var/lib/dpkg/status", 8 * GIB)


def fifo_include_target(c: Case) -> None:
    c.write("/etc/ssh/sshd_config", "Include /etc/ssh/sshd_config.d/*.conf\nPermitRootLogin no\n")
    c.write("/etc/ssh/sshd_config.d/10-ok.conf", "PasswordAuthentication no\n")
    c.fifo("/etc/ssh/sshd_config.d/20-trap.conf")


def device_nodes(c: Case) -> None:
    major, minor = c.loop_device((SECRET + " hostname-from-a-disk\n").encode() * 4096)
    c.device("/etc/hostname", stat.S_IFBLK, major, minor)  # a disk holding data: must not become the hostname
    c.device("/etc/ssh/sshd_config", stat.S_IFBLK, major, minor)
    c.device("/etc/machine-id", stat.S_IFCHR, 1, 5)  # /dev/zero: endless
    c.device("/etc/passwd", stat.S_IFCHR, 1, 8)  # /dev/random: endless garbage
    c.device("/etc/login.defs", stat.S_IFCHR, 5, 0)  # /dev/tty: would take the scanner's terminal
    c.device("/etc/sysctl.conf", stat.S_IFCHR, 1, 3)  # /dev/null


def sockets(c: Case) -> None:
    for path in ("/etc/ssh/sshd_config", "/etc/login.defs", "/etc/hostname"):
        c.socket(path)


def symlink_loops(c: Case) -> None:
    c.link("/etc/ssh/sshd_config", "sshd_config")
    c.link("/etc/login.defs", "/etc/login.defs.b")
    c.link("/etc/login.defs.b", "/etc/login.defs")
    c.link("/etc/sysctl.d", "/etc/sysctl.d")  # a directory that is a loop
    c.link("/var/lib/dpkg/loop", "..")  # a walk must not follow it


def symlinks_out_of_the_root(c: Case) -> None:
    sshd = c.secret("sshd_config", f"PermitRootLogin no\n# {SECRET}\nBanner /{SECRET}\n")
    passwd = c.secret("passwd", f"root:x:0:0:{SECRET}:/root:/bin/bash\n")
    os_release = c.secret("os-release", f'ID=debian\nVERSION_ID="12"\nPRETTY_NAME="{SECRET}"\n')
    host = c.secret("hostname", f"{SECRET}\n")
    fifo = c.outside / "trap.fifo"
    os.mkfifo(fifo)  # followed out of the root, it would also hang the scan
    depth = "../" * (len(c.root.parts) + 2)
    c.link("/etc/ssh/sshd_config", str(sshd))  # absolute: must resolve inside the root
    c.link("/etc/passwd", depth + str(passwd).lstrip("/"))  # relative, climbing past the root
    c.write("/etc/os-release", 'ID=debian\nVERSION_ID="12"\n')  # a root (one without is refused: below)
    c.link("/usr/lib/os-release", depth + str(os_release).lstrip("/"))  # absent inside: never the outside one
    c.link("/etc/hostname", str(host))
    c.link("/etc/login.defs", str(fifo))
    c.link("/etc/sysctl.d", str(c.outside))  # a directory link out of the root
    c.secret("99-outside.conf", f"kernel.randomize_va_space = 2 # {SECRET}\n")


def sparse_files(c: Case) -> None:
    c.sparse("/etc/ssh/sshd_config", 4 * GIB)
    c.sparse("/etc/passwd", MAX_READ + 1)
    c.sparse("/etc/sysctl.d/99-big.conf", 3 * GIB)


def binary_garbage(c: Case) -> None:
    noise = hashlib.shake_256(b"fedharden hostile root").digest(256 * 1024)
    for path in ("/etc/ssh/sshd_config", "/usr/lib/os-release", "/etc/passwd", "/etc/group", "/etc/shadow",
                 "/etc/login.defs", "/var/lib/dpkg/status", "/etc/sysctl.conf", "/etc/pam.d/common-auth",
                 "/etc/hostname", "/etc/fstab", "/etc/modprobe.d/garbage.conf", "/etc/sudoers"):
        c.write(path, noise)


def include_loops(c: Case) -> None:
    fan = "Include /etc/ssh/inc/*.conf\nPermitRootLogin yes\n"
    c.write("/etc/ssh/sshd_config", "Include /etc/ssh/inc/*.conf\n")
    for name in ("a", "b", "c"):
        c.write(f"/etc/ssh/inc/{name}.conf", fan)


def include_self(c: Case) -> None:
    c.write("/etc/ssh/sshd_config", "Include /etc/ssh/sshd_config\nInclude sshd_config.d/*\nPermitRootLogin no\n")
    for n in range(MAX_INCLUDED_FILES + 50):  # a directory of more files than one parse may read
        c.write(f"/etc/ssh/sshd_config.d/{n:05}.conf", "Include /etc/ssh/sshd_config\n")


ESC = "\x1b]0;pwned\x07\x1b[2J\x1b[31m"


def control_characters(c: Case) -> None:
    c.write("/etc/hostname", f"{ESC}host\r\n")
    c.write("/usr/lib/os-release", f'ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\nPRETTY_NAME="{ESC}Debian"\n')
    c.write("/etc/ssh/sshd_config", f"PermitRootLogin \x1b[31mRED\x1b[0m\nBanner /etc/{ESC}\nCiphers \x00\x7f\x9b[2J\n")
    passwd = (c.root / "etc/passwd").read_text()
    c.write("/etc/passwd", passwd + f"{ESC}evil:x:0:0:{ESC}:/root:/bin/{ESC}sh\n")
    c.write("/etc/login.defs", f"PASS_MAX_DAYS {ESC}90\nUMASK \x1b[1m077\n")
    c.write("/etc/sysctl.d/99-esc.conf", f"kernel.randomize_va_space = {ESC}2\n")
    c.write(f"/etc/ssh/sshd_config.d/{ESC}.conf", "PermitRootLogin yes\n")
    c.write("/etc/cron.d/" + "\udcff\udcfe\x1b[2J", "* * * * * root true\n")  # undecodable and escape bytes
    os.chmod(c.root / "etc/cron.d" / os.fsdecode(b"\xff\xfe\x1b[2J"), 0o777)
    (c.root / "var/tmp" / ESC).mkdir(parents=True)
    os.chmod(c.root / "var/tmp" / ESC, 0o777)  # world-writable without the sticky bit: a finding names it
    status = (c.root / "var/lib/dpkg/status").read_text()
    c.write("/var/lib/dpkg/status", status + f"\nPackage: {ESC}pkg\nStatus: install ok installed\n"
                                              f"Version: 1.0{ESC}\nArchitecture: amd64\n")


CASES: dict[str, Callable[[Case], None]] = {
    "fifos": fifos,
    "fifo_os_release": fifo_os_release,
    "fifo_package_database": fifo_package_database,
    "sparse_package_database": sparse_package_database,
    "fifo_include_target": fifo_include_target,
    "device_nodes": device_nodes,
    "sockets": sockets,
    "symlink_loops": symlink_loops,
    "symlinks_out_of_the_root": symlinks_out_of_the_root,
    "sparse_files": sparse_files,
    "binary_garbage": binary_garbage,
    "include_fan_out": include_loops,
    "include_self_and_many_files": include_self,
    "control_characters": control_characters,
}

# Per case: a reason that must appear in the results, and requirements that must be `error`.
REFUSED = {
    "fifos": ("/etc/ssh/sshd_config: is a FIFO, not a regular file", SSHD_REQUIREMENTS),
    "fifo_package_database": ("/var/lib/dpkg/status: is a FIFO, not a regular file", set()),
    "sparse_package_database": (f"/var/lib/dpkg/status: {8 * GIB} bytes, larger than the "
                                f"{MAX_READ // 1024 ** 2} MiB bound on a file read", set()),
    "fifo_os_release": ("cannot tell the operating system: /etc/os-release: is a FIFO, not a regular file",
                        SSHD_REQUIREMENTS),
    "fifo_include_target": ("/etc/ssh/sshd_config.d/20-trap.conf: is a FIFO, not a regular file", set()),
    "device_nodes": ("/etc/ssh/sshd_config: is a block device, not a regular file", SSHD_REQUIREMENTS),
    "sockets": ("/etc/ssh/sshd_config: is a socket, not a regular file", SSHD_REQUIREMENTS),
    "symlink_loops": ("/etc/ssh/sshd_config: too many levels of symbolic links", SSHD_REQUIREMENTS),
    "sparse_files": (f"/etc/ssh/sshd_config: {4 * GIB} bytes, larger than the {MAX_READ // 1024 ** 2} MiB bound "
                     "on a file read", SSHD_REQUIREMENTS),
    "include_fan_out": (f"more than {MAX_INCLUDED_FILES} files read through includes in one parse", SSHD_REQUIREMENTS),
    "include_self_and_many_files": (f"more than {MAX_INCLUDED_FILES} files read through includes in one parse",
                                    SSHD_REQUIREMENTS),
}


# Observing the root ------------------------------------------------------------------------------

def digest(root: Path) -> dict[str, tuple[object, ...]]:
    """Every entry's type, mode, owner, size, mtime and link target, and the contents of
    regular files (sparse giants by their allocated blocks): without opening anything but
    regular files, as the scan must not either."""
    out: dict[str, tuple[object, ...]] = {}
    for directory, dirs, files in os.walk(root, followlinks=False):
        for name in dirs + files:
            path = os.path.join(directory, name)
            s = os.lstat(path)
            extra: object = None
            if stat.S_ISLNK(s.st_mode):
                extra = os.readlink(path)
            elif stat.S_ISREG(s.st_mode) and s.st_size < 64 * 1024 ** 2:
                with open(path, "rb") as fh:
                    extra = hashlib.sha256(fh.read()).hexdigest()
            elif stat.S_ISREG(s.st_mode):
                extra = s.st_blocks
            elif stat.S_ISCHR(s.st_mode) or stat.S_ISBLK(s.st_mode):
                extra = s.st_rdev
            out[path] = (s.st_mode, s.st_uid, s.st_gid, s.st_size, s.st_mtime_ns, s.st_ctime_ns, extra)
    return out


@dataclass(frozen=True)
class Run:
    code: int | None  # None: killed at the timeout
    seconds: float
    max_rss: int  # bytes
    stdout: str
    stderr: str
    report: dict | None


def limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def scan(root: Path, out: Path) -> Run:
    """One ``fedharden scan --root`` in its own process, with no terminal (stdin closed)."""
    report_file = out / "report.json"
    started = time.monotonic()
    with open(out / "stdout", "wb") as so, open(out / "stderr", "wb") as se:
        proc = subprocess.Popen([FEDHARDEN, "scan", "--root", str(root), "--walk", "--format", f"json={report_file}",
                                 "--format", f"table={out / 'table.txt'}"],
                                stdin=subprocess.DEVNULL, stdout=so, stderr=se, preexec_fn=limit_memory)
        code: int | None = None
        usage = None
        while time.monotonic() - started < TIMEOUT:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                code = os.waitstatus_to_exitcode(status)
                break
            time.sleep(0.02)
        else:
            proc.kill()
            _, _, usage = os.wait4(proc.pid, 0)
        proc.returncode = code if code is not None else -9  # reaped here; keep Popen from waiting again
    seconds = time.monotonic() - started
    report = json.loads(report_file.read_text()) if report_file.exists() else None
    return Run(code, seconds, usage.ru_maxrss * 1024 if usage else 0, (out / "stdout").read_text("utf-8", "replace"),
               (out / "stderr").read_text("utf-8", "replace"), report)


@pytest.fixture(scope="module")
def base(debian_rootfs: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Debian root's configuration, copied once (never the shared root itself)."""
    path = tmp_path_factory.mktemp("hostile-base") / "root"
    path.mkdir()
    for rel in COPIED:
        source = debian_rootfs / rel
        if source.is_symlink() or source.exists():
            (path / rel).parent.mkdir(parents=True, exist_ok=True)
            subprocess.run(["cp", "-a", str(source), str(path / rel)], check=True, timeout=60)
    return path


@pytest.fixture
def case(base: Path, tmp_path: Path) -> Iterator[Case]:
    if os.geteuid() != 0:
        pytest.fail("device nodes and loop devices need root: run the suite through tests/run")
    root = tmp_path / "root"
    subprocess.run(["cp", "-a", str(base), str(root)], check=True, timeout=60)
    c = Case(root, tmp_path / "outside", [])
    c.outside.mkdir()
    try:
        yield c
    finally:
        for device in c.devices:
            subprocess.run(["losetup", "--detach", device], capture_output=True, timeout=30, check=False)


ARTIFACTS = Path(__file__).resolve().parents[1] / ".artifacts"
FIGURES: dict[str, dict[str, float]] = {}


@pytest.fixture(scope="module", autouse=True)
def figures() -> Iterator[None]:
    """Each case's wall time and peak memory, in tests/.artifacts/hostile_root.json."""
    yield
    if FIGURES:
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / "hostile_root.json").write_text(json.dumps(FIGURES, indent=1, sort_keys=True) + "\n")


@pytest.mark.parametrize("name", list(CASES))
def test_a_hostile_root_is_scanned_safely(name: str, case: Case, tmp_path: Path) -> None:
    CASES[name](case)
    before = digest(case.root)
    run = scan(case.root, tmp_path)
    FIGURES[name] = {"seconds": round(run.seconds, 2), "max_rss_mib": round(run.max_rss / 1024 ** 2, 1)}
    assert run.code is not None, f"{name}: the scan did not finish within {TIMEOUT:g} s"
    assert run.code in (0, 1, 4), run.stderr  # 4: something could not be judged (incomplete)
    assert run.stderr == "", run.stderr  # no traceback, no internal error
    assert run.max_rss < MAX_RSS, f"{name}: peak memory {run.max_rss >> 20} MiB"
    assert digest(case.root) == before  # nothing written, created, removed or touched in the root
    assert run.report is not None and validation_errors(run.report) == []
    everything = json.dumps(run.report) + run.stdout + run.stderr + (tmp_path / "table.txt").read_text("utf-8", "replace")
    assert SECRET not in everything  # nothing read outside the root, not even a link's target
    if name in REFUSED:
        reason, must_error = REFUSED[name]
        texts = [json.dumps([r.get("message"), r.get("evidence")]) for r in run.report["results"]]
        assert any(reason in text for text in texts), f"{reason!r} in no result"
        by_id = {r["requirement"] if "requirement" in r else r["key"]: r["status"] for r in run.report["results"]}
        assert {(k, by_id[k]) for k in must_error if k in by_id} == {(k, "error") for k in must_error if k in by_id}


def test_control_characters_are_kept_as_data(case: Case, tmp_path: Path) -> None:
    """Every host-supplied text with escapes survives into the report as data (JSON escapes
    it); nothing from the root crashes a renderer."""
    control_characters(case)
    run = scan(case.root, tmp_path)
    assert run.code in (0, 1, 4) and run.stderr == "", run.stderr
    assert run.report is not None
    assert run.report["host"]["hostname"].startswith("\x1b]0;pwned")
    raw = (tmp_path / "report.json").read_bytes()
    assert b"\x1b" not in raw and b"\\u001b" in raw  # escaped in the file, not raw bytes


def test_a_block_device_never_becomes_the_hostname(case: Case, tmp_path: Path) -> None:
    device_nodes(case)
    run = scan(case.root, tmp_path)
    assert run.code in (0, 1, 4) and run.report is not None
    assert SECRET not in run.report["host"]["hostname"] and len(run.report["host"]["hostname"]) < 256


def test_a_root_whose_only_os_release_points_out_of_it_is_refused_unread(case: Case, tmp_path: Path) -> None:
    os_release = case.secret("os-release", f'ID=debian\nVERSION_ID="12"\nPRETTY_NAME="{SECRET}"\n')
    case.write("/etc/hostname", "inside\n")
    case.link("/usr/lib/os-release", "../" * (len(case.root.parts) + 2) + str(os_release).lstrip("/"))
    run = scan(case.root, tmp_path)
    assert run.code == 2 and run.report is None
    assert run.stderr.count("\n") == 1 and "not a root filesystem (no /etc/os-release or /usr/lib/os-release)" in run.stderr
    assert SECRET not in run.stderr


def test_a_hostname_holding_a_nul_is_passed_over(case: Case, tmp_path: Path) -> None:
    """No host name holds a NUL (the collector refuses one in a report's header): the line is
    passed over, as one too long to be a name is."""
    case.write("/etc/os-release", 'ID=debian\nVERSION_ID="12"\n')
    case.write("/etc/hostname", "web\x00evil\n")
    run = scan(case.root, tmp_path)
    assert run.code in (0, 1, 4) and run.report is not None
    assert "\x00" not in run.report["host"]["hostname"] and "evil" not in run.report["host"]["hostname"]

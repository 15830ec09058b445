"""What ``fedharden scan`` says about a host, as a user runs it: a directory that is no root
filesystem is refused; the exit code follows the host status of the report; colors follow
--color / --no-color / NO_COLOR through a pipe; nothing from the host reaches the terminal as
a control sequence."""
from __future__ import annotations

import json
import os
import select
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest

from agent.contract import EXIT_INCOMPLETE, HostStatus
from agent.inventory_scan import Outcome, exit_code as inventory_exit
from agent.inventory import Entry

pytestmark = pytest.mark.slow  # the command line as a process, per test

MakeRoot = Callable[..., Path]
FEDHARDEN = str(Path(sys.executable).with_name("fedharden"))
DEBIAN = {"/etc/os-release": 'ID=debian\nVERSION_ID="12"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n',
          "/etc/hostname": "plain\n", "/var/lib/dpkg/status": ""}


def scan(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([FEDHARDEN, "scan", *args], capture_output=True, text=True, timeout=120, check=False,
                          env={**os.environ, **(env or {})})


def test_an_empty_directory_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = scan("--root", str(empty))
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == (f"fedharden: --root: {empty}: not a root filesystem (no /etc, no /etc/os-release or "
                           "/usr/lib/os-release, no dpkg or rpm database)\n")


def test_a_file_tree_without_os_release_is_refused(make_root: MakeRoot) -> None:
    root = make_root({"/etc/ssh/sshd_config": "PermitRootLogin no\n", "/etc/passwd": "root:x:0:0::/root:/bin/sh\n"})
    proc = scan("--root", str(root), "--format", "json")
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == (f"fedharden: --root: {root}: not a root filesystem (no /etc/os-release or "
                           "/usr/lib/os-release, no dpkg or rpm database)\n")


def test_os_release_under_usr_lib_and_a_link_inside_the_root_are_a_root(make_root: MakeRoot) -> None:
    root = make_root({"/usr/lib/os-release": DEBIAN["/etc/os-release"], "/etc/hostname": "linked\n"})
    os.symlink("../usr/lib/os-release", root / "etc/os-release")
    proc = scan("--root", str(root), "--directive", "BOD-23-02", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["summary"]["status"] == "not_applicable"  # an image: no sockets to judge


def test_a_link_out_of_the_root_does_not_make_it_one(make_root: MakeRoot) -> None:
    root = make_root({"/srv/.keep": ""})
    os.symlink("/etc", root / "etc")  # absolute: inside the image, not this machine's /etc
    proc = scan("--root", str(root))
    assert proc.returncode == 2 and "no /etc/os-release" in proc.stderr


def test_only_errors_is_incomplete_and_exits_4(make_root: MakeRoot) -> None:
    # /etc/shadow is absent: the requirement cannot be judged, nothing fails.
    directive = make_root({"/d.yaml": (
        "id: ONLY-ERRORS\ntitle: t\nissuer: tests\nkind: agency\nissued: 2026-06-01\nrequirements:\n"
        "  - id: ONLY-ERRORS.1\n    title: No account has an empty password\n    severity: high\n"
        "    due: 2026-12-31\n    rationale: r\n    remediation: passwd -l NAME\n"
        "    references: {nist_800_53: [IA-5]}\n    check: {type: accounts, rule: no_empty_password}\n")}) / "d.yaml"
    root = make_root(DEBIAN)
    proc = scan("--root", str(root), "--directives", str(directive), "--directive", "ONLY-ERRORS",
                "--format", "json")
    report = json.loads(proc.stdout)
    assert {(r["key"], r["status"]) for r in report["results"]} == {("ONLY-ERRORS.1", "error")}
    assert report["summary"]["status"] == "incomplete" and report["summary"]["compliant"] is False
    assert report["summary"]["directives"]["ONLY-ERRORS"]["status"] == "incomplete"
    assert proc.returncode == EXIT_INCOMPLETE == 4, proc.stderr


def test_manual_only_is_needs_review_and_exits_0(make_root: MakeRoot) -> None:
    # Support of any listed release ends within a century: a person must attest the upgrade is planned.
    directive = make_root({"/d.yaml": (
        "id: ONLY-MANUAL\ntitle: t\nissuer: tests\nkind: agency\nissued: 2026-06-01\nrequirements:\n"
        "  - id: ONLY-MANUAL.1\n    title: The release is supported\n    severity: low\n"
        "    due: 2026-12-31\n    rationale: r\n    remediation: upgrade\n"
        "    references: {nist_800_53: [SA-22]}\n    check: {type: end_of_support, warn_days: 36500}\n")}) / "d.yaml"
    root = make_root(DEBIAN)
    proc = scan("--root", str(root), "--directives", str(directive), "--directive", "ONLY-MANUAL",
                "--format", "json")
    report = json.loads(proc.stdout)
    assert {(r["key"], r["status"]) for r in report["results"]} == {("ONLY-MANUAL.1", "manual")}
    assert report["summary"]["status"] == "needs_review" and report["summary"]["compliant"] is False
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize("states, submitted, code", [
    (["compliant", "needs_review", "not_applicable"], None, 0),
    (["compliant", "incomplete"], None, 4),
    (["incomplete", "non_compliant"], None, 1),
    (["non_compliant", "failed"], None, 3),
    (["compliant"], False, 3),
])
def test_inventory_exit_is_the_worst_host(states: list[str], submitted: bool | None, code: int) -> None:
    outcomes = [Outcome(Entry(name=f"h{i}", target=f"h{i}"), state=s, submitted=submitted)
                for i, s in enumerate(states)]
    assert inventory_exit(outcomes) == code


def test_exit_codes_of_every_status() -> None:
    from agent.contract import exit_code

    assert {s: exit_code(s) for s in HostStatus} == {
        HostStatus.NON_COMPLIANT: 1, HostStatus.INCOMPLETE: 4, HostStatus.NEEDS_REVIEW: 0,
        HostStatus.COMPLIANT: 0, HostStatus.NOT_APPLICABLE: 0}


# ------------------------------------------------------------------------------ color


def test_color_through_a_pipe(debian_rootfs: Path) -> None:
    colored = scan("--root", str(debian_rootfs), "--directive", "HARDEN-30D", "--color")
    assert "\x1b[31m\x1b[1mFAIL" in colored.stdout, colored.stderr
    assert "\x1b[" not in scan("--root", str(debian_rootfs), "--directive", "HARDEN-30D").stdout
    forced_off = scan("--root", str(debian_rootfs), "--directive", "HARDEN-30D", "--no-color")
    assert "\x1b[" not in forced_off.stdout
    # NO_COLOR turns the default off; a flag on the command line still wins (no-color.org).
    assert "\x1b[" not in scan("--root", str(debian_rootfs), "--directive", "HARDEN-30D",
                               env={"NO_COLOR": "1"}).stdout
    assert "\x1b[31m" in scan("--root", str(debian_rootfs), "--directive", "HARDEN-30D", "--color",
                              env={"NO_COLOR": "1"}).stdout


def on_a_terminal(args: list[str], env: dict[str, str]) -> str:
    """Standard output of a scan run on a pseudo-terminal."""
    primary, secondary = os.openpty()
    proc = subprocess.Popen([FEDHARDEN, "scan", *args], stdout=secondary, stderr=subprocess.DEVNULL,
                            env={**os.environ, **env})
    os.close(secondary)
    out = b""
    while True:
        ready, _, _ = select.select([primary], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # the terminal closed: the scan is done
            break
        if not chunk:
            break
        out += chunk
    proc.wait(timeout=60)
    os.close(primary)
    return out.decode()


def test_on_a_terminal_colors_unless_no_color(debian_rootfs: Path) -> None:
    args = ["--root", str(debian_rootfs), "--directive", "HARDEN-30D"]
    assert "\x1b[31m" in on_a_terminal(args, {})
    assert "\x1b[" not in on_a_terminal(args, {"NO_COLOR": "1"})


# ------------------------------------------------------------------------------ hostile text


HOSTILE = {
    **DEBIAN,
    "/etc/hostname": "evil\x1b]0;pwned\x07\n",
    "/etc/ssh/sshd_config": "PermitRootLogin \x1b[31mRED\x1b[0m\nBanner /etc/\x9b2J\u202eissue\n",
    "/var/lib/dpkg/status": "Package: openssh-server\nStatus: install ok installed\nVersion: 1:9.2p1-2\n\n",
}


@pytest.mark.parametrize("fmt", ["table", "csv", "html", "junit", "jsonl", "sarif", "oscal", "json"])
def test_control_characters_from_the_host_never_reach_the_terminal(make_root: MakeRoot, fmt: str) -> None:
    root = make_root(HOSTILE)
    proc = scan("--root", str(root), "--directive", "HARDEN-30D", "--format", fmt, "--no-color")
    assert proc.returncode == 1, proc.stderr
    for raw in ("\x1b", "\x07", "\x9b", "\u202e"):
        assert raw not in proc.stdout, (fmt, raw)
        assert raw not in proc.stderr, (fmt, raw)
    if fmt == "table":
        assert "fedharden scan of evil\\x1b]0;pwned\\x07 (" in proc.stdout
        # sshd refuses the value, so every SSH requirement is an error that quotes it, escaped
        assert 'unsupported option "\\x1b[31mRED\\x1b[0m"' in proc.stdout


def test_with_color_the_only_escapes_are_fedhardens(make_root: MakeRoot) -> None:
    root = make_root(HOSTILE)
    proc = scan("--root", str(root), "--directive", "HARDEN-30D", "--color")
    assert "\x07" not in proc.stdout and "\x1b]" not in proc.stdout and "\x1b[31mRED" not in proc.stdout
    assert "\x1b[31m\x1b[1mFAIL" in proc.stdout


def test_an_error_line_escapes_what_it_quotes(tmp_path: Path) -> None:
    proc = scan("--root", str(tmp_path / "x\x1b]0;pwned\x07"))
    assert proc.returncode == 2
    assert proc.stderr == f"fedharden: --root: {tmp_path}/x\\x1b]0;pwned\\x07: not a directory\n"


@pytest.mark.parametrize("code, said", [
    (0, ""), (1, ""), (4, "the host's status is incomplete"), (3, "ended with exit code 3"),
    (2, "needs attention"),
])
def test_the_scheduler_reads_the_scans_exit_code(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                 code: int, said: str) -> None:
    from agent.reporting import Backoff
    from agent.runner import Runner
    from agent.state import StateDir

    scan_exits = tmp_path / "scan"  # stands in for the interpreter running one scan
    scan_exits.write_text(f"#!/bin/sh\nexit {code}\n")
    scan_exits.chmod(0o755)
    runner = Runner([], StateDir(tmp_path / "state"), Backoff(attempts=1), interval=60, splay=0,
                    python=str(scan_exits))
    assert runner.cycle() == code
    logged = capsys.readouterr().err
    assert (said in logged) if said else logged == ""

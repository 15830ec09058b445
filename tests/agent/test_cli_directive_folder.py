"""A user's directive folder (directive.yaml and its sections) on the command line."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # whole scans through the command line

FEDHARDEN = str(Path(sys.executable).with_name("fedharden"))
HEAD = "id: AGENCY-F\ntitle: Agency rules\nissuer: Agency\nkind: agency\nissued: 2026-06-02\nsections: [ssh, accounts]\n"
SSH = """\
requirements:
  - id: AGENCY-F.SSH.1
    title: Root login is disabled
    severity: high
    due: 2026-07-01
    rationale: r
    remediation: m
    references: {nist_800_53: [AC-6(2)]}
    check: {type: config, path: /etc/ssh/sshd_config, dialect: sshd, key: PermitRootLogin, default: prohibit-password, equals: "no"}
"""
ACCOUNTS = SSH.replace("SSH.1", "ACCT.1").replace("Root login is disabled", "Only root has UID 0").replace(
    "{type: config, path: /etc/ssh/sshd_config, dialect: sshd, key: PermitRootLogin, default: prohibit-password, equals: \"no\"}",
    "{type: accounts, rule: uid0_only_root}")


def folder(tmp_path: Path) -> Path:
    root = tmp_path / "agency" / "agency-f"
    root.mkdir(parents=True)
    (root / "directive.yaml").write_text(HEAD)
    (root / "ssh.yaml").write_text(SSH)
    (root / "accounts.yaml").write_text(ACCOUNTS)
    return root


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([FEDHARDEN, *args], capture_output=True, text=True, timeout=300)


def test_scan_and_validate_a_directive_folder(tmp_path: Path, debian_rootfs: Path) -> None:
    root = folder(tmp_path)
    out = tmp_path / "r.json"
    for given in (root, root.parent, root / "directive.yaml"):
        done = run("scan", "--root", str(debian_rootfs), "--directives", str(given), "--directive", "AGENCY-F",
                   "--format", "json", "-o", str(out))
        assert done.returncode in (0, 1), done.stderr
        report = json.loads(out.read_text())
        assert [r["requirement"] for r in report["results"]] == ["AGENCY-F.SSH.1", "AGENCY-F.ACCT.1"]
        assert report["directives"][0]["digest"].startswith("sha256:")
    done = run("directives", "validate", str(root))
    assert done.returncode == 0 and done.stdout == f"{root}: ok (AGENCY-F, 2 requirements)\n"


def test_a_stray_or_missing_section_is_one_line_and_exit_2(tmp_path: Path, debian_rootfs: Path) -> None:
    root = folder(tmp_path)
    (root / "notes.yaml").write_text("requirements: []\n")
    done = run("scan", "--root", str(debian_rootfs), "--directives", str(root))
    assert done.returncode == 2
    assert done.stderr == f"{root}/notes.yaml: not a section of {root}/directive.yaml (list its stem in sections: or remove it)\n"
    (root / "notes.yaml").unlink()
    (root / "accounts.yaml").unlink()
    done = run("scan", "--root", str(debian_rootfs), "--directives", str(root.parent))
    assert done.returncode == 2
    assert done.stderr == f"{root}/directive.yaml:6: $.sections[1]: section file {root}/accounts.yaml does not exist\n"

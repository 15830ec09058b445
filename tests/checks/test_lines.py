"""The lines check on facts built in the test, and the file check's alternative paths."""
from __future__ import annotations

from typing import Any

from checks import evaluate
from checks.facts import FactKey, Facts, FileInfo, TextFile, TextFiles, Unavailable
from checks.model import Status

PAM = ["/etc/pam.d/common-auth", "/etc/pam.d/system-auth"]
FAILLOCK = {"type": "lines", "path": PAM, "each": True, "contains": [r"pam_faillock\.so\b.*\bpreauth\b"]}


def facts(**files: tuple[str, ...] | None) -> dict[FactKey, object]:
    """One fact per path: the file's lines, or no file (None)."""
    out: dict[FactKey, object] = {}
    for path in PAM:
        lines = files.get(path.rsplit("/", 1)[1].replace("-", "_"))
        found = () if lines is None else (TextFile(path, tuple(enumerate(lines, 1))),)
        out[FactKey("lines", path)] = TextFiles(path, found)
    return out


def judge(spec: dict[str, Any], values: dict[FactKey, object]) -> Status:
    return evaluate(spec, Facts(values)).status


def test_contains_each_file() -> None:
    assert judge(FAILLOCK, facts(common_auth=("auth requisite pam_faillock.so preauth",))) is Status.PASS
    assert judge(FAILLOCK, facts(common_auth=("auth required pam_unix.so",))) is Status.FAIL
    both = facts(common_auth=("auth requisite pam_faillock.so preauth",), system_auth=("auth required pam_unix.so",))
    assert judge(FAILLOCK, both) is Status.FAIL  # each stack on its own
    assert judge({**FAILLOCK, "each": False}, both) is Status.PASS  # judged together


def test_absent_and_missing() -> None:
    spec = {"type": "lines", "path": PAM, "absent": [r"\bnullok\b"]}
    assert judge(spec, facts(common_auth=("auth [success=1] pam_unix.so",))) is Status.PASS
    assert judge(spec, facts(common_auth=("auth [success=1] pam_unix.so nullok",))) is Status.FAIL
    assert judge(spec, facts()) is Status.FAIL
    assert judge({**spec, "missing": "pass"}, facts()) is Status.PASS
    assert judge({**spec, "missing": "not_applicable"}, facts()) is Status.NOT_APPLICABLE


def test_unreadable_file_is_an_error_never_a_pass() -> None:
    values = facts()
    values[FactKey("lines", PAM[0])] = Unavailable("/etc/pam.d/common-auth: permission denied")
    assert judge({"type": "lines", "path": PAM, "absent": ["nullok"]}, values) is Status.ERROR


def test_evidence_names_the_line() -> None:
    outcome = evaluate(FAILLOCK, Facts(facts(common_auth=("# x", "auth requisite pam_faillock.so preauth"))))
    assert outcome.evidence[0].where == "/etc/pam.d/common-auth:2"


def test_file_alternatives_judge_the_first_that_exists() -> None:
    spec = {"type": "file", "path": ["/boot/grub/grub.cfg", "/boot/grub2/grub.cfg"], "max_mode": "0600"}
    debian, rhel = FactKey("file", "/boot/grub/grub.cfg"), FactKey("file", "/boot/grub2/grub.cfg")
    assert judge(spec, {debian: FileInfo("/boot/grub/grub.cfg", False),
                        rhel: FileInfo("/boot/grub2/grub.cfg", True, "file", 0o600, 0, 0)}) is Status.PASS
    assert judge(spec, {debian: FileInfo("/boot/grub/grub.cfg", True, "file", 0o644, 0, 0),
                        rhel: FileInfo("/boot/grub2/grub.cfg", False)}) is Status.FAIL
    assert judge(spec, {debian: FileInfo("/boot/grub/grub.cfg", False),
                        rhel: FileInfo("/boot/grub2/grub.cfg", False)}) is Status.FAIL

"""The record of an apply (agent.fixing.record): who ran it, and what its journal says, valid
against the apply schema for every way an apply ends."""
from __future__ import annotations

import os
import pwd
from typing import Any

import pytest

from agent import UsageError
from agent.contract import apply_errors
from agent.fixing.record import invoking_user, record_of


def test_the_invoking_user_is_the_one_sudo_names() -> None:
    assert invoking_user(env={"SUDO_USER": "alice", "SUDO_UID": "1234"}) == {"user": "alice", "uid": 1234,
                                                                            "sudo": True}
    assert invoking_user("jdoe CHG-42", env={"SUDO_USER": "alice", "SUDO_UID": "x"}) == {
        "user": "alice", "uid": None, "sudo": True, "name": "jdoe CHG-42"}
    me = invoking_user(env={})
    assert me == {"user": pwd.getpwuid(os.geteuid()).pw_name, "uid": os.geteuid()}


def journal(**extra: Any) -> dict[str, Any]:
    change = {"requirement": "H.1", "disruptive": False}
    return {"version": 1, "id": "20261210T101500Z-a1b2c3", "root": "/srv/image", "status": "applied", "revision": 2,
            "started_at": "2026-12-10T10:15:00+00:00", "finished_at": "2026-12-10T10:15:09+00:00",
            "by": {"user": "alice", "uid": 1234, "sudo": True}, "include_disruptive": True,
            "plan": {"changes": [change, {"requirement": "H.2", "disruptive": True}], "skipped": []},
            "rounds": [{"changes": [{"requirement": "H.3", "disruptive": False}, change], "skipped": []}],
            "entries": [], "warnings": [], **extra}


def test_an_apply_with_rounds_and_a_failing_requirement() -> None:
    made = record_of(journal(result={"fixed": ["H.2", "H.3"], "failing": [{"requirement": "H.1",
                                                                             "why": "line\x00one\n  two"}]}), "host-a")
    assert made["outcome"] == "applied" and made["revision"] == 2 and made["root"] == "/srv/image"
    assert made["requirements"] == ["H.1", "H.2", "H.3"] and made["disruptive"] == ["H.2"]
    assert made["fixed"] == ["H.2", "H.3"] and made["failing"] == [{"requirement": "H.1", "why": "line\\x00one two"}]
    assert apply_errors(made) == []


@pytest.mark.parametrize(("extra", "outcome"), [
    ({"status": "rolled_back", "error": "H.1: cannot write /etc/x: Read-only file system",
      "rollback_problems": []}, "failed"),
    ({"status": "rolled_back", "rollback": {"at": "2026-12-10T11:00:00+00:00", "by": {"user": "bob", "uid": 1001}},
      "rollback_problems": []}, "rolled_back"),
    ({"status": "rollback_incomplete", "rollback": {"at": "2026-12-10T11:00:00+00:00", "by": {"user": "bob", "uid": 1001}},
      "rollback_problems": ["/etc/x: Permission denied"]}, "rollback_incomplete"),
])
def test_every_way_an_apply_ends(extra: dict[str, Any], outcome: str) -> None:
    made = record_of(journal(**extra), "host-a")
    assert made["outcome"] == outcome and apply_errors(made) == []
    assert made.get("rollback_problems", []) == extra["rollback_problems"]


def test_a_journal_of_an_earlier_agent_has_no_user_and_a_broken_one_is_named() -> None:
    old = journal()
    del old["by"], old["revision"]
    assert record_of(old, "host-a")["by"] == {"user": "unknown", "uid": None}
    with pytest.raises(UsageError, match=r"apply 20261210T101500Z-a1b2c3: .*\$\.by\.uid"):
        record_of(journal(by={"user": "alice", "uid": -1}), "host-a")

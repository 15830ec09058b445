"""Who ran an apply, and the record of it that fix --submit reports to the collector
(agent/schemas/apply.schema.json, agent.contract.ApplyRecord), made from its journal alone: the
same record whether it is sent right after the apply, after a rollback, or from the spool."""
from __future__ import annotations

import os
import pwd
from typing import Any, Mapping

from agent import UsageError, __version__
from agent.contract import Actor, ApplyRecord, FailingRequirement, apply_errors

MAX_TEXT = 2000  # the schema's bound on a reason, a warning or an error


def invoking_user(name: str | None = None, env: Mapping[str, str] | None = None) -> Actor:
    """The user who ran the command: the one sudo names (SUDO_USER, SUDO_UID) when run through
    sudo, else the effective user; ``name``, what the operator gave with --by, beside it."""
    env = os.environ if env is None else env
    sudo_user = env.get("SUDO_USER", "").strip()
    actor: Actor
    if sudo_user:
        uid_text = env.get("SUDO_UID", "")
        actor = {"user": sudo_user[:200], "uid": int(uid_text) if uid_text.isdigit() else None, "sudo": True}
    else:
        euid = os.geteuid()
        try:
            login = pwd.getpwuid(euid).pw_name
        except KeyError:  # a uid without a passwd entry (a container's): the number says it
            login = str(euid)
        actor = {"user": login, "uid": euid}
    if name:
        actor["name"] = name[:200]
    return actor


def text(value: Any) -> str:
    """A reason as the record carries it: one line, bounded, without NUL (which no collector
    stores as text)."""
    return " ".join(str(value).replace("\x00", "\\x00").split())[:MAX_TEXT]


def outcome(journal: Mapping[str, Any]) -> str:
    status = journal.get("status")
    if journal.get("error"):
        return "failed"  # stopped; what it changed was rolled back at once
    if status in ("rolled_back", "rollback_incomplete"):
        return str(status)
    return "applied"


def record_of(journal: Mapping[str, Any], host_id: str) -> ApplyRecord:
    """The apply record of a finished journal (not one still ``applying``), for ``host_id``."""
    plans = [journal.get("plan") or {}, *(journal.get("rounds") or [])]
    changes = [c for p in plans for c in p.get("changes", [])]
    result = journal.get("result") or {}
    record: ApplyRecord = {
        "schema_version": "1.0", "apply_id": str(journal["id"]), "revision": max(1, int(journal.get("revision", 1))),
        "host_id": host_id, "agent": {"name": "fedharden", "version": __version__}, "root": str(journal["root"]),
        "by": journal.get("by") or Actor(user="unknown", uid=None),  # a journal of an agent before records
        "started_at": str(journal["started_at"]), "finished_at": journal.get("finished_at"),
        "outcome": outcome(journal),  # type: ignore[typeddict-item]  # one of APPLY_OUTCOMES
        "include_disruptive": bool(journal.get("include_disruptive", False)),
        "requirements": list(dict.fromkeys(str(c["requirement"]) for c in changes)),
        "disruptive": list(dict.fromkeys(str(c["requirement"]) for c in changes if c.get("disruptive"))),
        "fixed": list(dict.fromkeys(str(r) for r in result.get("fixed", []))),
        "failing": [FailingRequirement(requirement=str(f["requirement"]), why=text(f["why"]))
                    for f in result.get("failing", [])],
    }
    if journal.get("error"):
        record["error"] = text(journal["error"])
    if journal.get("warnings"):
        record["warnings"] = [text(w) for w in journal["warnings"]][:200]
    if journal.get("rollback"):
        record["rollback"] = journal["rollback"]
    if journal.get("rollback_problems"):
        record["rollback_problems"] = [text(p) for p in journal["rollback_problems"]][:200]
    problems = apply_errors(record)
    if problems:  # a journal edited by hand: say which field
        raise UsageError(f"apply {journal['id']}: its journal makes no valid record: {problems[0]}")
    return record

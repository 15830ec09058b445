"""fswalk: what one walk of the local filesystems found (world-writable files, world-writable
directories without the sticky bit, files without a known owner, set-ID programs).

Rules:
- ``world_writable_files``: no regular file is writable by others.
- ``sticky_directories``: every directory writable by others has the sticky bit.
- ``owned``: every file and directory has an owner and a group the target knows.
- ``setid_allowed``: every set-user-ID or set-group-ID file matches ``allow`` (glob patterns
  of approved programs); the evidence is the inventory, approved ones included.

``exclude`` lists path prefixes left out (for example a container storage directory).
"""
from __future__ import annotations

import fnmatch
from typing import Any, Mapping

from checks.facts import FactKey, Facts, FsWalk, WalkEntry
from checks.model import Evidence, Outcome, Status, Verdict

FSWALK = FactKey("fswalk")
RULES = {
    "world_writable_files": ("world_writable", "not writable by others"),
    "sticky_directories": ("sticky_missing", "sticky bit on a directory writable by others"),
    "owned": ("unowned", "an owner and group known to the system"),
    "setid_allowed": ("setid", "set-ID only on approved programs"),
}
MAX_EVIDENCE = 50


def describe(entry: WalkEntry) -> str:
    owner = entry.owner or f"uid {entry.uid} (unknown)"
    group = entry.group or f"gid {entry.gid} (unknown)"
    return f"{entry.kind} mode {entry.mode:04o} owner {owner} group {group}"


def under(path: str, prefixes: list[str]) -> bool:
    return any(path == p or path.startswith(p.rstrip("/") + "/") for p in prefixes)


class FsWalkCheck:
    name = "fswalk"
    schema: Mapping[str, Any] = {
        "type": "object",
        "properties": {
            "type": {"const": "fswalk"},
            "rule": {"enum": list(RULES)},
            "exclude": {"type": "array", "items": {"type": "string", "pattern": "^/"}},
            "allow": {"type": "array", "items": {"type": "string", "pattern": "^/"}},
        },
        "required": ["type", "rule"],
        "additionalProperties": False,
    }

    def needs(self, params: Mapping[str, Any]) -> set[FactKey]:
        return {FSWALK}

    def evaluate(self, params: Mapping[str, Any], facts: Facts) -> Outcome:
        walk = facts.need(FSWALK)
        assert isinstance(walk, FsWalk)
        field, expected = RULES[params["rule"]]
        entries: tuple[WalkEntry, ...] = getattr(walk, field)
        exclude = list(params.get("exclude", ()))
        allow = list(params.get("allow", ()))
        considered = [e for e in entries if not under(e.path, exclude)]
        bad = [e for e in considered if not any(fnmatch.fnmatchcase(e.path, p) for p in allow)]
        approved = [e for e in considered if e not in bad]
        summary = Evidence("", f"{walk.examined} files and directories examined in {walk.seconds:.1f} s"
                               f"{f'; {walk.errors} directories unreadable' if walk.errors else ''}",
                           "local filesystems; pruned: " + (", ".join(walk.skipped) or "nothing"), Verdict.INFO)
        evidence = [Evidence(expected, describe(e), e.path, Verdict.VIOLATION) for e in bad[:MAX_EVIDENCE]]
        if len(bad) > MAX_EVIDENCE:
            evidence.append(Evidence(expected, f"... and {len(bad) - MAX_EVIDENCE} more", "", Verdict.VIOLATION))
        if field == "setid":
            evidence.extend(Evidence(expected, describe(e) + " (approved)", e.path, Verdict.OK)
                            for e in approved[:MAX_EVIDENCE])
        evidence.append(summary)
        if bad:
            return Outcome(Status.FAIL, tuple(evidence))
        if walk.counts.get(field, 0) > len(entries):
            return Outcome(Status.ERROR, tuple(evidence),
                           f"more than {walk.limit} entries found; only the first {walk.limit} could be judged")
        return Outcome(Status.PASS, tuple(evidence))


CHECK = FsWalkCheck()

"""root_path: root's PATH holds no empty entry, no '.', no relative entry, and only existing
directories owned by root that neither group nor others can write.

The fact (agent/facts/rootpath.py) gathers every PATH value login.defs, pam_env, sudo's
secure_path and the shell startup files can give root, whichever branch a session takes. Any
bad entry among them fails; all good passes. An entry naming a variable or a command
(``$HOME/bin``, ``$(...)``), or a missing directory set where root may not get it (a branch of
/etc/profile for other users), cannot be judged from files: when nothing fails, the result is
then ``manual``, with the question.
"""
from __future__ import annotations

from typing import Any, Mapping

from checks.facts import FactKey, Facts, PathEntry, RootPath
from checks.model import Evidence, Outcome, Status, Verdict

ROOT_PATH = FactKey("root_path")
EXPECTED = "an existing directory owned by root, not writable by group or others; no empty, '.' or relative entry"
QUESTION = ("Do the PATH entries listed (naming a variable or command, or a directory that does not exist) "
            "stay out of root's PATH, or expand only to existing directories owned by root that neither group "
            "nor others can write (env -i HOME=/root bash -l -c 'echo $PATH' as root)?")


def surely_roots(item: PathEntry) -> bool:
    return "(ENV_SUPATH)" in item.where or item.where.startswith("/root/")


def problem(item: PathEntry) -> str:
    if item.entry == "":
        return "an empty entry (the current directory)"
    if item.entry == ".":
        return "'.' (the current directory)"
    if item.info is None:
        return f"{item.entry!r}: a relative entry"
    info = item.info
    if not info.exists:
        # A missing directory is root's only when root surely gets it (login.defs, root's own files);
        # elsewhere it may sit in a branch for other users (Debian's /etc/profile): asked (below).
        return f"{item.entry}: does not exist" if surely_roots(item) else ""
    if info.kind != "dir":
        return f"{item.entry}: a {info.kind}, not a directory"
    if info.uid != 0:
        return f"{item.entry}: owned by {info.owner or info.uid}"
    if info.mode & 0o022:
        return f"{item.entry}: mode {info.mode & 0o7777:04o} (writable by group or others)"
    return ""


class RootPathCheck:
    name = "root_path"
    schema: Mapping[str, Any] = {
        "type": "object",
        "properties": {"type": {"const": "root_path"}},
        "required": ["type"],
        "additionalProperties": False,
    }

    def needs(self, params: Mapping[str, Any]) -> set[FactKey]:
        return {ROOT_PATH}

    def evaluate(self, params: Mapping[str, Any], facts: Facts) -> Outcome:
        found = facts.need(ROOT_PATH)
        assert isinstance(found, RootPath)
        bad = [Evidence(EXPECTED, why, item.where, Verdict.VIOLATION) for item in found.entries if (why := problem(item))]
        if bad:
            return Outcome(Status.FAIL, tuple(bad))
        seen = dict.fromkeys(item.entry for item in found.entries)
        missing = [item for item in found.entries if item.info is not None and not item.info.exists]
        if not found.unresolved and not missing:
            return Outcome(Status.PASS, (Evidence(EXPECTED, f"{len(seen)} directories: {', '.join(seen)}",
                                                  ", ".join(found.sources) or "no startup file"),))
        evidence_missing = [Evidence(EXPECTED, f"{item.entry}: does not exist", item.where, Verdict.INFO)
                            for item in missing]
        evidence = [Evidence(EXPECTED, f"{len(seen)} directories: {', '.join(seen)}",
                             ", ".join(found.sources) or "no startup file", Verdict.INFO)]
        evidence += evidence_missing
        evidence += [Evidence(EXPECTED, f"{item.entry}: names a variable or command", item.where, Verdict.INFO)
                     for item in found.unresolved]
        return Outcome(Status.MANUAL, tuple(evidence), QUESTION)


CHECK = RootPathCheck()

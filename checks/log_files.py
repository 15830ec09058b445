"""log_files: every regular file under a directory has at most a mode, and an allowed owner and group.

CIS's audit of /var/log (and ComplianceAsCode's rules for it) judge each file by the first of
a list of rules whose patterns match it: ``paths`` are shell patterns matched against the
whole path (``*`` also matches ``/``, as in ``find -path``), ``names`` against the file name.
Each rule gives ``max_mode`` (no permission bit beyond it), ``owner`` and ``group`` (allowed
names). ``system_accounts: true`` also allows an owner that has no login shell, and a group
when the file's owner has none (the shell is not one /etc/shells lists): such files are
written by a service, not a person (ComplianceAsCode's file_ownerships_var_log and
file_groupownerships_var_log). A file no rule matches is not judged. An absent directory
passes (nothing to protect); one that could not be walked whole is an error.
"""
from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any, Mapping

from checks.facts import Account, FactKey, Facts, FileTree, TextFiles, WalkEntry
from checks.model import Evidence, Outcome, Status, Verdict

PASSWD = FactKey("passwd")
SHELLS = FactKey("lines", "/etc/shells")
MAX_EVIDENCE = 30

_RULE = {
    "type": "object",
    "properties": {
        "paths": {"type": "array", "items": {"type": "string", "pattern": "^/"}, "minItems": 1},
        "names": {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1},
        "max_mode": {"type": "string", "pattern": "^0?[0-7]{3,4}$"},
        "owner": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        "group": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        "system_accounts": {"type": "boolean"},
    },
    "anyOf": [{"required": ["paths"]}, {"required": ["names"]}],
    "required": ["max_mode", "owner", "group"],
    "additionalProperties": False,
}


def rule_for(rules: list[Mapping[str, Any]], path: str) -> Mapping[str, Any] | None:
    name = path.rsplit("/", 1)[-1]
    for rule in rules:
        if any(fnmatchcase(path, p) for p in rule.get("paths", ())) or \
                any(fnmatchcase(name, n) for n in rule.get("names", ())):
            return rule
    return None


def judge(rule: Mapping[str, Any], entry: WalkEntry, no_shell: set[str]) -> list[str]:
    """What is wrong with one file under its rule (empty when nothing is)."""
    wrong = []
    limit = int(rule["max_mode"], 8)
    if entry.mode & ~limit & 0o7777:
        wrong.append(f"mode {entry.mode & 0o7777:04o} (at most {limit:04o})")
    owner = entry.owner or str(entry.uid)
    system = rule.get("system_accounts", False) and entry.owner in no_shell
    if owner not in rule["owner"] and not system:
        wrong.append(f"owner {owner} (allowed: {', '.join(rule['owner'])}"
                     + (", or an account without a login shell)" if rule.get("system_accounts") else ")"))
    group = entry.group or str(entry.gid)
    if group not in rule["group"] and not system:
        wrong.append(f"group {group} (allowed: {', '.join(rule['group'])}"
                     + (", or any when the owner has no login shell)" if rule.get("system_accounts") else ")"))
    return wrong


def without_login_shell(accounts: tuple[Account, ...], shells: TextFiles) -> set[str]:
    valid = {line for f in shells.files for _, line in f.lines if line.startswith("/")}
    if not shells.files:
        valid = {"/bin/sh", "/bin/csh"}  # glibc getusershell() without /etc/shells
    return {a.name for a in accounts if a.shell not in valid}


class LogFilesCheck:
    name = "log_files"
    schema: Mapping[str, Any] = {
        "type": "object",
        "properties": {
            "type": {"const": "log_files"},
            "path": {"type": "string", "pattern": "^/"},
            "rules": {"type": "array", "items": _RULE, "minItems": 1},
        },
        "required": ["type", "path", "rules"],
        "additionalProperties": False,
    }

    def needs(self, params: Mapping[str, Any]) -> set[FactKey]:
        keys = {FactKey("file_tree", params["path"])}
        if any(r.get("system_accounts") for r in params["rules"]):
            keys |= {PASSWD, SHELLS}
        return keys

    def evaluate(self, params: Mapping[str, Any], facts: Facts) -> Outcome:
        tree = facts.need(FactKey("file_tree", params["path"]))
        assert isinstance(tree, FileTree)
        top = params["path"]
        if not tree.exists:
            return Outcome(Status.PASS, (Evidence("files with allowed mode, owner and group", "absent", top),))
        no_shell: set[str] = set()
        if any(r.get("system_accounts") for r in params["rules"]):
            accounts, shells = facts.need(PASSWD), facts.need(SHELLS)
            assert isinstance(accounts, tuple) and isinstance(shells, TextFiles)
            no_shell = without_login_shell(accounts, shells)
        rules = list(params["rules"])
        bad: list[Evidence] = []
        judged = 0
        for entry in tree.files:
            rule = rule_for(rules, entry.path)
            if rule is None:
                continue
            judged += 1
            wrong = judge(rule, entry, no_shell)
            if wrong:
                expected = f"mode {int(rule['max_mode'], 8):04o} or stricter, owner {'|'.join(rule['owner'])}, " \
                           f"group {'|'.join(rule['group'])}"
                bad.append(Evidence(expected, "; ".join(wrong), entry.path, Verdict.VIOLATION))
        summary = f"{judged} file(s) judged, {len(bad)} not as required"
        if bad:
            shown = bad[:MAX_EVIDENCE]
            more = len(bad) - len(shown)
            return Outcome(Status.FAIL, tuple(shown), summary + (f" ({more} not shown)" if more else ""))
        if tree.unreadable or tree.truncated:
            why = "; ".join(tree.unreadable[:5]) or f"more files than the walk's bound under {top}"
            return Outcome(Status.ERROR, (Evidence("every file judged", "walk incomplete", top, Verdict.INFO),),
                           f"{summary}; not walked whole: {why}")
        return Outcome(Status.PASS, (Evidence("files with allowed mode, owner and group", summary, top, Verdict.OK),))


CHECK = LogFilesCheck()

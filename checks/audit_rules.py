"""audit_rules: the audit rules the system loads watch files, audit syscalls, or lock the configuration.

Judged on the rules ``augenrules`` merges from /etc/audit/rules.d and ``auditctl -R`` then
holds (agent/facts/audit.py):

- ``watch``: each path (or a list of alternatives, ``[/var/run/faillock, /run/faillock]``) is
  watched (``-w`` or ``-F path=``/``dir=`` on the exit list) for at least the ``perms``;
- ``syscalls``: each is audited by an ``always,exit`` rule for every ``arch`` listed (a rule
  without ``-F arch=`` is the native one only, so a 64-bit host needs b64 and b32 rules: 32-bit
  programs enter the kernel through the b32 table), with at least the ``fields`` and
  ``compare`` conditions given (``-C uid!=euid`` and ``-C euid!=uid`` are the same). A 32-bit
  host (its package manager's architecture: i386, armhf...) has the b32 table only;
- ``enabled``: the value of the last ``-e`` (the one augenrules writes last).

Lines the model does not know make a passing verdict ``error``: auditctl stops at the first
line it refuses, and nothing after it is loaded.
"""
from __future__ import annotations

from typing import Any, Mapping

from checks.facts import AuditRule, AuditRules, FactKey, Facts, PackageDB
from checks.model import Evidence, Outcome, Status

FACT = FactKey("audit_rules", "/etc/audit/rules.d")
PACKAGES = FactKey("packages")
WORD_32 = {"i386", "i486", "i586", "i686", "armhf", "armel", "armv7hl", "mipsel", "x32"}


def _compare(expr: str) -> str:
    for op in ("!=", "="):
        left, sep, right = expr.partition(op)
        if sep:
            return f"{min(left, right)}{op}{max(left, right)}"
    return expr


def native(facts: Facts) -> tuple[str, str]:
    """(b64 or b32, why): the word size of the package manager's own architecture."""
    db = facts.get(PACKAGES)
    if isinstance(db, PackageDB):
        preferred = [db.packages.get(n, ()) for n in ("dpkg", "rpm", "libc6", "glibc")]
        for pkg in [p for group in [*preferred, *db.packages.values()] for p in group]:
            if pkg.arch and pkg.arch not in ("all", "noarch"):
                return ("b32" if pkg.arch in WORD_32 else "b64"), f"package {pkg.name}: {pkg.arch}"
    return "b64", "architecture unknown: judged as 64-bit"


def _syscall_rules(rules: AuditRules, name: str, arch: str, fields: list[str], compares: list[str],
                   own: str) -> list[AuditRule]:
    return [r for r in rules.rules
            if r.list == "exit" and r.action == "always" and not r.watch and (r.arch or own) == arch
            and (name in r.syscalls or "all" in r.syscalls) and set(fields) <= set(r.fields)
            and {_compare(c) for c in compares} <= set(r.compares)]


class AuditRulesCheck:
    name = "audit_rules"
    schema: Mapping[str, Any] = {
        "type": "object",
        "properties": {
            "type": {"const": "audit_rules"},
            "watch": {"type": "array", "minItems": 1, "items": {
                "oneOf": [{"type": "string", "pattern": "^/"},
                          {"type": "array", "minItems": 1, "items": {"type": "string", "pattern": "^/"}}]}},
            "perms": {"type": "string", "pattern": "^[rwxa]+$"},
            "syscalls": {"type": "array", "minItems": 1, "items": {"type": "string", "pattern": "^[a-z0-9_]+$"}},
            "arch": {"type": "array", "minItems": 1, "items": {"enum": ["b64", "b32"]}},
            "fields": {"type": "array", "items": {"type": "string"}},
            "compare": {"type": "array", "items": {"type": "string"}},
            "enabled": {"enum": ["0", "1", "2"]},
        },
        "required": ["type"],
        "anyOf": [{"required": ["watch", "perms"]}, {"required": ["syscalls", "arch"]}, {"required": ["enabled"]}],
        "additionalProperties": False,
    }

    def needs(self, params: Mapping[str, Any]) -> set[FactKey]:
        return {FACT, PACKAGES} if "syscalls" in params else {FACT}

    def evaluate(self, params: Mapping[str, Any], facts: Facts) -> Outcome:
        rules = facts.need(FACT)
        assert isinstance(rules, AuditRules)
        where = ", ".join(rules.files) or f"{rules.directory} (no *.rules file)"
        ok = True
        evidence: list[Evidence] = []
        for item in params.get("watch", ()):
            paths = [item] if isinstance(item, str) else list(item)
            perms = params["perms"]
            expected = f"-w {' or '.join(paths)} -p {perms}"
            hit = next((r for r in rules.rules if r.watch in paths and r.list == "exit" and r.action == "always"
                        and set(perms) <= set(r.perms)), None)
            ok &= hit is not None
            evidence.append(Evidence(expected, hit.text if hit else "no such watch", hit.where if hit else where))
        fields, compares = list(params.get("fields", ())), list(params.get("compare", ()))
        conditions = "".join(f" -F {f}" for f in fields) + "".join(f" -C {c}" for c in compares)
        own, why = native(facts) if "syscalls" in params else ("b64", "")
        arches = [a for a in params.get("arch", ()) if own == "b64" or a == "b32"]
        if "syscalls" in params:
            evidence.append(Evidence(f"rules for {', '.join(arches)}", f"{own} host", why))
        for name in params.get("syscalls", ()):
            for arch in arches:
                expected = f"-a always,exit -F arch={arch} -S {name}{conditions}"
                hits = _syscall_rules(rules, name, arch, fields, compares, own)
                ok &= bool(hits)
                evidence.append(Evidence(expected, hits[0].text if hits else "no such rule",
                                         hits[0].where if hits else where))
        if "enabled" in params:
            good = rules.enabled == params["enabled"]
            ok &= good
            evidence.append(Evidence(f"-e {params['enabled']} (the last -e)",
                                     f"-e {rules.enabled}" if rules.enabled else "no -e line",
                                     rules.enabled_where or where))
        if ok and rules.problems:
            return Outcome(Status.ERROR, tuple(evidence),
                           "lines not evaluated (auditctl stops at a line it refuses): " + "; ".join(rules.problems[:5]))
        return Outcome.of(ok, evidence, "; ".join(f"not evaluated: {p}" for p in rules.problems[:5]))


CHECK = AuditRulesCheck()

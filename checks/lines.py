"""lines: lines of text files match, or do not match, regular expressions.

For what a key/value dialect cannot express: PAM stacks, audit rules, sudoers Defaults,
shell profile settings, apt and chrony configuration. ``path`` is one path or glob, or a
list of them; distro differences are data (``/etc/pam.d/common-auth`` on Debian,
``/etc/pam.d/system-auth`` on RHEL). Every file they name that exists is read, comments and
blank lines dropped, and the lines are judged together:

- ``contains``: every regular expression must match some line (``re.search``);
- ``absent``: no line may match any of these;
- ``each: true``: judge ``contains`` per file instead (every PAM stack must have it);
- ``missing``: the status when none of the files exists: ``fail`` (the default),
  ``pass`` (nothing there, so nothing forbidden), or ``not_applicable``.
"""
from __future__ import annotations

import re
from typing import Any, Mapping

from checks.facts import FactKey, Facts, TextFile, TextFiles
from checks.model import Evidence, Outcome, Status, Verdict

MAX_EVIDENCE_LINES = 20


def patterns(params: Mapping[str, Any]) -> list[str]:
    raw = params["path"]
    return [raw] if isinstance(raw, str) else list(raw)


def _files(params: Mapping[str, Any], facts: Facts) -> list[TextFile]:
    out: list[TextFile] = []
    seen: set[str] = set()
    for pattern in patterns(params):
        found = facts.need(FactKey("lines", pattern))
        assert isinstance(found, TextFiles)
        for item in found.files:
            if item.path not in seen:
                seen.add(item.path)
                out.append(item)
    return out


def _contains(regexes: list[str], files: list[TextFile]) -> tuple[bool, list[Evidence]]:
    ok = True
    evidence = []
    for regex in regexes:
        compiled = re.compile(regex)
        hit = next(((f, n, t) for f in files for n, t in f.lines if compiled.search(t)), None)
        if hit is None:
            ok = False
            evidence.append(Evidence(f"a line matching {regex}", "no such line", ", ".join(f.path for f in files),
                                     Verdict.VIOLATION))
        else:
            evidence.append(Evidence(f"a line matching {regex}", hit[2], f"{hit[0].path}:{hit[1]}", Verdict.OK))
    return ok, evidence


class LinesCheck:
    name = "lines"
    schema: Mapping[str, Any] = {
        "type": "object",
        "properties": {
            "type": {"const": "lines"},
            "path": {"type": ["string", "array"], "pattern": "^/", "minItems": 1,
                     "items": {"type": "string", "pattern": "^/"}},
            "contains": {"type": "array", "items": {"type": "string", "format": "regex"}, "minItems": 1},
            "absent": {"type": "array", "items": {"type": "string", "format": "regex"}, "minItems": 1},
            "each": {"type": "boolean"},
            "missing": {"enum": ["fail", "pass", "not_applicable"]},
        },
        "required": ["type", "path"],
        "anyOf": [{"required": ["contains"]}, {"required": ["absent"]}],
        "additionalProperties": False,
    }

    def needs(self, params: Mapping[str, Any]) -> set[FactKey]:
        return {FactKey("lines", p) for p in patterns(params)}

    def evaluate(self, params: Mapping[str, Any], facts: Facts) -> Outcome:
        files = _files(params, facts)
        names = " or ".join(patterns(params))
        if not files:
            status = Status(params.get("missing", "fail"))
            message = "" if status is Status.FAIL else f"none of {names} exists"
            return Outcome(status, (Evidence("file present", "absent", names),), message)
        ok = True
        evidence: list[Evidence] = []
        contains = list(params.get("contains", ()))
        if contains:
            groups = [[f] for f in files] if params.get("each") else [files]
            for group in groups:
                good, found = _contains(contains, group)
                ok &= good
                evidence.extend(found)
        for regex in params.get("absent", ()):
            compiled = re.compile(regex)
            bad = [(f, n, t) for f in files for n, t in f.lines if compiled.search(t)]
            ok &= not bad
            for f, n, t in bad[:MAX_EVIDENCE_LINES]:
                evidence.append(Evidence(f"no line matching {regex}", t, f"{f.path}:{n}", Verdict.VIOLATION))
            if not bad:
                evidence.append(Evidence(f"no line matching {regex}", "none", ", ".join(f.path for f in files),
                                         Verdict.OK))
        return Outcome.of(ok, evidence)


CHECK = LinesCheck()

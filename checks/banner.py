"""banner: a login banner or message of the day says nothing about the operating system.

As CIS's audit reads it (``grep -Eis '(\\v|\\r|\\m|\\s|<ID from os-release>)' FILE``): the getty
escapes ``\\m`` (architecture), ``\\r`` (kernel release), ``\\s`` (system name) and ``\\v``
(kernel version) are forbidden, and so is the os-release ID (``debian``, ``rhel``) in any
case. ``required: true`` also wants at least one non-blank line (a banner must be shown:
/etc/issue, /etc/issue.net); otherwise an absent or empty file passes (/etc/motd).
"""
from __future__ import annotations

import re
from typing import Any, Mapping

from checks.facts import FactKey, Facts, OsRelease, TextFile
from checks.model import Evidence, Outcome, Status, Verdict

OS_RELEASE = FactKey("os_release")
ESCAPES = ("\\m", "\\r", "\\s", "\\v")


def raw(path: str) -> FactKey:
    return FactKey("raw_text", path)


def forbidden(release: OsRelease) -> re.Pattern[str]:
    words = [re.escape(e) for e in ESCAPES]
    if release.id:
        words.append(re.escape(release.id))
    return re.compile("|".join(words), re.IGNORECASE)


class BannerCheck:
    name = "banner"
    schema: Mapping[str, Any] = {
        "type": "object",
        "properties": {
            "type": {"const": "banner"},
            "path": {"type": "string", "pattern": "^/"},
            "required": {"type": "boolean"},
        },
        "required": ["type", "path"],
        "additionalProperties": False,
    }

    def needs(self, params: Mapping[str, Any]) -> set[FactKey]:
        return {OS_RELEASE, raw(params["path"])}

    def evaluate(self, params: Mapping[str, Any], facts: Facts) -> Outcome:
        release = facts.need(OS_RELEASE)
        text = facts.need(raw(params["path"]))
        assert isinstance(release, OsRelease)
        path = params["path"]
        expected = f"no {', '.join(ESCAPES)} and no {release.id!r} (os-release ID), in any case"
        lines = text.lines if isinstance(text, TextFile) else ()
        if not lines:
            actual = "absent" if text is None else "empty"
            if params.get("required"):
                return Outcome(Status.FAIL, (Evidence("a banner text", actual, path, Verdict.VIOLATION),))
            return Outcome(Status.PASS, (Evidence(expected, actual, path, Verdict.OK),))
        pattern = forbidden(release)
        evidence = [Evidence(expected, line, f"{path}:{number}", Verdict.VIOLATION)
                    for number, line in lines if pattern.search(line)]
        if evidence:
            return Outcome(Status.FAIL, tuple(evidence))
        return Outcome(Status.PASS, (Evidence(expected, f"{len(lines)} line(s), none of them", path, Verdict.OK),))


CHECK = BannerCheck()

"""sudoers: the sudo policy as sudo reads it (includes followed; see agent/facts/sudoers.py).

Two kinds of expectation:

- ``option`` with value operators (checks.expect): the global Defaults value in force (the last
  one; ``default`` when none sets it) must satisfy them, and so must every scoped Defaults
  (``Defaults:user``, ``@host``, ``!cmnd``, ``>runas``) still in force for its binding, since
  sudo applies scoped entries over the global ones whatever their order. Flags read ``on`` or
  ``off``; a string option reads its value, ``off`` when negated (``!logfile``).
- ``forbid_tags``: no command of any user specification may run with these tags
  (``NOPASSWD``), the tags carried along a command list included.

``missing_file``: the status when the main file does not exist (default ``fail``).
A policy sudo would refuse (a missing included file, an unreadable one) gives ``error``.
"""
from __future__ import annotations

from typing import Any, Mapping

from checks import expect
from checks.facts import FactKey, Facts
from checks.model import Evidence, Outcome, Status
from checks.sudoersdata import SudoDefault, Sudoers

MAX_EVIDENCE = 20


def shown(value: bool | str) -> str:
    if value is True:
        return "on"
    if value is False:
        return "off"
    return value


class SudoersCheck:
    name = "sudoers"
    schema: Mapping[str, Any] = {
        "type": "object",
        "properties": {
            "type": {"const": "sudoers"},
            "path": {"type": "string", "pattern": "^/", "default": "/etc/sudoers"},
            "option": {"type": "string", "pattern": "^[a-z_]+$"},
            "default": {"type": ["string", "integer"]},
            "forbid_tags": {"type": "array", "items": {"enum": ["NOPASSWD", "NOEXEC", "SETENV", "NOLOG_INPUT",
                                                                "NOLOG_OUTPUT"]}, "minItems": 1},
            "missing_file": {"enum": ["fail", "pass", "not_applicable"]},
            **expect.SCHEMA_PROPERTIES,
        },
        "required": ["type"],
        "anyOf": [{"required": ["option"]}, {"required": ["forbid_tags"]}],
        "additionalProperties": False,
    }

    def needs(self, params: Mapping[str, Any]) -> set[FactKey]:
        return {FactKey("sudoers", params.get("path", "/etc/sudoers"))}

    def evaluate(self, params: Mapping[str, Any], facts: Facts) -> Outcome:
        policy = facts.need(FactKey("sudoers", params.get("path", "/etc/sudoers")))
        assert isinstance(policy, Sudoers)
        if not policy.exists:
            status = Status(params.get("missing_file", "fail"))
            return Outcome(status, (Evidence("sudoers present", "file absent", policy.path),),
                           "" if status is Status.FAIL else f"{policy.path} does not exist")
        if policy.problems:
            return Outcome(Status.ERROR, (Evidence("a policy sudo accepts", "problems", policy.path),),
                           "; ".join(policy.problems))
        ok = True
        evidence: list[Evidence] = []
        if "option" in params:
            good, found = self._option(params, policy)
            ok &= good
            evidence.extend(found)
        for tag in params.get("forbid_tags", ()):
            bad = [c for c in policy.commands if tag in c.tags]
            ok &= not bad
            for cmd in bad[:MAX_EVIDENCE]:
                evidence.append(Evidence(f"no {tag} command", f"{cmd.users} {tag}: {cmd.command}", cmd.where))
            if not bad:
                evidence.append(Evidence(f"no {tag} command", "none", ", ".join(policy.files)))
        return Outcome.of(ok, evidence)

    def _option(self, params: Mapping[str, Any], policy: Sudoers) -> tuple[bool, list[Evidence]]:
        name = params["option"]
        expected = f"{name} {expect.describe(params)}"
        setting = policy.global_value(name)
        if setting is not None:
            actual, where = shown(setting.value), setting.where
        else:
            actual, where = str(params.get("default", "off")), f"{policy.path} (not set; built-in default)"
        ok = expect.satisfied(params, actual)
        evidence = [Evidence(expected, f"{name} {actual}", where)]
        scoped: list[SudoDefault] = policy.scoped(name)
        for entry in scoped:
            good = expect.satisfied(params, shown(entry.value))
            ok &= good
            if not good:
                evidence.append(Evidence(expected, entry.describe(), entry.where))
        return ok, evidence


CHECK = SudoersCheck()

"""pam: PAM stacks as libpam builds them (includes followed, see agent/facts/pam.py).

``path`` lists service files (``/etc/pam.d/common-password`` on Debian, ``system-auth`` and
``password-auth`` on RHEL); every one that exists is judged on its own, expanded, for the
lines of type ``stack`` (all types when not given). One expectation per check:

- ``option`` of ``module`` with value operators (checks.expect): the value each of the
  module's lines ends up with, its arguments over its configuration file
  (checks.pamdata); ``any_line: true`` when one satisfying line is enough (``module`` may
  then list several: pam_pwhistory or pam_unix ``remember``). A stack without the module is
  judged on the module's configuration file alone with ``without_module: config`` (what
  pwscore reads; also when none of the files exists), otherwise it fails.
- ``sequence``: these modules appear in this order (each item a module name, or
  ``{module, args, enforcing}``: with these arguments, and with a control under which its
  refusal fails the stack, e.g. ``requisite`` or ``[default=die]``, not ``optional``).
- ``forbid_args``: no line of ``module`` has an argument starting with one of these (pam_unix
  reads its options by prefix: ``nullok_secure`` is ``nullok``).

``missing``: the status when none of the files exists (default ``fail``). A stack libpam would
refuse (an included file missing, an unknown type) gives ``error``.
"""
from __future__ import annotations

from typing import Any, Mapping

from checks import expect
from checks.facts import FactKey, Facts
from checks.model import Evidence, Outcome, Status
from checks.pamdata import ModuleConfig, ModuleSetting, PamLine, PamStack, faillock_option, pwquality_option
from checks.pamdata import PWQUALITY_FLAGS, PWQUALITY_INT, remember, unix_hash

STEP = {
    "oneOf": [
        {"type": "string", "pattern": "^pam_[a-z0-9_]+$"},
        {"type": "object", "properties": {"module": {"type": "string", "pattern": "^pam_[a-z0-9_]+$"},
                                          "args": {"type": "array", "items": {"type": "string"}},
                                          "enforcing": {"type": "boolean"}},
         "required": ["module"], "additionalProperties": False},
    ]
}
MODULE = {"type": "string", "pattern": "^pam_[a-z0-9_]+$"}


def option_value(line: PamLine | None, config: tuple[ModuleSetting, ...], module: str, name: str,
                 default: Any) -> tuple[str, str]:
    if module == "pam_pwquality":
        return pwquality_option(line, config, name, default if default is not None else "")
    if module == "pam_faillock":
        return faillock_option(line, config, name, int(default) if default is not None else 0)
    if line is not None and name == "hash" and module == "pam_unix":
        return unix_hash(line)
    if line is not None and name == "remember":
        return remember(line)
    return "", f"{module} {name}: not an option fedharden knows how this module reads"


def modules(params: Mapping[str, Any]) -> list[str]:
    raw = params.get("module", [])
    return [raw] if isinstance(raw, str) else list(raw)


def paths(params: Mapping[str, Any]) -> list[str]:
    raw = params["path"]
    return [raw] if isinstance(raw, str) else list(raw)


class PamCheck:
    name = "pam"
    schema: Mapping[str, Any] = {
        "type": "object",
        "properties": {
            "type": {"const": "pam"},
            "path": {"type": ["string", "array"], "pattern": "^/", "minItems": 1,
                     "items": {"type": "string", "pattern": "^/"}},
            "stack": {"enum": ["auth", "account", "password", "session"]},
            "module": {"oneOf": [MODULE, {"type": "array", "items": MODULE, "minItems": 1}]},
            "option": {"enum": sorted(PWQUALITY_INT | PWQUALITY_FLAGS | {"deny", "unlock_time", "fail_interval", "root_unlock_time",
                                                       "hash", "remember"})},
            "default": {"type": ["string", "integer"]},
            "any_line": {"type": "boolean"},
            "without_module": {"enum": ["config", "fail"]},
            "sequence": {"type": "array", "items": STEP, "minItems": 1},
            "forbid_args": {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1},
            "missing": {"enum": ["fail", "pass", "not_applicable"]},
            **expect.SCHEMA_PROPERTIES,
        },
        "required": ["type", "path"],
        "oneOf": [
            {"required": ["option", "module"]},
            {"required": ["sequence"]},
            {"required": ["forbid_args", "module"]},
        ],
        "additionalProperties": False,
    }

    def needs(self, params: Mapping[str, Any]) -> set[FactKey]:
        keys = {FactKey("pam", p) for p in paths(params)}
        if params.get("without_module") == "config":
            keys |= {FactKey("pamconf", m) for m in modules(params)}
        return keys

    def evaluate(self, params: Mapping[str, Any], facts: Facts) -> Outcome:
        stacks = []
        for path in paths(params):
            stack = facts.need(FactKey("pam", path))
            assert isinstance(stack, PamStack)
            if stack.exists:
                stacks.append(stack)
        if not stacks and "option" in params and params.get("without_module") == "config":
            ok, found = self._option(params, PamStack(" or ".join(paths(params)), False), [], facts)
            return Outcome.of(ok, found)
        if not stacks:
            status = Status(params.get("missing", "fail"))
            names = " or ".join(paths(params))
            return Outcome(status, (Evidence("PAM service file present", "absent", names),),
                           "" if status is Status.FAIL else f"none of {names} exists")
        problems = [p for s in stacks for p in s.problems]
        if problems:
            return Outcome(Status.ERROR, (Evidence("a stack libpam accepts", "problems", stacks[0].path),),
                           "; ".join(problems))
        ok = True
        evidence: list[Evidence] = []
        for stack in stacks:
            lines = [line for line in stack.lines if line.type == params.get("stack", line.type)]
            if "option" in params:
                good, found = self._option(params, stack, lines, facts)
            elif "sequence" in params:
                good, found = self._sequence(params, stack, lines)
            else:
                good, found = self._forbid(params, stack, lines)
            ok &= good
            evidence.extend(found)
        return Outcome.of(ok, evidence)

    def _option(self, params: Mapping[str, Any], stack: PamStack, lines: list[PamLine],
                facts: Facts) -> tuple[bool, list[Evidence]]:
        names = modules(params)
        name = params["option"]
        expected = f"{name} {expect.describe(params)}"
        mine = [line for line in lines if line.module in names]
        if not mine:
            if params.get("without_module") != "config":
                return False, [Evidence(f"{' or '.join(names)} in the {params.get('stack', '')} stack".replace("  ", " "),
                                        "not in the stack", stack.path)]
            evidence = []
            ok = True
            for module in names:
                conf = facts.need(FactKey("pamconf", module))
                assert isinstance(conf, ModuleConfig)
                value, where = option_value(None, conf.settings, module, name, params.get("default"))
                good = expect.satisfied(params, value)
                ok &= good
                note = f" ({conf.problem})" if conf.problem else ""
                evidence.append(Evidence(expected, f"{name} {value} ({module} not in {stack.path}){note}", where))
            return ok, evidence
        results = []
        for line in mine:
            value, where = option_value(line, line.config, line.module, name, params.get("default"))
            if line.config_problem:
                where += f"; {line.config_problem}"
            results.append((expect.satisfied(params, value), Evidence(expected, f"{line.module} {name} {value}", where)))
        good = any(r[0] for r in results) if params.get("any_line") else all(r[0] for r in results)
        return good, [r[1] for r in results]

    def _sequence(self, params: Mapping[str, Any], stack: PamStack, lines: list[PamLine]) -> tuple[bool, list[Evidence]]:
        position = 0
        evidence = []
        ok = True
        for step in params["sequence"]:
            step = {"module": step} if isinstance(step, str) else step
            wanted = " ".join([step["module"], *step.get("args", ())])
            expected = f"{wanted} in order" + (" (its refusal fails the stack)" if step.get("enforcing") else "")
            hit = next((i for i in range(position, len(lines)) if lines[i].module == step["module"]
                        and all(a in lines[i].args for a in step.get("args", ()))), None)
            if hit is None:
                earlier = any(line.module == step["module"] for line in lines[:position])
                ok = False
                evidence.append(Evidence(expected, "only before the modules it must follow" if earlier else "absent",
                                         stack.path))
                continue
            line = lines[hit]
            position = hit + 1
            if step.get("enforcing") and not line.enforcing():
                ok = False
                evidence.append(Evidence(expected, f"{line.text()} (its refusal is ignored)", line.where))
            else:
                evidence.append(Evidence(expected, line.text(), line.where))
        return ok, evidence

    def _forbid(self, params: Mapping[str, Any], stack: PamStack, lines: list[PamLine]) -> tuple[bool, list[Evidence]]:
        names = modules(params)
        expected = f"no {' or '.join(params['forbid_args'])} on {' or '.join(names)}"
        bad = [line for line in lines if line.module in names
               and any(arg.startswith(f) for arg in line.args for f in params["forbid_args"])]
        if not bad:
            return True, [Evidence(expected, "none", stack.path)]
        return False, [Evidence(expected, line.text(), line.where) for line in bad]


CHECK = PamCheck()

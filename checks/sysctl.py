"""sysctl: a kernel parameter holds a value now (runtime) and after reboot (persisted).

The persisted value is the one systemd-sysctl would apply: the last assignment across
/etc/sysctl.d, /run/sysctl.d, /usr/local/lib/sysctl.d, /usr/lib/sysctl.d (files of the same
name shadowed in that order, all read in lexical order), with /etc/sysctl.conf last.
On an offline image only the persisted value can be judged. A parameter that is not
persisted falls back to the kernel default, when the directive states it.
"""
from __future__ import annotations

from typing import Any, Mapping

from checks import expect
from checks.facts import FactKey, Facts, Unavailable, persisted_sysctl
from checks.model import Evidence, Outcome, Status, Verdict

PERSISTED = FactKey("sysctl_persisted")


def runtime_key(key: str) -> FactKey:
    """The running value of one parameter: its text, or None when the kernel has no such one."""
    return FactKey("sysctl", key)


class SysctlCheck:
    name = "sysctl"
    schema: Mapping[str, Any] = {
        "type": "object",
        "properties": {
            "type": {"const": "sysctl"},
            "key": {"type": "string", "pattern": r"^[a-z0-9_.\-*/]+$"},
            "default": {"type": ["string", "integer"]},
            **expect.SCHEMA_PROPERTIES,
        },
        "required": ["type", "key"],
        "additionalProperties": False,
    }

    def needs(self, params: Mapping[str, Any]) -> set[FactKey]:
        return {runtime_key(params["key"]), PERSISTED}

    def evaluate(self, params: Mapping[str, Any], facts: Facts) -> Outcome:
        key = params["key"]
        expected = f"{key} {expect.describe(params)}"
        evidence: list[Evidence] = []
        ok = True
        notes: list[str] = []

        value = facts.runtime(runtime_key(key), notes, "runtime value")
        if not isinstance(value, Unavailable):
            if value is None:
                return Outcome(Status.NOT_APPLICABLE, (Evidence(expected, "no such parameter", "/proc/sys"),),
                               f"the running kernel has no parameter {key}")
            assert isinstance(value, str)
            good = expect.satisfied(params, value)
            ok &= good
            evidence.append(Evidence(expected, f"{key} = {value} (running)", "/proc/sys/" + key.replace(".", "/"),
                                     Verdict.of(good)))

        persisted = facts.need(PERSISTED)
        assert isinstance(persisted, tuple)
        setting = persisted_sysctl(persisted, key)
        if setting is not None:
            good = expect.satisfied(params, setting.value)
            ok &= good
            evidence.append(Evidence(expected, f"{key} = {setting.value} (persisted)", f"{setting.file}:{setting.line}",
                                     Verdict.of(good)))
        elif "default" in params:
            good = expect.satisfied(params, str(params["default"]))
            ok &= good
            evidence.append(Evidence(expected, f"{key} not persisted; kernel default {params['default']}", "sysctl.d",
                                     Verdict.of(good)))
        else:
            ok = False
            evidence.append(Evidence(expected, f"{key} not persisted", "sysctl.d", Verdict.VIOLATION))
        return Outcome(Status.PASS if ok else Status.FAIL, tuple(evidence), "; ".join(notes))


CHECK = SysctlCheck()

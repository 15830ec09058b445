"""apt_config: a value of APT's configuration, as apt-config reads it (agent.facts.apt).

``key`` is compared without regard to case; ``default`` is what apt's caller assumes when the
key is unset or empty (apt.systemd.daily: ``APT::Periodic::Enable`` 1, every interval 0). A
configuration apt refuses (a syntax error in any file) fails: every apt program, the daily
update and upgrade job included, stops at it.
"""
from __future__ import annotations

from typing import Any, Mapping

from checks import expect
from checks.facts import AptConfig, FactKey, Facts
from checks.model import Evidence, Outcome, Status

APT = FactKey("apt_config")


class AptConfigCheck:
    name = "apt_config"
    schema: Mapping[str, Any] = {
        "type": "object",
        "properties": {
            "type": {"const": "apt_config"},
            "key": {"type": "string", "pattern": r"^[A-Za-z0-9_\-]+(::[A-Za-z0-9_\-]+)*$"},
            "default": {"type": ["string", "integer"]},
            **expect.SCHEMA_PROPERTIES,
        },
        "required": ["type", "key"],
        "additionalProperties": False,
    }

    def needs(self, params: Mapping[str, Any]) -> set[FactKey]:
        return {APT}

    def evaluate(self, params: Mapping[str, Any], facts: Facts) -> Outcome:
        key = params["key"]
        expected = f"{key} {expect.describe(params)}"
        config = facts.need(APT)
        assert isinstance(config, AptConfig)
        if config.errors:
            return Outcome(Status.FAIL, tuple(Evidence(expected, f"apt refuses its configuration: {e}", "apt.conf.d")
                                              for e in config.errors),
                           "apt stops at a syntax error, so nothing apt runs (daily updates included) starts")
        found = config.find(key)
        if found is not None:
            good = expect.satisfied(params, found.value)
            evidence = Evidence(expected, f'{found.key} "{found.value}"', f"{found.file}:{found.line}")
        elif "default" in params:
            good = expect.satisfied(params, str(params["default"]))
            evidence = Evidence(expected, f"{key} not set; default {params['default']}", "apt.conf.d")
        else:
            good = False
            evidence = Evidence(expected, f"{key} not set", "apt.conf.d")
        return Outcome(Status.PASS if good else Status.FAIL, (evidence,))


CHECK = AptConfigCheck()

"""apparmor: AppArmor is enabled in the running kernel, at least one profile is loaded, and
every loaded profile is in one of the allowed modes (enforce or complain by default).

As ComplianceAsCode's all_apparmor_profiles_in_enforce_complain_mode counts them: the lines
of /sys/kernel/security/apparmor/profiles ending in an allowed mode must be all of them. On an
image nothing is loaded: the result is not applicable, with the reason.
"""
from __future__ import annotations

from typing import Any, Mapping

from checks.facts import AppArmorProfiles, FactKey, Facts
from checks.model import Evidence, Outcome, Status, Verdict

FACT = FactKey("apparmor_profiles")
MAX_EVIDENCE = 30


class AppArmorCheck:
    name = "apparmor"
    schema: Mapping[str, Any] = {
        "type": "object",
        "properties": {
            "type": {"const": "apparmor"},
            "modes": {"type": "array", "items": {"enum": ["enforce", "complain"]}, "minItems": 1},
        },
        "required": ["type"],
        "additionalProperties": False,
    }

    def needs(self, params: Mapping[str, Any]) -> set[FactKey]:
        return {FACT}

    def evaluate(self, params: Mapping[str, Any], facts: Facts) -> Outcome:
        loaded = facts.need(FACT)
        assert isinstance(loaded, AppArmorProfiles)
        modes = list(params.get("modes", ["enforce", "complain"]))
        expected = f"every loaded profile in {' or '.join(modes)} mode"
        if not loaded.enabled:
            return Outcome(Status.FAIL, (Evidence("AppArmor enabled in the running kernel",
                                                  "no /sys/kernel/security/apparmor", loaded.where, Verdict.VIOLATION),))
        if not loaded.profiles:
            return Outcome(Status.FAIL, (Evidence("at least one profile loaded", "none loaded", loaded.where,
                                                  Verdict.VIOLATION),))
        bad = [Evidence(expected, f"{name} ({mode})", loaded.where, Verdict.VIOLATION)
               for name, mode in loaded.profiles if mode not in modes]
        counts = f"{len(loaded.profiles)} loaded, {len(bad)} in another mode"
        if bad:
            return Outcome(Status.FAIL, tuple(bad[:MAX_EVIDENCE]), counts)
        return Outcome(Status.PASS, (Evidence(expected, counts, loaded.where, Verdict.OK),))


CHECK = AppArmorCheck()

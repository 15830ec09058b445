"""service: a systemd unit is enabled, not enabled, masked or unmasked; optionally active or not.

``unmasked``: the unit exists and is not masked, so something may start it (the service a
timer runs: a masked one makes the enabled timer do nothing).

``enabled_or_static``: started at boot either way, for units that have no [Install] section
and are pulled in by another unit (systemd-journald.service is static: ``systemctl
is-enabled`` says "static" and it cannot be disabled, only masked). With a list of names,
``enabled`` and ``enabled_or_static`` want any of them, the other states all of them.

Unit-file state is read from the unit directories and their .wants/.requires links, so it
works on offline images; the active state exists only on a running system.
"""
from __future__ import annotations

from typing import Any, Mapping

from checks.facts import FactKey, Facts, UnitFile
from checks.model import Evidence, Outcome, Status, Verdict

STATES = ("enabled", "enabled_or_static", "not_enabled", "masked", "unmasked")
ANY = ("enabled", "enabled_or_static")  # states one unit of a list satisfies


def unit_names(params: Mapping[str, Any]) -> list[str]:
    raw = params["name"]
    names = [raw] if isinstance(raw, str) else list(raw)
    return [n if "." in n else f"{n}.service" for n in names]


def unit_in_state(found: str, wanted: str) -> bool:
    """Whether one unit file state is the wanted one (enabled, not_enabled, masked/absent, or
    present and not masked)."""
    if wanted == "enabled":
        return found == "enabled"
    if wanted == "enabled_or_static":
        return found in ("enabled", "static")
    if wanted == "not_enabled":
        return found in ("disabled", "masked", "not-found", "static")
    if wanted == "unmasked":
        return found in ("enabled", "disabled", "static")
    return found in ("masked", "not-found")


class ServiceCheck:
    name = "service"
    schema: Mapping[str, Any] = {
        "type": "object",
        "properties": {
            "type": {"const": "service"},
            "name": {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}, "minItems": 1}]},
            "state": {"enum": list(STATES)},
            "active": {"type": "boolean"},
        },
        "required": ["type", "name"],
        "anyOf": [{"required": ["state"]}, {"required": ["active"]}],
        "additionalProperties": False,
    }

    def needs(self, params: Mapping[str, Any]) -> set[FactKey]:
        return {FactKey("unit", n) for n in unit_names(params)}

    def evaluate(self, params: Mapping[str, Any], facts: Facts) -> Outcome:
        units = [facts.need(FactKey("unit", n)) for n in unit_names(params)]
        evidence: list[Evidence] = []
        ok = True
        state = params.get("state")
        if state:
            shown = [u for u in units if isinstance(u, UnitFile)]
            if state in ANY and any(unit_in_state(u.state, state) for u in shown):
                shown = [u for u in shown if unit_in_state(u.state, state)]  # the alternatives that satisfy it
            for unit in shown:
                evidence.append(Evidence(state.replace("_", " "), unit.state, unit.path or unit.name,
                                         Verdict.of(unit_in_state(unit.state, state))))
            states = [u.state for u in units if isinstance(u, UnitFile)]
            if state in ANY:
                ok &= any(unit_in_state(s, state) for s in states)
            else:
                ok &= all(unit_in_state(s, state) for s in states)
        message = ""
        if "active" in params:
            want = "active" if params["active"] else "inactive"
            known = [u for u in units if isinstance(u, UnitFile) and u.active]
            if not known:
                if not state:
                    return Outcome(Status.NOT_APPLICABLE, tuple(evidence), "unit activity exists only on a running system")
                message = "active state not judged: unit activity exists only on a running system"
            for unit in known:
                evidence.append(Evidence(want, unit.active, f"systemctl show {unit.name}",
                                         Verdict.of((unit.active == "active") == params["active"])))
            actives = [u.active == "active" for u in known]
            if known:
                ok &= any(actives) if params["active"] else not any(actives)
        return Outcome(Status.PASS if ok else Status.FAIL, tuple(evidence), message)


CHECK = ServiceCheck()

"""wireless: no wireless interface of a running host is up (``/sys/class/net/*/wireless``, its
``operstate``). An image has no interfaces: not applicable, with the reason."""
from __future__ import annotations

from typing import Any, Mapping

from checks.facts import FactKey, Facts
from checks.model import Evidence, Outcome, Status, Verdict

WIRELESS = FactKey("wireless")


class WirelessCheck:
    name = "wireless"
    schema: Mapping[str, Any] = {
        "type": "object",
        "properties": {"type": {"const": "wireless"}, "state": {"const": "down"}},
        "required": ["type", "state"],
        "additionalProperties": False,
    }

    def needs(self, params: Mapping[str, Any]) -> set[FactKey]:
        return {WIRELESS}

    def evaluate(self, params: Mapping[str, Any], facts: Facts) -> Outcome:
        interfaces = facts.need(WIRELESS)
        assert isinstance(interfaces, tuple)
        if not interfaces:
            return Outcome(Status.PASS, (Evidence("no wireless interface up", "no wireless interface",
                                                  "/sys/class/net/*/wireless"),))
        evidence = [Evidence(f"{name} down", f"{name} operstate {state}", f"/sys/class/net/{name}/operstate",
                             Verdict.of(state == "down")) for name, state in interfaces]
        return Outcome.of(all(state == "down" for _, state in interfaces), evidence)


CHECK = WirelessCheck()

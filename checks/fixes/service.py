"""service: systemd units masked, disabled or enabled (systemctl, with --root on an image), stopped
or started on a live host. The state is read from the unit links under /etc/systemd/system."""
from __future__ import annotations

from typing import Any, Mapping

from checks.fixes.model import NAME, Action, Command, Files, schema

ETC = "/etc/systemd/system/"


def masked(files: Files, unit: str) -> bool:
    state = files.get(ETC + unit)
    return state.kind == "symlink" and state.link == "/dev/null"


def enabled(files: Files, unit: str) -> bool:
    return bool(files.matching(f"{ETC}*.wants/{unit}") or files.matching(f"{ETC}*.requires/{unit}"))


class Service:
    name = "service"
    schema: Mapping[str, Any] = schema("service", {"units": {"type": "array", "minItems": 1, "items": NAME},
                                "state": {"enum": ["masked", "disabled", "enabled"]}}, ("units", "state"))
    disruptive = False

    def reads(self, params: Mapping[str, Any]) -> tuple[str, ...]:
        return tuple(p for u in params["units"] for p in (ETC + u, f"{ETC}*.wants/{u}", f"{ETC}*.requires/{u}"))

    def plan(self, params: Mapping[str, Any], files: Files) -> tuple[Action, ...]:
        state = params["state"]
        actions: list[Action] = []
        for unit in params["units"]:
            if state == "masked" and not masked(files, unit):
                actions += [Command(("systemctl", "mask", unit), "it cannot be started", image="root_option"),
                            Command(("systemctl", "stop", unit), "stop it now", best_effort=True)]
            elif state == "disabled" and enabled(files, unit) and not masked(files, unit):
                actions += [Command(("systemctl", "disable", unit), "it does not start at boot", image="root_option"),
                            Command(("systemctl", "stop", unit), "stop it now", best_effort=True)]
            elif state == "enabled" and (masked(files, unit) or not enabled(files, unit)):
                if masked(files, unit):
                    actions.append(Command(("systemctl", "unmask", unit), "it may start", image="root_option"))
                actions += [Command(("systemctl", "enable", unit), "it starts at boot", image="root_option"),
                            Command(("systemctl", "start", unit), "start it now", best_effort=True)]
        return tuple(actions)

    def describe(self, params: Mapping[str, Any]) -> str:
        verb = {"masked": "mask", "disabled": "disable", "enabled": "enable"}[params["state"]]
        now = "--now " if params["state"] != "masked" else ""
        extra = " and stop" if params["state"] == "masked" else ""
        return f"{verb.capitalize()}{extra} {', '.join(params['units'])}: `systemctl {verb} {now}{' '.join(params['units'])}`."


FIX = Service()

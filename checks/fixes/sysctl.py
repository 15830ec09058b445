"""sysctl: kernel parameters persisted in a sysctl.d file that sorts last, and set now on a live host."""
from __future__ import annotations

from typing import Any, Mapping

from checks.fixes import text
from checks.fixes.model import SETTINGS, Action, Command, Files, WriteFile, render_value, schema

DROPIN = "/etc/sysctl.d/99-zz-fedharden.conf"


class Sysctl:
    name = "sysctl"
    schema: Mapping[str, Any] = schema("sysctl", {"set": {**SETTINGS, "propertyNames": {"pattern": "^[a-z0-9_.*/-]+$"}}}, ("set",))
    disruptive = False

    def reads(self, params: Mapping[str, Any]) -> tuple[str, ...]:
        return (DROPIN,)

    def plan(self, params: Mapping[str, Any], files: Files) -> tuple[Action, ...]:
        settings = {k: render_value(v) for k, v in params["set"].items()}
        old = files.text(DROPIN)
        new = text.set_keys(old, settings, "spaced_equals", header=text.HEADER)
        if new == old:
            return ()
        return (WriteFile(DROPIN, new),
                *(Command(("sysctl", "-w", f"{k}={v}"), "the running value", best_effort=True) for k, v in settings.items()))

    def describe(self, params: Mapping[str, Any]) -> str:
        lines = "\n".join(f"  {k} = {render_value(v)}" for k, v in params["set"].items())
        return f"Persist in {DROPIN} (read last, so it wins):\n{lines}\nand set the running value with `sysctl -w`."


FIX = Sysctl()

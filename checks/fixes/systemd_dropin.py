"""systemd_dropin: settings of a systemd daemon's configuration (journald.conf, ...) or a unit, in a drop-in."""
from __future__ import annotations

from typing import Any, Mapping

from checks.fixes import text
from checks.fixes.model import NAME, SETTINGS, Action, Command, Files, WriteFile, render_value, schema

# The daemon that reads each configuration, restarted on a live host where that is harmless
# (logind is not: restarting it ends sessions, so its settings take effect at the next boot).
RESTART = {"journald": "systemd-journald.service", "timesyncd": "systemd-timesyncd.service",
           "resolved": "systemd-resolved.service", "networkd": "systemd-networkd.service"}


def dropin(params: Mapping[str, Any]) -> str:
    if "unit" in params:
        return f"/etc/systemd/system/{params['unit']}.d/60-fedharden.conf"
    return f"/etc/systemd/{params['config']}.conf.d/60-fedharden.conf"


class SystemdDropin:
    name = "systemd_dropin"
    schema: Mapping[str, Any] = {**schema("systemd_dropin", {"config": {"type": "string", "pattern": "^[a-z][a-z0-9-]*$"},
                                          "unit": NAME, "section": {"type": "string", "pattern": "^[A-Za-z]+$"},
                                          "set": SETTINGS}, ("section", "set")),
              "oneOf": [{"required": ["config"]}, {"required": ["unit"]}]}
    disruptive = False

    def reads(self, params: Mapping[str, Any]) -> tuple[str, ...]:
        return (dropin(params),)

    def plan(self, params: Mapping[str, Any], files: Files) -> tuple[Action, ...]:
        path = dropin(params)
        old = files.text(path)
        new = text.ini_set(old, params["section"], {k: render_value(v) for k, v in params["set"].items()},
                           header=text.HEADER)
        if new == old:
            return ()
        actions: list[Action] = [WriteFile(path, new)]
        if "unit" in params:
            actions.append(Command(("systemctl", "daemon-reload"), "systemd reads the unit's drop-in",
                                   best_effort=True))
        elif params["config"] in RESTART:
            actions.append(Command(("systemctl", "restart", RESTART[params["config"]]), "the daemon reads its settings",
                                   best_effort=True))
        return tuple(actions)

    def describe(self, params: Mapping[str, Any]) -> str:
        lines = "\n".join(f"  {k}={render_value(v)}" for k, v in params["set"].items())
        return f"Set in {dropin(params)}, section [{params['section']}]:\n{lines}"


FIX = SystemdDropin()

"""sshd_option: settings in a drop-in sshd reads before the vendor file (the first value wins)."""
from __future__ import annotations

import re
from typing import Any, Mapping

from checks.fixes import text
from checks.fixes.model import SETTINGS, Action, Command, Files, WriteFile, render_value, schema

DROPIN = "/etc/ssh/sshd_config.d/00-fedharden.conf"
MAIN = "/etc/ssh/sshd_config"
INCLUDE = "Include /etc/ssh/sshd_config.d/*.conf"
# Settings that decide who may log in at all: a wrong value locks the operator out.
LOCKOUT = {"permitrootlogin", "passwordauthentication", "pubkeyauthentication", "authenticationmethods",
           "allowusers", "allowgroups", "denyusers", "denygroups", "usepam", "kbdinteractiveauthentication",
           "challengeresponseauthentication", "listenaddress", "port"}
_INCLUDES_DROPINS = re.compile(r"^\s*include\s+/etc/ssh/sshd_config\.d/\*(\.conf)?\s*$", re.IGNORECASE | re.MULTILINE)


class SshdOption:
    name = "sshd_option"
    schema: Mapping[str, Any] = schema("sshd_option", {"set": SETTINGS}, ("set",))
    disruptive = False

    def lockout(self, params: Mapping[str, Any]) -> bool:
        return any(k.casefold() in LOCKOUT for k in params["set"])

    def reads(self, params: Mapping[str, Any]) -> tuple[str, ...]:
        return (MAIN, DROPIN)

    def plan(self, params: Mapping[str, Any], files: Files) -> tuple[Action, ...]:
        settings = {k: render_value(v) for k, v in params["set"].items()}
        actions: list[Action] = []
        main = files.get(MAIN)
        if main.content is not None and not _INCLUDES_DROPINS.search(main.content):
            actions.append(WriteFile(MAIN, f"{INCLUDE}\n{main.content}", main.mode or 0o644,
                                     main.owner or "root", main.group or "root"))
        old = files.text(DROPIN)
        new = text.set_keys(old, settings, "space", fold=True, header=text.HEADER)
        if new != old:
            actions.append(WriteFile(DROPIN, new, 0o600))
        if actions:
            actions.append(Command(("sshd", "-t"), "check the configuration sshd will read"))
            actions.append(Command(("systemctl", "reload", "ssh"), "sshd reads its configuration again",
                                   best_effort=True))
        return tuple(actions)

    def describe(self, params: Mapping[str, Any]) -> str:
        lines = "\n".join(f"  {k} {render_value(v)}" for k, v in params["set"].items())
        return (f"Set in {DROPIN} (sshd reads it before the rest of {MAIN}, and the first value wins):\n"
                f"{lines}\nthen check with `sshd -t` and reload the ssh service.")


FIX = SshdOption()

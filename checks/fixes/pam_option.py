"""pam_option: a PAM module in the stacks with its options, the Debian way: options in the
module's own configuration file where it reads one (faillock.conf, pwquality.conf), the module
put in the stacks by a pam-auth-update profile (/usr/share/pam-configs), never by editing
common-*; ``pam-auth-update --package`` (inside the image on ``--root``) rewrites the stacks.
Disruptive by nature: a wrong PAM stack locks everyone out."""
from __future__ import annotations

from typing import Any, Mapping

from checks.fixes import text
from checks.fixes.model import Action, Command, Files, FixError, WriteFile, render_value, schema

CONFIGS = "/usr/share/pam-configs/"
# Modules that read their options from a file of their own (key = value, a bare word for a flag).
CONF_FILES = {"pam_faillock": "/etc/security/faillock.conf", "pam_pwquality": "/etc/security/pwquality.conf"}
# Profiles fedharden writes for modules Debian ships without one (as CIS's Debian benchmark
# lays them out); pam_pwquality's comes with libpam-pwquality, pam_unix's with libpam-runtime.
PROFILES = {
    "pam_faillock": {
        "fedharden-faillock": ("Name: Lock accounts after repeated failed logins (fedharden)\nDefault: yes\n"
                               "Priority: 0\nAuth-Type: Primary\nAuth:\n\t[default=die] pam_faillock.so authfail\n"
                               "Account-Type: Additional\nAccount:\n\trequired pam_faillock.so\n"),
        "fedharden-faillock-notify": ("Name: Refuse locked accounts before asking a password (fedharden)\n"
                                      "Default: yes\nPriority: 1024\nAuth-Type: Primary\nAuth:\n"
                                      "\trequisite pam_faillock.so preauth\n"),
    },
    "pam_pwhistory": {
        "fedharden-pwhistory": ("Name: Refuse reused passwords (fedharden)\nDefault: yes\nPriority: 1024\n"
                                "Password-Type: Primary\nPassword:\n"
                                "\trequisite pam_pwhistory.so use_authtok\n"),
    },
}
STACKS = tuple(f"/etc/pam.d/common-{s}" for s in ("auth", "account", "password", "session",
                                                  "session-noninteractive")) + tuple(
    f"/var/lib/pam/{s}" for s in ("seen", "auth", "account", "password", "session", "session-noninteractive"))
STOCK = {"pam_pwquality": "pwquality", "pam_unix": "unix"}
OPTION_VALUE = {"type": ["string", "integer", "boolean"]}


def _conf_line(name: str, value: Any) -> str:
    return name if value is True else f"{name} = {render_value(value)}"


def _edit_profile(profile: str, module: str, add: Mapping[str, Any], remove: list[str]) -> str:
    """A pam-auth-update profile with the module's lines given/stripped of arguments."""
    out = []
    for line in profile.splitlines():
        words = line.split()
        hit = next((i for i, w in enumerate(words) if w == f"{module}.so"), None)
        if hit is not None and line[:1].isspace():
            args = [w for w in words[hit + 1:] if w.split("=", 1)[0] not in remove and w.split("=", 1)[0] not in add]
            args += [k if v is True else f"{k}={render_value(v)}" for k, v in add.items() if v is not False]
            line = "\t" + " ".join(words[:hit + 1] + args)
        out.append(line)
    return "\n".join(out) + "\n"


class PamOption:
    name = "pam_option"
    schema: Mapping[str, Any] = {**schema("pam_option", {"module": {"type": "string", "pattern": "^pam_[a-z0-9_]+$"},
                                      "options": {"type": "object", "additionalProperties": OPTION_VALUE},
                                      "remove": {"type": "array", "items": {"type": "string",
                                                                            "pattern": "^[a-z0-9_]+$"}}},
                       ("module",)),
              "anyOf": [{"required": ["options"]}, {"required": ["remove"]}]}
    disruptive = True

    def reads(self, params: Mapping[str, Any]) -> tuple[str, ...]:
        module = params["module"]
        paths = [CONFIGS + p for p in PROFILES.get(module, {})]
        if module in STOCK:
            paths.append(CONFIGS + STOCK[module])
        if module in CONF_FILES:
            paths.append(CONF_FILES[module])
        return tuple(paths)

    def plan(self, params: Mapping[str, Any], files: Files) -> tuple[Action, ...]:
        module, options = params["module"], dict(params.get("options", {}))
        remove = list(params.get("remove", ()))
        actions: list[Action] = []
        if module in CONF_FILES and options:
            path = CONF_FILES[module]
            old = files.text(path)
            lines = [line for line in (old or text.HEADER).splitlines()
                     if text.key_of(line) not in options and text.key_of(line) not in remove]
            lines += [_conf_line(k, v) for k, v in options.items() if v is not False]
            new = "\n".join(lines) + "\n"
            if new != old:
                actions.append(WriteFile(path, new))
            options = {}
        profiles = dict(PROFILES.get(module, {}))
        if module in STOCK:
            stock = files.text(CONFIGS + STOCK[module])
            # Absent until its package is installed (packages go first): then only enabled.
            if stock is not None:
                profiles[STOCK[module]] = stock
        elif not profiles:
            raise FixError(f"fedharden knows no pam-auth-update profile for {module}")
        for name, profile in profiles.items():
            new = _edit_profile(profile, module, options, remove) if options or remove else profile
            if name not in STOCK.values() or new != profile:
                if files.text(CONFIGS + name) == new:
                    continue
                actions.append(WriteFile(CONFIGS + name, new))
        if actions:
            enable = [*PROFILES.get(module, {}), *([STOCK[module]] if module in STOCK else [])]
            actions.append(Command(("pam-auth-update", "--package", "--enable", *enable),
                                   "rewrite the common-* stacks from the profiles", image="chroot", writes=STACKS))
        return tuple(actions)

    def describe(self, params: Mapping[str, Any]) -> str:
        module = params["module"]
        parts = []
        if params.get("options"):
            opts = ", ".join(_conf_line(k, v) for k, v in params["options"].items())
            where = CONF_FILES.get(module, f"its line of the pam-auth-update profile in {CONFIGS}")
            parts.append(f"Set {module}'s options in {where}: {opts}.")
        if params.get("remove"):
            parts.append(f"Remove the arguments {', '.join(params['remove'])} from {module}'s lines "
                         f"of its profile in {CONFIGS}.")
        parts.append(f"Put {module} in the stacks with a pam-auth-update profile and run `pam-auth-update --package` "
                     "(never edit /etc/pam.d/common-* by hand). Keep a root shell open while testing a login.")
        return "\n".join(parts)


FIX = PamOption()

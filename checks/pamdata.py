"""PAM stacks as libpam builds them, and the options their modules end up with.

Fact values for the ``pam`` check: the gatherer (agent/facts/pam.py) expands a service file
(``@include``, ``TYPE include``, ``TYPE substack``) into ``PamLine``s and attaches to the lines
of modules that read a configuration file the settings of that file; the functions here say
what a module makes of its configuration file and its arguments together, as its source does:

- pam_pwquality (libpwquality 1.4): pwquality.conf.d/*.conf, then pwquality.conf, then the
  module arguments, each overriding what came before (pam_pwquality(8), pwquality.conf(5));
  ``minlen`` is never below 6.
- pam_faillock (Linux-PAM 1.5): faillock.conf (or ``conf=``), then the arguments; ``deny`` is
  read as an unsigned short, ``unlock_time`` as seconds or ``never`` (0), bad values ignored.
- pam_unix: the hash method is the last hash argument (md5, bigcrypt, sha256, sha512,
  blowfish, gost_yescrypt, yescrypt), else ENCRYPT_METHOD from login.defs (the first one, as
  pam_modutil_search_key reads it), else DES; ``remember=N`` (at most 400).
- pam_pwhistory: ``remember=N`` (0..400), 10 when not given.
"""
from __future__ import annotations

import re
from dataclasses import field
from typing import Mapping
from checks.record import record

ACTIONS = ("ignore", "ok", "done", "bad", "die", "reset")
# What the four plain control words mean, as bracket actions (pam.conf(5)).
KEYWORDS: Mapping[str, Mapping[str, str]] = {
    "required": {"success": "ok", "new_authtok_reqd": "ok", "ignore": "ignore", "default": "bad"},
    "requisite": {"success": "ok", "new_authtok_reqd": "ok", "ignore": "ignore", "default": "die"},
    "optional": {"success": "ok", "new_authtok_reqd": "ok", "default": "ignore"},
    "sufficient": {"success": "done", "new_authtok_reqd": "done", "default": "ignore"},
}
# libpwquality's settings (settings.c s_map): integers, and the rest (strings and flags).
PWQUALITY_INT = {"difok", "minlen", "dcredit", "ucredit", "lcredit", "ocredit", "minclass", "maxrepeat",
                 "maxclassrepeat", "maxsequence", "gecoscheck", "dictcheck", "usercheck", "usersubstr",
                 "enforcing", "retry"}
PWQUALITY_OTHER = {"badwords", "dictpath", "enforce_for_root", "local_users_only"}
# Flags: a line or an argument naming one turns it on, whatever follows; nothing turns it off.
PWQUALITY_FLAGS = {"enforce_for_root", "local_users_only"}
UNIX_HASHES = ("md5", "bigcrypt", "sha256", "sha512", "blowfish", "gost_yescrypt", "yescrypt")
# The return code each module gives when it refuses (what its control must treat as failure).
REFUSAL = {"pam_pwquality": "authtok_err", "pam_pwhistory": "authtok_err", "pam_faillock": "auth_err", "pam_wheel": "perm_denied",
           "pam_unix": "auth_err"}


@record
class ModuleSetting:
    """One setting of a PAM module's own configuration file."""

    key: str
    value: str
    file: str
    line: int


@record
class PamLine:
    """One rule of a PAM stack, includes resolved."""

    type: str  # auth, account, password, session
    control: str  # as written: "required", "[success=1 default=ignore]"
    module: str  # the module's name without directory and extension: pam_unix
    args: tuple[str, ...]
    file: str
    line: int
    actions: Mapping[str, str] = field(default_factory=dict)  # return code (or "default") -> action
    config: tuple[ModuleSetting, ...] = ()  # settings of the module's own configuration file(s)
    config_problem: str = ""  # e.g. a line libpwquality stopped at

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"

    def action(self, code: str) -> str:
        """What libpam does when the module returns ``code`` (unlisted codes take ``default``,
        and a bracket without ``default`` treats them as ``bad``)."""
        return self.actions.get(code, self.actions.get("default", "bad"))

    def enforcing(self) -> bool:
        """Whether the module refusing makes the stack fail."""
        return self.action(REFUSAL.get(self.module, "auth_err")) in ("bad", "die")

    def text(self) -> str:
        return " ".join((self.type, self.control, self.module + ".so", *self.args))


@record
class PamStack:
    """A PAM service's stack, as libpam reads it."""

    path: str  # the service file
    exists: bool
    lines: tuple[PamLine, ...] = ()
    problems: tuple[str, ...] = ()  # missing included files and the like


def parse_control(text: str) -> dict[str, str]:
    """A control field as libpam reads it (_pam_parse_control); a malformed bracket makes
    every return code ``bad``."""
    word = text.lower()
    if word in KEYWORDS:
        return dict(KEYWORDS[word])
    if not text.startswith("["):
        return {"default": "bad"}
    out: dict[str, str] = {}
    for item in re.sub(r"\s*=\s*", "=", text.strip("[]")).split():  # libpam allows blanks around '='
        code, sep, action = item.partition("=")
        if not sep or not (action in ACTIONS or (action.isdigit() and int(action) > 0)):
            return {"default": "bad"}
        out[code] = action
    return out


def _last_arg(args: tuple[str, ...], name: str, icase: bool = False) -> str | None:
    found = None
    for arg in args:
        key, sep, value = arg.partition("=")
        if sep and (key.lower() == name.lower() if icase else key == name):
            found = value
    return found


def _strtol_prefix(text: str) -> int | None:
    """strtol(text, NULL, 10): leading blanks, a sign, digits; None when there are none."""
    found = re.match(r"\s*([+-]?\d+)", text)
    return int(found.group(1)) if found else None


def pwquality_option(line: PamLine | None, config: tuple[ModuleSetting, ...], name: str,
                     default: int | str) -> tuple[str, str]:
    """(value, where) of an integer pwquality setting for one pam_pwquality line (None: the
    configuration alone, as pwscore reads it). A flag reads ``yes`` or ``no``."""
    if name in PWQUALITY_FLAGS:
        for arg in reversed(line.args if line else ()):
            if arg.partition("=")[0].lower() == name:
                return "yes", f"{line.where} (module argument)"  # type: ignore[union-attr]
        for setting in reversed(config):
            if setting.key == name:
                return "yes", f"{setting.file}:{setting.line}"
        return "no", "not set (off)"
    value, where = str(default), "built-in default"
    for setting in config:
        if setting.key == name:
            value, where = setting.value, f"{setting.file}:{setting.line}"
    for arg in line.args if line else ():
        key, sep, raw = arg.partition("=")
        if key.lower() == name and re.fullmatch(r"[+-]?\d+", raw):
            value, where = raw, f"{line.where} (module argument)"  # type: ignore[union-attr]
    if name == "minlen" and re.fullmatch(r"[+-]?\d+", value) and int(value) < 6:
        value = "6"  # libpwquality's floor
    return str(int(value)) if re.fullmatch(r"[+-]?\d+", value) else value, where


def faillock_option(line: PamLine | None, config: tuple[ModuleSetting, ...], name: str,
                    default: int) -> tuple[str, str]:
    value, where = default, "built-in default"
    sources = [(s.key, s.value, f"{s.file}:{s.line}") for s in config]
    if line is not None:
        sources += [(a.partition("=")[0], a.partition("=")[2], f"{line.where} (module argument)")
                    for a in line.args if not a.startswith("conf=")]
    for key, raw, origin in sources:
        if key != name:
            continue
        if name == "deny":
            number = _strtol_prefix(raw)
            if number is not None:
                value, where = number % 65536, origin  # sscanf %hu
        elif raw == "never" and name in ("unlock_time", "root_unlock_time"):
            value, where = 0, origin
        else:
            number = _strtol_prefix(raw)
            if number is not None and 0 <= number % 2**32 <= 604800:  # sscanf %u, MAX_TIME_INTERVAL
                value, where = number % 2**32, origin
    return str(value), where


def unix_hash(line: PamLine) -> tuple[str, str]:
    """The method pam_unix hashes new passwords with, and where that comes from."""
    chosen = None
    for arg in line.args:
        for token in ("md5", "bigcrypt", "sha256", "sha512", "blowfish", "gost_yescrypt", "yescrypt"):
            if arg.startswith(token):
                chosen = token
    if chosen:
        return chosen, f"{line.where} (module argument)"
    for setting in line.config:  # login.defs, first ENCRYPT_METHOD wins for pam_unix
        if setting.key.lower() == "encrypt_method":
            for token in UNIX_HASHES:
                if setting.value.lower().startswith(token):
                    return token, f"{setting.file}:{setting.line} (ENCRYPT_METHOD, no hash argument)"
            break
    return "des", f"{line.where} (no hash argument; pam_unix falls back to DES)"


def remember(line: PamLine) -> tuple[str, str]:
    """How many old passwords pam_unix or pam_pwhistory keeps (0: none)."""
    raw = _last_arg(line.args, "remember", icase=line.module == "pam_pwhistory")
    if raw is None:
        return ("10", "built-in default of pam_pwhistory") if line.module == "pam_pwhistory" else ("0", "not set")
    number = _strtol_prefix(raw) or 0
    return str(max(0, min(400, number))), f"{line.where} (module argument)"


@record
class ModuleConfig:
    """A module's own configuration file(s) as the module reads them, without a PAM line."""

    module: str
    files: tuple[str, ...]
    settings: tuple[ModuleSetting, ...] = ()
    problem: str = ""

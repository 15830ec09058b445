"""accounts: properties of the local account databases (/etc/passwd, /etc/shadow).

Rules:
- ``uid0_only_root``: no account but root has UID 0.
- ``no_empty_password``: no account has an empty password field (login without password).
- ``unique_uids``: no two accounts share a UID.
- ``password_max_days`` / ``password_min_days`` / ``password_warn_days`` /
  ``password_inactive_days``: aging fields of every account that has a usable password,
  with ``at_most`` / ``at_least``.
- ``system_accounts_nologin``: accounts below UID 1000 (but root and the sync/shutdown/halt
  special accounts) have a non-login shell.
"""
from __future__ import annotations

from typing import Any, Mapping

from checks.facts import Account, FactKey, Facts, ShadowEntry
from checks.model import Evidence, Outcome

PASSWD = FactKey("passwd")
SHADOW = FactKey("shadow")

AGING = {
    "password_max_days": ("max_days", "PASS_MAX_DAYS"),
    "password_min_days": ("min_days", "PASS_MIN_DAYS"),
    "password_warn_days": ("warn_days", "PASS_WARN_AGE"),
    "password_inactive_days": ("inactive", "INACTIVE"),
}
RULES = ("uid0_only_root", "no_empty_password", "unique_uids", "system_accounts_nologin", *AGING)
NOLOGIN = ("/usr/sbin/nologin", "/sbin/nologin", "/bin/false", "/usr/bin/false")
SPECIAL = {"root", "sync", "shutdown", "halt"}


def usable(entry: ShadowEntry) -> bool:
    """Whether the account can log in with a password (not locked, not disabled)."""
    return bool(entry.hash) and entry.hash[0] not in "!*"


class AccountsCheck:
    name = "accounts"
    schema: Mapping[str, Any] = {
        "type": "object",
        "properties": {
            "type": {"const": "accounts"},
            "rule": {"enum": list(RULES)},
            "at_most": {"type": "integer"},
            "at_least": {"type": "integer"},
        },
        "required": ["type", "rule"],
        "additionalProperties": False,
    }

    def needs(self, params: Mapping[str, Any]) -> set[FactKey]:
        rule = params["rule"]
        if rule in ("uid0_only_root", "unique_uids", "system_accounts_nologin"):
            return {PASSWD}
        return {SHADOW}

    def evaluate(self, params: Mapping[str, Any], facts: Facts) -> Outcome:
        rule = params["rule"]
        if rule in ("uid0_only_root", "unique_uids", "system_accounts_nologin"):
            accounts = facts.need(PASSWD)
            assert isinstance(accounts, tuple)
            return self._passwd(rule, accounts)
        shadow = facts.need(SHADOW)
        assert isinstance(shadow, tuple)
        if rule == "no_empty_password":
            bad = [e for e in shadow if e.hash == ""]
            ev = [Evidence("password set or locked", "empty password", f"/etc/shadow:{e.line} ({e.name})") for e in bad]
            return Outcome.of(not bad, ev or [Evidence("no empty passwords", "none empty", "/etc/shadow")])
        field, label = AGING[rule]
        bound = params.get("at_most", params.get("at_least"))
        at_most = "at_most" in params
        expected = f"{label} {'<=' if at_most else '>='} {bound}"
        bad_ev: list[Evidence] = []
        for entry in shadow:
            if not usable(entry):
                continue
            value = getattr(entry, field)
            good = value is not None and (value <= bound if at_most else value >= bound)
            if field == "inactive" and value is not None and value < 0:
                good = False
            if not good:
                shown = "unset" if value is None else str(value)
                bad_ev.append(Evidence(expected, f"{entry.name}: {shown}", f"/etc/shadow:{entry.line}"))
        if bad_ev:
            return Outcome.of(False, bad_ev)
        return Outcome.of(True, [Evidence(expected, "every account with a password complies", "/etc/shadow")])

    def _passwd(self, rule: str, accounts: tuple[Account, ...]) -> Outcome:
        if rule == "uid0_only_root":
            bad = [a for a in accounts if a.uid == 0 and a.name != "root"]
            ev = [Evidence("only root has UID 0", f"{a.name} has UID 0", f"/etc/passwd:{a.line}") for a in bad]
            return Outcome.of(not bad, ev or [Evidence("only root has UID 0", "only root", "/etc/passwd")])
        if rule == "unique_uids":
            seen: dict[int, Account] = {}
            ev = []
            for a in accounts:
                if a.uid in seen:
                    ev.append(Evidence("unique UIDs", f"{a.name} shares UID {a.uid} with {seen[a.uid].name}",
                                       f"/etc/passwd:{a.line}"))
                seen.setdefault(a.uid, a)
            return Outcome.of(not ev, ev or [Evidence("unique UIDs", "all unique", "/etc/passwd")])
        bad = [a for a in accounts if a.uid < 1000 and a.name not in SPECIAL and a.shell not in NOLOGIN]
        ev = [Evidence("non-login shell", f"{a.name}: {a.shell}", f"/etc/passwd:{a.line}") for a in bad]
        return Outcome.of(not bad, ev or [Evidence("non-login shell", "all system accounts", "/etc/passwd")])


CHECK = AccountsCheck()

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
- ``all_shadowed``: every account's passwd field is ``x`` (the hash lives in /etc/shadow).
- ``root_gid_zero``: root's primary group is GID 0 and no other account's is (but the
  sync/shutdown/halt/operator accounts, whose GID 0 the benchmarks accept).
- ``root_access_controlled``: root has a password or is locked, as ``passwd -S root`` reports
  it (P or L, never NP: an empty field).
- ``invalid_shell_locked``: every account but root whose shell /etc/shells does not list is
  locked (``passwd -S`` L: the field starts with ``!`` or ``*``).
- ``last_change_past``: no account's last password change (/etc/shadow) is after the scan's day.
- Group database (/etc/group): ``passwd_gids_exist`` (every primary GID is a group),
  ``unique_gids``, ``unique_group_names``, ``unique_user_names`` (passwd),
  ``gid0_only_root`` (no group but root has GID 0), ``group_empty`` with ``group``: nobody is a
  member or has it as primary group (``missing_group``: the status when it does not exist).
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Callable, Hashable, Iterable, Mapping, TypeVar

from checks.facts import Account, FactKey, Facts, Group, ShadowEntry
from checks.model import Evidence, Outcome, Status

PASSWD = FactKey("passwd")
SHADOW = FactKey("shadow")
GROUP = FactKey("group")
SHELLS = FactKey("shells")
CLOCK = FactKey("clock")

AGING = {
    "password_max_days": ("max_days", "PASS_MAX_DAYS"),
    "password_min_days": ("min_days", "PASS_MIN_DAYS"),
    "password_warn_days": ("warn_days", "PASS_WARN_AGE"),
    "password_inactive_days": ("inactive", "INACTIVE"),
}
PASSWD_RULES = ("uid0_only_root", "unique_uids", "system_accounts_nologin", "all_shadowed", "root_gid_zero",
                "unique_user_names")
GROUP_RULES = ("passwd_gids_exist", "unique_gids", "unique_group_names", "gid0_only_root", "group_empty")
RULES = ("no_empty_password", *PASSWD_RULES, *GROUP_RULES, "root_access_controlled", "invalid_shell_locked",
         "last_change_past", *AGING)
NOLOGIN = ("/usr/sbin/nologin", "/sbin/nologin", "/bin/false", "/usr/bin/false")
SPECIAL = {"root", "sync", "shutdown", "halt"}
GID0_ACCEPTED = {"root", "sync", "shutdown", "halt", "operator"}
MAX_EVIDENCE = 50
T = TypeVar("T")


def locked(entry: ShadowEntry) -> bool:
    """``passwd -S`` L (Debian's shadow: the field starts with ``!`` or ``*``)."""
    return entry.hash[:1] in ("!", "*")


def usable(entry: ShadowEntry) -> bool:
    """Whether the account can log in with a password (not locked, not disabled)."""
    return bool(entry.hash) and entry.hash[0] not in "!*"


def repeats(items: Iterable[T], key: Callable[[T], Hashable]) -> list[tuple[T, T]]:
    """Each item whose key an earlier item already had, with that first item, in file order."""
    first: dict[Hashable, T] = {}
    out = []
    for item in items:
        k = key(item)
        if k in first:
            out.append((item, first[k]))
        else:
            first[k] = item
    return out


class AccountsCheck:
    name = "accounts"
    schema: Mapping[str, Any] = {
        "type": "object",
        "properties": {
            "type": {"const": "accounts"},
            "rule": {"enum": list(RULES)},
            "at_most": {"type": "integer"},
            "at_least": {"type": "integer"},
            "group": {"type": "string", "minLength": 1},
            "missing_group": {"enum": ["pass", "fail"]},
        },
        "required": ["type", "rule"],
        "additionalProperties": False,
    }

    def needs(self, params: Mapping[str, Any]) -> set[FactKey]:
        rule = params["rule"]
        if rule in PASSWD_RULES:
            return {PASSWD}
        if rule in GROUP_RULES:
            return {PASSWD, GROUP}
        if rule == "invalid_shell_locked":
            return {PASSWD, SHADOW, SHELLS}
        if rule == "last_change_past":
            return {SHADOW, CLOCK}
        return {SHADOW}

    def evaluate(self, params: Mapping[str, Any], facts: Facts) -> Outcome:
        rule = params["rule"]
        if rule in PASSWD_RULES:
            accounts = facts.need(PASSWD)
            assert isinstance(accounts, tuple)
            return self._passwd(rule, accounts)
        if rule in GROUP_RULES:
            accounts, groups = facts.need(PASSWD), facts.need(GROUP)
            assert isinstance(accounts, tuple) and isinstance(groups, tuple)
            return self._groups(params, accounts, groups)
        shadow = facts.need(SHADOW)
        assert isinstance(shadow, tuple)
        if rule == "root_access_controlled":
            return self._root_access(shadow)
        if rule == "invalid_shell_locked":
            accounts, valid = facts.need(PASSWD), facts.need(SHELLS)
            assert isinstance(accounts, tuple) and isinstance(valid, tuple)
            return self._invalid_shells(accounts, shadow, valid)
        if rule == "last_change_past":
            now = facts.need(CLOCK)
            assert isinstance(now, str)
            return self._last_change(shadow, now)
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

    def _root_access(self, shadow: tuple[ShadowEntry, ...]) -> Outcome:
        expected = "root has a password or is locked (passwd -S: P or L)"
        root = next((e for e in shadow if e.name == "root"), None)
        if root is None:
            return Outcome.of(False, [Evidence(expected, "root has no /etc/shadow entry", "/etc/shadow")])
        state = "locked" if locked(root) else "no password (NP)" if root.hash == "" else "password set"
        return Outcome.of(root.hash != "", [Evidence(expected, f"root: {state}", f"/etc/shadow:{root.line}")])

    def _invalid_shells(self, accounts: tuple[Account, ...], shadow: tuple[ShadowEntry, ...],
                        valid: tuple[str, ...]) -> Outcome:
        expected = "locked (passwd -S: L) when the shell is not in /etc/shells"
        entries = {e.name: e for e in shadow}
        bad = []
        for account in accounts:
            if account.name == "root" or account.shell in valid:
                continue
            entry = entries.get(account.name)
            if entry is None:
                bad.append(Evidence(expected, f"{account.name} ({account.shell}): no /etc/shadow entry",
                                    f"/etc/passwd:{account.line}"))
            elif not locked(entry):
                state = "no password" if entry.hash == "" else "password set"
                bad.append(Evidence(expected, f"{account.name} ({account.shell}): {state}", f"/etc/shadow:{entry.line}"))
        if bad:
            return Outcome.of(False, bad[:MAX_EVIDENCE])
        return Outcome.of(True, [Evidence(expected, "every account without a valid shell is locked", "/etc/shadow")])

    def _last_change(self, shadow: tuple[ShadowEntry, ...], now: str) -> Outcome:
        today = (dt.datetime.fromisoformat(now).date() - dt.date(1970, 1, 1)).days
        # The scan's date stays out of the evidence: a result that did not change must read the same
        # tomorrow (deltas and digests compare evidence).
        expected = "last password change on or before the day of the scan"
        bad = [Evidence(expected, f"{e.name}: changed {dt.date(1970, 1, 1) + dt.timedelta(e.last_change)} "
                        f"(day {e.last_change})", f"/etc/shadow:{e.line}")
               for e in shadow if e.last_change is not None and e.last_change > today]
        if bad:
            return Outcome.of(False, bad[:MAX_EVIDENCE])
        return Outcome.of(True, [Evidence(expected, "no change dated in the future", "/etc/shadow")])

    def _groups(self, params: Mapping[str, Any], accounts: tuple[Account, ...], groups: tuple[Group, ...]) -> Outcome:
        rule = params["rule"]
        bad: list[Evidence] = []
        if rule == "passwd_gids_exist":
            expected, known = "every primary GID is a group in /etc/group", {g.gid for g in groups}
            bad = [Evidence(expected, f"{a.name}: GID {a.gid} has no group", f"/etc/passwd:{a.line}")
                   for a in accounts if a.gid not in known]
            fine = "all exist"
        elif rule in ("unique_gids", "unique_group_names"):
            attr = "gid" if rule == "unique_gids" else "name"
            expected = f"unique group {'GIDs' if attr == 'gid' else 'names'}"
            bad = [Evidence(expected, f"{g.name} (GID {g.gid}) repeats {attr} {getattr(g, attr)} of {first.name}",
                            f"/etc/group:{g.line}") for g, first in repeats(groups, lambda g: getattr(g, attr))]
            fine = "all unique"
        elif rule == "gid0_only_root":
            expected = "only group root has GID 0"
            bad = [Evidence(expected, f"{g.name} has GID 0", f"/etc/group:{g.line}")
                   for g in groups if g.gid == 0 and g.name != "root"]
            fine = "only root"
        else:
            return self._group_empty(params, accounts, groups)
        if bad:
            return Outcome.of(False, bad[:MAX_EVIDENCE])
        return Outcome.of(True, [Evidence(expected, fine, "/etc/group")])

    def _group_empty(self, params: Mapping[str, Any], accounts: tuple[Account, ...],
                     groups: tuple[Group, ...]) -> Outcome:
        name = params["group"]
        expected = f"group {name} has no members and is nobody's primary group"
        mine = [g for g in groups if g.name == name]
        if not mine:
            missing = params.get("missing_group", "pass")
            return Outcome(Status(missing), (Evidence(expected, f"no group {name}", "/etc/group"),),
                           "" if missing == "pass" else f"group {name} does not exist")
        bad = [Evidence(expected, f"members: {', '.join(g.members)}", f"/etc/group:{g.line}") for g in mine if g.members]
        gids = {g.gid for g in mine}
        bad += [Evidence(expected, f"{a.name} has it as primary group (GID {a.gid})", f"/etc/passwd:{a.line}")
                for a in accounts if a.gid in gids]
        if bad:
            return Outcome.of(False, bad[:MAX_EVIDENCE])
        return Outcome.of(True, [Evidence(expected, "empty", f"/etc/group:{mine[0].line}")])

    def _passwd(self, rule: str, accounts: tuple[Account, ...]) -> Outcome:
        if rule == "all_shadowed":
            expected = "password field x (hash in /etc/shadow)"
            bad = [Evidence(expected, f"{a.name}: {'empty' if a.password == '' else 'a hash or other value'}",
                            f"/etc/passwd:{a.line}") for a in accounts if a.password != "x"]
            return Outcome.of(not bad, bad[:MAX_EVIDENCE] or [Evidence(expected, "every account", "/etc/passwd")])
        if rule == "root_gid_zero":
            expected = "root's primary GID is 0, and no other account's"
            roots = [a for a in accounts if a.name == "root"]
            bad = [Evidence(expected, f"root: GID {a.gid}", f"/etc/passwd:{a.line}") for a in roots if a.gid != 0]
            if not roots:
                bad.append(Evidence(expected, "no root account", "/etc/passwd"))
            bad += [Evidence(expected, f"{a.name}: GID 0", f"/etc/passwd:{a.line}") for a in accounts
                    if a.gid == 0 and a.name not in GID0_ACCEPTED]
            return Outcome.of(not bad, bad[:MAX_EVIDENCE] or [Evidence(expected, "root only", "/etc/passwd")])
        if rule == "unique_user_names":
            ev = [Evidence("unique user names", f"{a.name} repeats line {first.line}", f"/etc/passwd:{a.line}")
                  for a, first in repeats(accounts, lambda a: a.name)]
            return Outcome.of(not ev, ev[:MAX_EVIDENCE] or [Evidence("unique user names", "all unique", "/etc/passwd")])
        if rule == "uid0_only_root":
            others = [a for a in accounts if a.uid == 0 and a.name != "root"]
            ev = [Evidence("only root has UID 0", f"{a.name} has UID 0", f"/etc/passwd:{a.line}") for a in others]
            return Outcome.of(not others, ev or [Evidence("only root has UID 0", "only root", "/etc/passwd")])
        if rule == "unique_uids":
            ev = [Evidence("unique UIDs", f"{a.name} shares UID {a.uid} with {first.name}", f"/etc/passwd:{a.line}")
                  for a, first in repeats(accounts, lambda a: a.uid)]
            return Outcome.of(not ev, ev or [Evidence("unique UIDs", "all unique", "/etc/passwd")])
        shells = [a for a in accounts if a.uid < 1000 and a.name not in SPECIAL and a.shell not in NOLOGIN]
        ev = [Evidence("non-login shell", f"{a.name}: {a.shell}", f"/etc/passwd:{a.line}") for a in shells]
        return Outcome.of(not shells, ev or [Evidence("non-login shell", "all system accounts", "/etc/passwd")])


CHECK = AccountsCheck()

"""home_dirs: the home directories of interactive accounts and the dot files in them.

Interactive accounts are those a person logs in to (fact ``homes``, agent/facts/accounts.py):
a shell /etc/shells lists that is not nologin or false, and root or a UID from UID_MIN up.

- ``rule: homes``: each home exists and is a directory (a symbolic link is followed, as login
  does), owned by its account (``owner: true``), with the account's primary group
  (``group: true``), no wider than ``max_mode``.
- ``rule: dotfiles``: no dot file named in ``forbid`` exists (of any kind: a link to
  .rhosts is read as .rhosts); every dot file is owned by its account and its primary group
  (``owned: true``); regular dot files are no wider than ``max_mode``, or the mode ``modes``
  gives for their name (``.bash_history: "0600"``); root's by ``root_max_mode`` when given
  (benchmarks differ on root: CIS judges its dot files like everyone's, ComplianceAsCode's
  initialization-file rule only accounts from UID_MIN up). Links and directories are judged on
  ownership only (a link's own mode means nothing).

An account whose home is missing is judged by the ``homes`` rule, not here. A home that could
not be listed, or one with more dot files than the gatherer lists, is an ``error`` unless
something fails already: unknown is never compliant.
"""
from __future__ import annotations

from typing import Any, Mapping

from checks.facts import FactKey, Facts, FileInfo, HomeDir, Homes
from checks.model import Evidence, Outcome, Status, Verdict

HOMES = FactKey("homes")
MODE = {"type": "string", "pattern": "^0?[0-7]{3,4}$"}
MAX_EVIDENCE = 50


def wider(mode: int, limit: str) -> bool:
    return mode & ~int(limit, 8) & 0o7777 != 0


def owner_of(info: FileInfo) -> str:
    return info.owner or str(info.uid)


class HomeDirsCheck:
    name = "home_dirs"
    schema: Mapping[str, Any] = {
        "type": "object",
        "properties": {
            "type": {"const": "home_dirs"},
            "rule": {"enum": ["homes", "dotfiles"]},
            "owner": {"type": "boolean"},
            "group": {"type": "boolean"},
            "owned": {"type": "boolean"},
            "max_mode": MODE,
            "root_max_mode": MODE,
            "modes": {"type": "object", "propertyNames": {"pattern": "^\\.[^/]+$"}, "additionalProperties": MODE},
            "forbid": {"type": "array", "items": {"type": "string", "pattern": "^\\.[^/]+$"}, "minItems": 1},
        },
        "required": ["type", "rule"],
        "additionalProperties": False,
    }

    def needs(self, params: Mapping[str, Any]) -> set[FactKey]:
        return {HOMES}

    def evaluate(self, params: Mapping[str, Any], facts: Facts) -> Outcome:
        homes = facts.need(HOMES)
        assert isinstance(homes, Homes)
        bad: list[Evidence] = []
        unknown: list[str] = []
        if homes.truncated:
            unknown.append("more interactive accounts than the scan lists")
        for home in homes.homes:
            if params["rule"] == "homes":
                bad += self._home(params, home)
            elif home.info.exists and home.info.kind == "dir":
                bad += self._dotfiles(params, home)
                if home.truncated:
                    unknown.append(f"{home.path}: more dot files than the scan lists")
                if home.problem:
                    unknown.append(home.problem)
        what = "home directory" if params["rule"] == "homes" else "dot files"
        if bad:
            return Outcome(Status.FAIL, tuple(bad[:MAX_EVIDENCE]), "; ".join(unknown))
        where = ", ".join(h.path for h in homes.homes[:10]) or "/etc/passwd"
        summary = Evidence(self._expected(params), f"every interactive account's {what} complies "
                           f"({len(homes.homes)} accounts)", where)
        if unknown:
            return Outcome(Status.ERROR, (summary,), "; ".join(unknown))
        return Outcome(Status.PASS, (summary,))

    def _expected(self, params: Mapping[str, Any]) -> str:
        if params["rule"] == "homes":
            parts = ["a directory"]
            parts += ["owned by the account"] if params.get("owner") else []
            parts += ["group the account's primary group"] if params.get("group") else []
            parts += [f"mode {int(params['max_mode'], 8):04o} or stricter"] if "max_mode" in params else []
            return ", ".join(parts)
        parts = [f"no {', '.join(params['forbid'])}"] if params.get("forbid") else []
        parts += ["owned by the account and its primary group"] if params.get("owned") else []
        parts += [f"mode {int(params['max_mode'], 8):04o} or stricter"] if "max_mode" in params else []
        parts += [f"root's {int(params['root_max_mode'], 8):04o} or stricter"] if "root_max_mode" in params else []
        parts += [f"{name} mode {int(mode, 8):04o} or stricter" for name, mode in params.get("modes", {}).items()]
        return ", ".join(parts)

    def _home(self, params: Mapping[str, Any], home: HomeDir) -> list[Evidence]:
        info = home.info
        expected = self._expected(params)
        if not info.exists:
            why = f" ({home.problem})" if home.problem else ""
            return [Evidence(expected, f"{home.user}: absent{why}", home.path, Verdict.VIOLATION)]
        problems = []
        if info.kind != "dir":
            problems.append(f"a {info.kind}")
        if params.get("owner") and info.uid != home.uid:
            problems.append(f"owner {owner_of(info)}")
        if params.get("group") and info.gid != home.gid:
            problems.append(f"group {info.group or info.gid}")
        if "max_mode" in params and wider(info.mode, params["max_mode"]):
            problems.append(f"mode {info.mode & 0o7777:04o}")
        return [Evidence(expected, f"{home.user}: {', '.join(problems)}", home.path, Verdict.VIOLATION)] if problems else []

    def _dotfiles(self, params: Mapping[str, Any], home: HomeDir) -> list[Evidence]:
        expected = self._expected(params)
        out = []
        forbid = set(params.get("forbid", ()))
        modes: Mapping[str, str] = params.get("modes", {})
        for info in home.dotfiles:
            name = info.path.rsplit("/", 1)[-1]
            problems = []
            if name in forbid:
                problems.append(f"present ({info.kind})")
            if params.get("owned") and (info.uid != home.uid or info.gid != home.gid):
                problems.append(f"owner {owner_of(info)}, group {info.group or info.gid}")
            general = params.get("root_max_mode", params.get("max_mode")) if home.uid == 0 else params.get("max_mode")
            limit = modes.get(name, general)
            if info.kind == "file" and limit and wider(info.mode, limit):
                problems.append(f"mode {info.mode & 0o7777:04o}")
            if problems:
                out.append(Evidence(expected, f"{home.user}: {', '.join(problems)}", info.path, Verdict.VIOLATION))
        return out


CHECK = HomeDirsCheck()

"""dconf: a GNOME setting's value as dconf reads it through a profile (agent.facts.dconf).

dconf(7), dconf-engine.c: a read looks for the last database of the profile that locks the key;
the value is then the first one found from that database down; without a lock, from the top.
The user's own database (``user-db``, first in the profile) is not read: ``key`` judges the
value the system databases give (what a user gets who changed nothing), and ``locked: true``
requires a system database to lock the key, so no user can change it; the value is then the
one read from the lock down. ``value`` operators compare the GVariant text, with a number's
type word dropped (``uint32 900`` is ``900``); a key nobody sets fails unless ``default``
states the schema default. Binary databases (``file-db``) are not read: a value only they
hold is not seen (the check fails, never passes, on what it cannot read).
"""
from __future__ import annotations

from typing import Any, Mapping

from checks import expect
from checks.facts import DconfProfile, DconfValue, FactKey, Facts
from checks.model import Evidence, Outcome, Status, Verdict

NUMBER_TYPES = ("byte", "int16", "uint16", "int32", "uint32", "int64", "uint64", "handle", "double")


def plain(value: str) -> str:
    """``uint32 900`` -> ``900``; anything else as written."""
    word, _, rest = value.partition(" ")
    return rest.strip() if word in NUMBER_TYPES and rest.strip() else value


def lookup(profile: DconfProfile, key: str) -> tuple[DconfValue | None, str]:
    """The value dconf reads for ``key`` (the user's database left out) and where the lock is."""
    sources = profile.sources
    level, lock = 0, ""
    for i in range(len(sources) - 1, 0, -1):
        if key in sources[i].locks:
            level, lock = i, sources[i].locks[key]
            break
    for source in sources[level:]:
        if source.kind == "user-db":
            continue
        if key in source.values:
            return source.values[key], lock
    return None, lock


class DconfCheck:
    name = "dconf"
    schema: Mapping[str, Any] = {
        "type": "object",
        "properties": {
            "type": {"const": "dconf"},
            "profile": {"type": "string", "pattern": "^[A-Za-z0-9_.-]+$"},
            "key": {"type": "string", "pattern": "^/"},
            "default": {"type": "string"},
            "locked": {"const": True},
            **expect.SCHEMA_PROPERTIES,
        },
        "required": ["type", "profile", "key"],
        "additionalProperties": False,
    }

    def needs(self, params: Mapping[str, Any]) -> set[FactKey]:
        return {FactKey("dconf", params["profile"])}

    def evaluate(self, params: Mapping[str, Any], facts: Facts) -> Outcome:
        profile = facts.need(FactKey("dconf", params["profile"]))
        assert isinstance(profile, DconfProfile)
        key = params["key"]
        found, lock = lookup(profile, key)
        where = profile.path or f"no dconf profile {params['profile']}"
        evidence: list[Evidence] = []
        ok = True
        expected = f"{key} {expect.describe(params)}"
        if found is not None:
            good = expect.satisfied(params, plain(found.value))
            evidence.append(Evidence(expected, f"{key} = {found.value}", found.where, Verdict.of(good)))
        elif "default" in params:
            good = expect.satisfied(params, plain(params["default"]))
            evidence.append(Evidence(expected, f"not set: the schema default {params['default']}", where,
                                     Verdict.of(good)))
        else:
            good = False
            dbs = ", ".join(f"{s.kind}:{s.name}" for s in profile.sources)
            evidence.append(Evidence(expected, f"not set in any system database ({dbs})", where, Verdict.VIOLATION))
        ok &= good
        if params.get("locked"):
            evidence.append(Evidence(f"{key} locked", f"locked in {lock}" if lock else "not locked: users can change it",
                                     lock or where, Verdict.of(bool(lock))))
            ok &= bool(lock)
        return Outcome(Status.PASS if ok else Status.FAIL, tuple(evidence))


CHECK = DconfCheck()

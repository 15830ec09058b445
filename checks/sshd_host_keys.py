"""sshd_host_keys: every SSH host private key is owned by an account and no wider than a mode.

Judged: each key sshd is configured with (``HostKey`` lines, ``-h`` in /etc/default/ssh, or
OpenSSH's built-in list when none is set) and every ``/etc/ssh/ssh_host_*_key``, because a key
lying in /etc/ssh can be loaded by a later configuration or copied from a backup. Keys that do
not exist are not judged; with none at all (images whose keys are generated at first boot) the
requirement is ``not_applicable``. When the configuration cannot be evaluated, keys that fail
still fail; otherwise the result is ``error`` (a configured key may be missing from the list).

``public: true`` judges the public halves instead: ``KEY.pub`` beside each of those keys and
every ``/etc/ssh/ssh_host_*_key.pub``.
"""
from __future__ import annotations

from typing import Any, Mapping

from checks.facts import FactKey, Facts
from checks.model import Evidence, Outcome, Status
from checks.sshd import HostKeys


class SshdHostKeysCheck:
    name = "sshd_host_keys"
    schema: Mapping[str, Any] = {
        "type": "object",
        "properties": {
            "type": {"const": "sshd_host_keys"},
            "config": {"type": "string", "pattern": "^/", "default": "/etc/ssh/sshd_config"},
            "owner": {"type": "string"},
            "max_mode": {"type": "string", "pattern": "^0?[0-7]{3,4}$"},
            "group": {"type": "string"},
            "public": {"type": "boolean"},
        },
        "required": ["type", "max_mode"],
        "additionalProperties": False,
    }

    def needs(self, params: Mapping[str, Any]) -> set[FactKey]:
        family = "sshd_host_pubkeys" if params.get("public") else "sshd_host_keys"
        return {FactKey(family, params.get("config", "/etc/ssh/sshd_config"))}

    def evaluate(self, params: Mapping[str, Any], facts: Facts) -> Outcome:
        (key,) = self.needs(params)
        keys = facts.need(key)
        assert isinstance(keys, HostKeys)
        limit = int(params["max_mode"], 8)
        owner, group = params.get("owner"), params.get("group")
        half = "public" if params.get("public") else "private"
        expected = ", ".join([*([f"owner {owner}"] if owner else []), *([f"group {group}"] if group else []),
                              f"mode {limit:04o} or stricter"])
        if not keys.files:
            where = ", ".join(keys.configured) or "/etc/ssh"
            return Outcome(Status.NOT_APPLICABLE, (Evidence(expected, f"no host {half} key exists", where),),
                           f"no SSH host {half} key exists (images generate them at first boot)")
        evidence, ok = [], True
        for info in keys.files:
            actual_owner = info.owner or str(info.uid)
            actual_group = info.group or str(info.gid)
            good = (info.kind == "file" and info.mode & ~limit & 0o7777 == 0 and (owner is None or actual_owner == owner)
                    and (group is None or actual_group == group))
            ok &= good
            actual = f"{info.kind} owner {actual_owner}" + (f", group {actual_group}" if group else "") + \
                f", mode {info.mode & 0o7777:04o}"
            evidence.append(Evidence(expected, actual, info.path))
        if ok and keys.problems:  # a key the configuration names may be missing from the list
            return Outcome(Status.ERROR, tuple(evidence), "; ".join(keys.problems))
        return Outcome.of(ok, evidence, "; ".join(keys.problems))


CHECK = SshdHostKeysCheck()

"""config: a setting in a configuration file, read with the file's own semantics.

Dialects (parsed by the agent into ConfigFile facts): ``sshd`` (judged by checks.sshd as
``sshd -T`` resolves it: first value wins, Match blocks per connection), ``login_defs`` and
``keyvalue`` (``key value``, last wins), ``keyequals`` (``key=value``, last wins),
``systemd`` (a systemd configuration file such as /etc/systemd/timesyncd.conf with every
drop-in folder systemd reads, as ``systemd-analyze cat-config`` lists them; ``section`` names
the [Section] the case-sensitive ``key`` must be in; last wins), ``postfix`` (main.cf as
``postconf -x`` reads it: continuation lines, last definition wins, ``$name`` expanded;
case-sensitive), ``shell`` (a file a POSIX shell sources, such as /etc/default/ufw, evaluated
without running it as agent.facts.grub does; the drop-ins are sourced after it; names are
case-sensitive; what cannot be evaluated is an error), ``keyfile`` (a GLib key file such as
GDM's daemon.conf: keys are ``group/key``, case-sensitive, the later value wins) and
``useradd`` (/etc/default/useradd as useradd reads it, agent/facts/useradd.py: exact
``NAME=value`` lines, last wins, INACTIVE as a whole number or -1).

When the key is absent the program's built-in default applies; the directive states it
with ``default`` so the evidence shows which value is really in force.

``dropins`` names a glob of drop-in files read after the main file, in name order, as
systemd reads ``journald.conf.d/*.conf`` (the last value wins). ``missing_file: default``
judges an absent main file as an empty one, for programs that run on built-in defaults.
"""
from __future__ import annotations

from typing import Any, Mapping

from checks import expect, sshd
from checks.facts import ConfigFile, FactKey, Facts
from checks.model import Evidence, Outcome, Status, Verdict

DIALECTS = ("sshd", "login_defs", "keyvalue", "keyequals", "systemd", "postfix", "shell", "keyfile", "useradd")


def fact_key(params: Mapping[str, Any]) -> FactKey:
    """``dialect:path``, or ``dialect:path|dropins-glob``."""
    dropins = f"|{params['dropins']}" if params.get("dropins") else ""
    return FactKey("config", f"{params['dialect']}:{params['path']}{dropins}")


class ConfigCheck:
    name = "config"
    schema: Mapping[str, Any] = {
        "type": "object",
        "properties": {
            "type": {"const": "config"},
            "path": {"type": "string", "pattern": "^/"},
            "dialect": {"enum": list(DIALECTS)},
            "key": {"type": "string", "minLength": 1},
            "default": {"type": ["string", "integer"]},
            "dropins": {"type": "string", "pattern": "^/"},
            "section": {"type": "string", "minLength": 1},
            "missing_file": {"enum": ["fail", "not_applicable", "default"], "default": "fail"},
            **expect.SCHEMA_PROPERTIES,
        },
        "required": ["type", "path", "dialect", "key"],
        "if": {"properties": {"dialect": {"const": "systemd"}}},
        "then": {"required": ["section"], "not": {"required": ["dropins"]}},
        "else": {"not": {"required": ["section"]}},
        "additionalProperties": False,
    }

    def needs(self, params: Mapping[str, Any]) -> set[FactKey]:
        return {fact_key(params)}

    def evaluate(self, params: Mapping[str, Any], facts: Facts) -> Outcome:
        conf = facts.need(fact_key(params))
        assert isinstance(conf, ConfigFile)
        key = params["key"]
        expected = f"{key} {expect.describe(params)}"
        if conf.dialect == "systemd":
            expected = f"[{params['section']}] {expected}"
            key = f"{params['section']}.{key}"  # as agent/facts/systemdconf.py records it
        if not conf.exists and params.get("missing_file") != "default":
            status = Status.NOT_APPLICABLE if params.get("missing_file") == "not_applicable" else Status.FAIL
            return Outcome(status, (Evidence(expected, "file absent", conf.path),), f"{conf.path} does not exist")
        if conf.dialect == "sshd":
            return sshd.judge(params, conf)

        evidence: list[Evidence] = []
        setting = conf.effective(key)
        if setting is not None:
            actual, where = setting.value, f"{setting.file}:{setting.line}"
        elif "default" in params:
            actual, where = str(params["default"]), f"{conf.path} (not set; built-in default)"
        else:
            return Outcome(Status.FAIL, (Evidence(expected, "not set", conf.path),))
        ok = expect.satisfied(params, actual)
        evidence.append(Evidence(expected, f"{params['key']}={actual}" if conf.dialect == "systemd" else f"{key} {actual}",
                                 where, Verdict.of(ok)))
        # A weaker value inside a Match block weakens the connections it matches.
        for scoped in conf.scoped(key):
            good = expect.satisfied(params, scoped.value)
            ok &= good
            if not good:
                evidence.append(Evidence(expected, f"{key} {scoped.value} in Match {scoped.match}",
                                         f"{scoped.file}:{scoped.line}", Verdict.VIOLATION))
        message = "; ".join(conf.problems)
        return Outcome(Status.PASS if ok else Status.FAIL, tuple(evidence), message)


CHECK = ConfigCheck()

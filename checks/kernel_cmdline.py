"""kernel_cmdline: a kernel parameter on the command lines grub-mkconfig writes for the host's kernels.

Debian's /etc/grub.d/10_linux gives the normal entry ``$GRUB_CMDLINE_LINUX
$GRUB_CMDLINE_LINUX_DEFAULT`` and the recovery entry ``single $GRUB_CMDLINE_LINUX`` (none when
``GRUB_DISABLE_RECOVERY=true``); the variables are those the shell has after /etc/default/grub
and /etc/default/grub.d/*.cfg (agent/facts/grub.py). The kernel reads its command line left to
right and a parameter given twice keeps the last value (kernel-parameters.txt), so the last
``param=`` of each entry is judged, with the ``expect`` operators, in every entry.
"""
from __future__ import annotations

from typing import Any, Mapping

from checks import expect
from checks.facts import FactKey, Facts, GrubDefaults
from checks.model import Evidence, Outcome, Status

FACT = FactKey("grub_defaults")


def entries(grub: GrubDefaults) -> list[tuple[str, str, list[str]]]:
    """(entry, command line, the variables it is made of)."""
    linux, default = grub.get("GRUB_CMDLINE_LINUX"), grub.get("GRUB_CMDLINE_LINUX_DEFAULT")
    out = [("normal boot", f"{linux} {default}", ["GRUB_CMDLINE_LINUX", "GRUB_CMDLINE_LINUX_DEFAULT"])]
    if grub.get("GRUB_DISABLE_RECOVERY") != "true":
        out.append(("recovery boot", f"single {linux}", ["GRUB_CMDLINE_LINUX"]))
    return out


def words(cmdline: str) -> list[str]:
    """The kernel's next_arg(): white space separates, double quotes hold spaces together."""
    out, current, quoted = [], "", False
    for c in cmdline:
        if c.isspace() and not quoted:
            if current:
                out.append(current)
            current = ""
            continue
        if c == '"':
            quoted = not quoted
        current += c
    if current:
        out.append(current)
    return out


def last_value(cmdline: str, param: str) -> str | None:
    found = None
    for word in words(cmdline):
        word = word[1:] if word.startswith('"') else word  # a quoted whole parameter
        name, sep, value = word.partition("=")
        if name == param:
            value = value[1:] if value.startswith('"') else value
            found = (value[:-1] if value.endswith('"') else value) if sep else ""
    return found


class KernelCmdlineCheck:
    name = "kernel_cmdline"
    schema: Mapping[str, Any] = {
        "type": "object",
        "properties": {
            "type": {"const": "kernel_cmdline"},
            "param": {"type": "string", "pattern": "^[A-Za-z0-9_.-]+$"},
            **expect.SCHEMA_PROPERTIES,
        },
        "required": ["type", "param"],
        "additionalProperties": False,
    }

    def needs(self, params: Mapping[str, Any]) -> set[FactKey]:
        return {FACT}

    def evaluate(self, params: Mapping[str, Any], facts: Facts) -> Outcome:
        grub = facts.need(FACT)
        assert isinstance(grub, GrubDefaults)
        param = params["param"]
        expected = f"{param} {expect.describe(params)}"
        files = ", ".join(grub.files) or "/etc/default/grub (absent)"
        if grub.error:
            return Outcome(Status.ERROR, (Evidence(expected, "not evaluated", files),), grub.error)
        ok = True
        evidence = []
        for entry, cmdline, names in entries(grub):
            value = last_value(cmdline, param)
            good = value is not None and expect.satisfied(params, value)
            ok &= good
            where = ", ".join(f"{n} at {grub.set_at(n)}" for n in names if grub.set_at(n)) or files
            actual = f"{param}={value}" if value is not None else f"{param} not set"
            evidence.append(Evidence(f"{entry}: {expected}", f"{actual} (in: {' '.join(cmdline.split())})", where))
        return Outcome.of(ok, evidence)


CHECK = KernelCmdlineCheck()

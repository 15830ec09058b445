"""kernel_module: a module is not loaded and cannot be loaded.

Disabled means the install command libkmod uses for the module runs /bin/false (or
/bin/true) instead of loading it, which stops explicit and dependency loads alike. libkmod uses
the first ``install`` rule, in configuration order, whose module pattern matches the name
(fnmatch; dashes and underscores are the same). ``blacklist MODULE`` only stops alias-based
autoloading, so it counts only together with an install rule when ``require_blacklist`` is set.
On a running system the module must also not be loaded now.
"""
from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any, Mapping

from checks.facts import FactKey, Facts, ModprobeRule
from checks.model import Evidence, Outcome, Status, Verdict

LOADED = FactKey("modules_loaded")
MODPROBE = FactKey("modprobe")
DISABLING = ("/bin/false", "/bin/true", "/usr/bin/false", "/usr/bin/true")


def canonical(name: str) -> str:
    return name.replace("-", "_")


def install_rule(rules: tuple[object, ...], module: str) -> ModprobeRule | None:
    """The install rule libkmod runs for ``module`` when the module is installed (found in
    modules.dep): the first whose pattern matches (kmod_module_get_install_commands). This is
    the case that matters: a module that is not installed cannot be loaded anyway."""
    return next((r for r in rules if isinstance(r, ModprobeRule) and r.kind == "install"
                 and fnmatchcase(module, r.module)), None)


def install_rule_by_name(rules: tuple[object, ...], module: str) -> ModprobeRule | None:
    """The install rule libkmod runs for a ``module`` it knows only from the configuration (no
    such module installed): the first naming it exactly (kmod_lookup_alias_from_commands)."""
    return next((r for r in rules if isinstance(r, ModprobeRule) and r.kind == "install" and r.module == module), None)


def disables(command: str) -> bool:
    words = command.split()
    return bool(words) and words[0] in DISABLING


class KernelModuleCheck:
    name = "kernel_module"
    schema: Mapping[str, Any] = {
        "type": "object",
        "properties": {
            "type": {"const": "kernel_module"},
            "name": {"type": "string", "pattern": r"^[A-Za-z0-9_\-]+$"},
            "state": {"const": "disabled"},
            "require_blacklist": {"type": "boolean"},
        },
        "required": ["type", "name", "state"],
        "additionalProperties": False,
    }

    def needs(self, params: Mapping[str, Any]) -> set[FactKey]:
        return {LOADED, MODPROBE}

    def evaluate(self, params: Mapping[str, Any], facts: Facts) -> Outcome:
        module = canonical(params["name"])
        rules = facts.need(MODPROBE)
        assert isinstance(rules, tuple)
        install = install_rule(rules, module)
        blacklist = next((r for r in rules if isinstance(r, ModprobeRule) and r.kind == "blacklist"
                          and canonical(r.module) == module), None)
        evidence: list[Evidence] = []
        ok = True
        notes: list[str] = []

        disabled = install is not None and disables(install.command)
        if install is not None:
            evidence.append(Evidence(f"install {module} /bin/false", f"install {install.module} {install.command.strip()}",
                                     f"{install.file}:{install.line}", Verdict.of(bool(disabled))))
        else:
            evidence.append(Evidence(f"install {module} /bin/false", "no install rule", "modprobe.d",
                                     Verdict.VIOLATION))
        ok &= bool(disabled)
        if params.get("require_blacklist"):
            ok &= blacklist is not None
            evidence.append(Evidence(f"blacklist {module}", "blacklisted" if blacklist else "not blacklisted",
                                     f"{blacklist.file}:{blacklist.line}" if blacklist else "modprobe.d",
                                     Verdict.of(blacklist is not None)))

        loaded = facts.runtime(LOADED, notes, "loaded state")
        if isinstance(loaded, frozenset):
            is_loaded = module in loaded
            ok &= not is_loaded
            evidence.append(Evidence("not loaded", "loaded" if is_loaded else "not loaded", "/proc/modules",
                                     Verdict.of(not is_loaded)))
        return Outcome(Status.PASS if ok else Status.FAIL, tuple(evidence), "; ".join(notes))


CHECK = KernelModuleCheck()

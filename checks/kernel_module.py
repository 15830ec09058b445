"""kernel_module: a module is not loaded and cannot be loaded.

Disabled means modprobe.d holds ``install MODULE /bin/false`` (or /bin/true), which stops
explicit and dependency loads alike; ``blacklist MODULE`` only stops alias-based autoloading,
so it counts only together with an install rule when ``require_blacklist`` is set.
On a running system the module must also not be loaded now.
"""
from __future__ import annotations

from typing import Any, Mapping

from checks.facts import FactKey, Facts, ModprobeRule
from checks.model import Evidence, Outcome, Status, Verdict

LOADED = FactKey("modules_loaded")
MODPROBE = FactKey("modprobe")
DISABLING = ("/bin/false", "/bin/true", "/usr/bin/false", "/usr/bin/true")


def canonical(name: str) -> str:
    return name.replace("-", "_")


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
        mine = [r for r in rules if isinstance(r, ModprobeRule) and canonical(r.module) == module]
        # modprobe uses the first install rule it reads for a module.
        install = next((r for r in mine if r.kind == "install"), None)
        blacklist = next((r for r in mine if r.kind == "blacklist"), None)
        evidence: list[Evidence] = []
        ok = True
        notes: list[str] = []

        disabled = install is not None and install.command.split()[:1] and install.command.split()[0] in DISABLING
        if install is not None:
            evidence.append(Evidence(f"install {module} /bin/false", f"install {module} {install.command}",
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

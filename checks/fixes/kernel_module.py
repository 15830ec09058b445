"""kernel_module: modules that cannot be loaded (an install rule running /bin/false) nor autoloaded."""
from __future__ import annotations

from typing import Any, Mapping

from checks.fixes.model import Action, Command, Files, WriteFile, schema

MODULE = {"type": "string", "pattern": "^[A-Za-z0-9_-]+$"}


def dropin(module: str) -> str:
    return f"/etc/modprobe.d/fedharden-{module}.conf"


class KernelModule:
    name = "kernel_module"
    schema: Mapping[str, Any] = schema("kernel_module", {"modules": {"type": "array", "minItems": 1, "items": MODULE}}, ("modules",))
    disruptive = False

    def reads(self, params: Mapping[str, Any]) -> tuple[str, ...]:
        return tuple(dropin(m) for m in params["modules"])

    def plan(self, params: Mapping[str, Any], files: Files) -> tuple[Action, ...]:
        actions: list[Action] = []
        for module in params["modules"]:
            content = (f"# Written by fedharden fix: {module} cannot be loaded.\n"
                       f"install {module} /bin/false\nblacklist {module}\n")
            if files.text(dropin(module)) != content:
                actions.append(WriteFile(dropin(module), content))
                actions.append(Command(("modprobe", "-r", module), "unload it if loaded", best_effort=True))
        return tuple(actions)

    def describe(self, params: Mapping[str, Any]) -> str:
        return "\n".join(f"Write {dropin(m)} with `install {m} /bin/false` and `blacklist {m}`; "
                         f"unload it with `modprobe -r {m}`." for m in params["modules"])


FIX = KernelModule()

"""audit_rules: audit rules in a rules.d file (augenrules merges them into audit.rules)."""
from __future__ import annotations

from typing import Any, Mapping

from checks.fixes import text
from checks.fixes.model import Action, Command, Files, WriteFile, schema

RULES_D = "/etc/audit/rules.d/"


class AuditRules:
    name = "audit_rules"
    schema: Mapping[str, Any] = schema("audit_rules", {"file": {"type": "string", "pattern": "^[A-Za-z0-9_.-]+\\.rules$"},
                                    "lines": {"type": "array", "minItems": 1,
                                              "items": {"type": "string", "pattern": "^-"}}}, ("file", "lines"))
    disruptive = False

    def reads(self, params: Mapping[str, Any]) -> tuple[str, ...]:
        return (RULES_D + params["file"],)

    def plan(self, params: Mapping[str, Any], files: Files) -> tuple[Action, ...]:
        path = RULES_D + params["file"]
        old = files.text(path)
        new = text.ensure_lines(old, list(params["lines"]), [], header=text.HEADER)
        if new == old:
            return ()
        return (WriteFile(path, new, 0o640),
                Command(("augenrules", "--load"), "the kernel gets the merged rules", best_effort=True))

    def describe(self, params: Mapping[str, Any]) -> str:
        lines = "\n".join(f"  {line}" for line in params["lines"])
        return f"Add to {RULES_D}{params['file']}:\n{lines}\nthen load them with `augenrules --load`."


FIX = AuditRules()

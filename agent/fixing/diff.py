"""The plan as a person reads it: per file, the requirements it serves and a unified diff of the
whole change (before every fix, after every fix); then packages and commands, each with its
requirement. Text from the target is escaped like every other text the agent shows."""
from __future__ import annotations

import difflib

from agent.fixing.planner import Plan, state_of
from agent.output.common import safe
from checks.fixes.model import Command, Packages, Remove, SetAttributes, Symlink, WriteFile


def _mode(mode: int | None) -> str:
    return "-" if mode is None else f"{mode:04o}"


def render(plan: Plan, root: str = "/") -> str:
    out: list[str] = []
    where = "" if root == "/" else f" in {root}"
    by_path: dict[str, list[str]] = {}
    for change in plan.changes:
        for action in change.actions:
            if isinstance(action, (WriteFile, SetAttributes, Symlink, Remove)):
                by_path.setdefault(action.path, [])
                if change.requirement not in by_path[action.path]:
                    by_path[action.path].append(change.requirement)
    for path, requirements in by_path.items():
        before, after = state_of(plan.before, path), state_of(plan.after, path)
        out.append(f"# {path}{where}: {', '.join(requirements)}")
        if before.content != after.content or before.kind != after.kind:
            if after.kind == "symlink":
                out.append(f"  link -> {safe(after.link or '')}")
            else:
                old = (before.content or "").splitlines(keepends=True) if before.kind != "symlink" else []
                new = (after.content or "").splitlines(keepends=True)
                diff = difflib.unified_diff(old, new, "/dev/null" if not before.exists else f"a{path}",
                                            "/dev/null" if not after.exists else f"b{path}")
                out.extend(safe(line.rstrip("\n")) for line in diff)
        if (before.mode, before.owner, before.group) != (after.mode, after.owner, after.group) and before.exists:
            out.append(f"  {before.owner}:{before.group} {_mode(before.mode)} -> "
                       f"{after.owner}:{after.group} {_mode(after.mode)}")
        out.append("")
    for change in plan.changes:
        for action in change.actions:
            if isinstance(action, Packages):
                if action.install:
                    out.append(f"install {' '.join(action.install)}  ({change.requirement})")
                if action.remove:
                    out.append(f"remove {' '.join(action.remove)}  ({change.requirement})")
            elif isinstance(action, Command):
                if action.image == "skip" and root != "/":
                    continue
                out.append(f"run {' '.join(action.argv)}  ({change.requirement}: {action.why})")
    disruptive = [c.requirement for c in plan.changes if c.disruptive]
    out.append("")
    out.append(f"{len(plan.changes)} requirement(s) to fix, {len(by_path)} file(s) to change"
               + (f"; disruptive: {', '.join(disruptive)}" if disruptive else ""))
    for skipped in plan.skipped:
        out.append(f"left out {skipped.requirement}: {skipped.reason}")
    return "\n".join(out).lstrip("\n") + "\n"

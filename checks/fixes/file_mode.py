"""file_mode: ownership, and a mode no more permissive than allowed (extra bits removed)."""
from __future__ import annotations

from typing import Any, Mapping

from checks.fixes.model import ABSOLUTE, MODE, NAME, Action, Files, SetAttributes, schema


class FileMode:
    name = "file_mode"
    schema: Mapping[str, Any] = schema("file_mode", {"paths": {"type": "array", "minItems": 1, "items": ABSOLUTE},
                                  "owner": NAME, "group": NAME, "mode": MODE}, ("paths",))
    disruptive = False

    def reads(self, params: Mapping[str, Any]) -> tuple[str, ...]:
        return tuple(params["paths"])

    def plan(self, params: Mapping[str, Any], files: Files) -> tuple[Action, ...]:
        allowed = int(params["mode"], 8) if "mode" in params else None
        actions: list[Action] = []
        for pattern in params["paths"]:
            for path in files.matching(pattern):
                state = files.get(path)
                if state.kind not in ("file", "dir"):
                    continue
                mode = state.mode & allowed if allowed is not None and state.mode is not None else None
                change = SetAttributes(
                    path, mode if mode != state.mode else None,
                    params["owner"] if params.get("owner", state.owner) != state.owner else None,
                    params["group"] if params.get("group", state.group) != state.group else None)
                if (change.mode, change.owner, change.group) != (None, None, None):
                    actions.append(change)
        return tuple(actions)

    def describe(self, params: Mapping[str, Any]) -> str:
        what = []
        if "owner" in params or "group" in params:
            what.append(f"owned by {params.get('owner', '(any)')}:{params.get('group', '(any)')}")
        if "mode" in params:
            what.append(f"mode {params['mode']} or stricter (remove any other permission bit)")
        paths = ", ".join(params["paths"])
        return f"Make {paths} {' and '.join(what)}, e.g. `chown`/`chmod`."


FIX = FileMode()

"""lines: lines a line-oriented file must hold, and patterns no line may match."""
from __future__ import annotations

import re
from typing import Any, Mapping

from checks.fixes import text
from checks.fixes.model import ABSOLUTE, MODE, Action, Command, Files, WriteFile, schema


class Lines:
    name = "lines"
    schema: Mapping[str, Any] = {**schema("lines", {"path": ABSOLUTE,
                                 "present": {"type": "array", "items": {"type": "string", "minLength": 1}},
                                 "absent_matching": {"type": "array", "items": {"type": "string", "format": "regex"}},
                                 "mode": MODE}, ("path",)),
              "anyOf": [{"required": ["present"]}, {"required": ["absent_matching"]}]}
    disruptive = False

    def reads(self, params: Mapping[str, Any]) -> tuple[str, ...]:
        return (params["path"],)

    def plan(self, params: Mapping[str, Any], files: Files) -> tuple[Action, ...]:
        state = files.get(params["path"])
        absent = [re.compile(p) for p in params.get("absent_matching", ())]
        new = text.ensure_lines(state.content, list(params.get("present", ())), absent)
        if new == (state.content or "") and (state.exists or not params.get("present")):
            return ()
        mode = int(params["mode"], 8) if "mode" in params else state.mode if state.mode is not None else 0o644
        write = WriteFile(params["path"], new, mode, state.owner or "root", state.group or "root")
        if params["path"] == "/etc/sudoers" or params["path"].startswith("/etc/sudoers.d/"):
            # A sudoers file sudo cannot parse locks every sudo user out: visudo judges it first.
            return (write, Command(("visudo", "-c", "-q", "-f", params["path"]), "sudo can parse it", image="chroot"))
        return (write,)

    def describe(self, params: Mapping[str, Any]) -> str:
        parts = [f"In {params['path']}:"]
        parts.extend(f"  add the line: {line}" for line in params.get("present", ()))
        parts.extend(f"  remove lines matching: {p}" for p in params.get("absent_matching", ()))
        return "\n".join(parts)


FIX = Lines()

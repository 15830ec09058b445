"""file_content: a file the requirement defines whole (banners, allow-lists)."""
from __future__ import annotations

from typing import Any, Mapping

from checks.fixes.model import ABSOLUTE, MODE, NAME, Action, Files, SetAttributes, WriteFile, ensure_trailing_newline
from checks.fixes.model import schema


class FileContent:
    name = "file_content"
    schema: Mapping[str, Any] = schema("file_content", {"path": ABSOLUTE, "content": {"type": "string"}, "owner": NAME,
                                     "group": NAME, "mode": MODE}, ("path", "content"))
    disruptive = False

    def reads(self, params: Mapping[str, Any]) -> tuple[str, ...]:
        return (params["path"],)

    def plan(self, params: Mapping[str, Any], files: Files) -> tuple[Action, ...]:
        state = files.get(params["path"])
        content = ensure_trailing_newline(params["content"])
        mode = int(params.get("mode", "0644"), 8)
        owner, group = params.get("owner", "root"), params.get("group", "root")
        if state.content != content or state.kind != "file":
            return (WriteFile(params["path"], content, mode, owner, group),)
        if (state.mode, state.owner, state.group) != (mode, owner, group):
            return (SetAttributes(params["path"], mode, owner, group),)
        return ()

    def describe(self, params: Mapping[str, Any]) -> str:
        body = "\n".join(f"  {line}" for line in params["content"].splitlines()) or "  (empty)"
        owner = f"{params.get('owner', 'root')}:{params.get('group', 'root')}"
        return f"Write {params['path']} ({owner}, mode {params.get('mode', '0644')}) with exactly:\n{body}"


FIX = FileContent()

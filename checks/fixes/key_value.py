"""key_value: keys of a configuration file set in place (login.defs, KEY=value, k = v, apt drop-ins)."""
from __future__ import annotations

from typing import Any, Mapping

from checks.fixes import text
from checks.fixes.model import ABSOLUTE, SETTINGS, Action, Files, WriteFile, render_value, schema

APT_DROPIN = "/etc/apt/apt.conf.d/99fedharden"
# The dialects of the config check, and how each writes a setting.
STYLES = {"login_defs": "space", "keyvalue": "space", "sshd": "space", "shell": "equals", "useradd": "equals",
          "keyequals": "spaced_equals", "pwquality": "spaced_equals", "postfix": "spaced_equals",
          "keyfile": "equals", "apt": "apt"}


def _path(params: Mapping[str, Any]) -> str:
    return str(params.get("path", APT_DROPIN if params["dialect"] == "apt" else ""))


def _apt_value(value: Any) -> str:
    rendered = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return '"' + rendered.replace("\\", "\\\\").replace('"', '\\"') + '"'


class KeyValue:
    name = "key_value"
    schema: Mapping[str, Any] = {**schema("key_value", {"path": ABSOLUTE, "dialect": {"enum": sorted(STYLES)}, "set": SETTINGS,
                                     "mode": {"type": "string", "pattern": "^0?[0-7]{3,4}$"}},
                       ("dialect", "set")),
              "if": {"properties": {"dialect": {"not": {"const": "apt"}}}}, "then": {"required": ["path"]}}
    disruptive = False

    def reads(self, params: Mapping[str, Any]) -> tuple[str, ...]:
        return (_path(params),)

    def plan(self, params: Mapping[str, Any], files: Files) -> tuple[Action, ...]:
        path = _path(params)
        state = files.get(path)
        old = state.content
        if params["dialect"] == "apt":
            settings = {k: _apt_value(v) + ";" for k, v in params["set"].items()}
            new = text.set_keys(old, settings, "space", header="// " + text.HEADER.lstrip("# "))
        else:
            settings = {k: render_value(v) for k, v in params["set"].items()}
            new = text.set_keys(old, settings, STYLES[params["dialect"]],
                                fold=params["dialect"] == "sshd", header=text.HEADER)
        if new == old:
            return ()
        mode = int(params["mode"], 8) if "mode" in params else state.mode if state.mode is not None else 0o644
        return (WriteFile(path, new, mode, state.owner or "root", state.group or "root"),)

    def describe(self, params: Mapping[str, Any]) -> str:
        style = STYLES[params["dialect"]]
        if style == "apt":
            lines = "\n".join(f"  {k} {_apt_value(v)};" for k, v in params["set"].items())
        else:
            lines = "\n".join("  " + text.STYLES[style].format(k=k, v=render_value(v)) for k, v in params["set"].items())
        return f"Set in {_path(params)} (replacing any earlier value of the same key):\n{lines}"


FIX = KeyValue()

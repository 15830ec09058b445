"""Edits of line-oriented configuration text, shared by the fix types that set keys."""
from __future__ import annotations

import re
from typing import Mapping

HEADER = "# Written by fedharden fix; each setting serves a requirement of a directive.\n"

# How a dialect writes one setting: KEY value, KEY=value, key = value.
STYLES = {"space": "{k} {v}", "equals": "{k}={v}", "spaced_equals": "{k} = {v}"}
_KEY = re.compile(r"^\s*([^\s=#;]+)\s*(=|\s|$)")


def key_of(line: str) -> str | None:
    """The key an active line sets (None for comments and blank lines)."""
    if not line.strip() or line.lstrip().startswith(("#", ";")):
        return None
    match = _KEY.match(line)
    return match.group(1) if match else None


def set_keys(text: str | None, settings: Mapping[str, str], style: str, fold: bool = False,
             header: str = "") -> str:
    """``text`` with each key set: its first active line replaced, later ones dropped (whichever
    occurrence the program honours, only one is left), missing keys appended in order."""
    def norm(key: str) -> str:
        return key.casefold() if fold else key

    wanted = {norm(k): (k, v) for k, v in settings.items()}
    done: set[str] = set()
    out: list[str] = []
    lines = (text if text is not None else header).splitlines()
    for line in lines:
        key = key_of(line)
        if key is not None and norm(key) in wanted:
            k = norm(key)
            if k not in done:
                name, value = wanted[k]
                out.append(STYLES[style].format(k=name, v=value))
                done.add(k)
            continue
        out.append(line)
    for k, (name, value) in wanted.items():
        if k not in done:
            out.append(STYLES[style].format(k=name, v=value))
    return "\n".join(out) + "\n"


def ensure_lines(text: str | None, present: list[str], absent: list[re.Pattern[str]], header: str = "") -> str:
    """``text`` without the lines matching any ``absent`` pattern, with each ``present`` line
    (compared stripped) appended when missing."""
    lines = [line for line in (text if text is not None else header).splitlines()
             if not any(p.search(line) for p in absent)]
    have = {line.strip() for line in lines}
    lines.extend(line for line in present if line.strip() not in have)
    return "\n".join(lines) + "\n" if lines else ""


def ini_set(text: str | None, section: str, settings: Mapping[str, str], header: str = "") -> str:
    """An INI-style file (systemd) with ``settings`` in ``[section]``: existing keys of that
    section replaced, missing ones added at the section's end (the section created if absent)."""
    lines = (text if text is not None else header).splitlines()
    out: list[str] = []
    current = None
    done: set[str] = set()

    def flush() -> None:
        if current == section:
            out.extend(f"{k}={v}" for k, v in settings.items() if k not in done)
            done.update(settings)

    for line in lines:
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            flush()
            current = stripped[1:-1]
            out.append(line)
            continue
        key = stripped.split("=", 1)[0].strip() if "=" in stripped and not stripped.startswith(("#", ";")) else None
        if current == section and key is not None and key in settings:
            if key not in done:
                out.append(f"{key}={settings[key]}")
                done.add(key)
            continue
        out.append(line)
    flush()
    if section not in {s.strip()[1:-1] for s in lines if s.strip().startswith("[")}:
        if out and out[-1].strip():
            out.append("")
        out.append(f"[{section}]")
        out.extend(f"{k}={v}" for k, v in settings.items())
    return "\n".join(out) + "\n"

"""What a fix type plans: the file state it reads and the actions it returns.

A fix type is pure, like a check type: ``reads(params)`` names the files (globs allowed) it
must see, the agent hands their current state over as ``Files``, and ``plan(params, files)``
returns the actions that bring the host to the required state, or nothing when it is there
already (a second apply plans nothing). The agent turns actions into diffs, writes, package
and service operations; a Bash or Ansible generator walks the same actions.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any, Mapping


class FixError(Exception):
    """A fix that cannot be planned for this host (e.g. no fstab entry to add options to)."""


@dataclass(frozen=True)
class FileState:
    """One path of the target as a planner sees it; ``kind`` is file, dir, symlink, missing or other."""

    path: str
    kind: str = "missing"
    content: str | None = None  # text of a regular file; None when absent or unreadable
    mode: int | None = None  # permission bits (07777)
    owner: str | None = None  # user and group names (numeric ids as text when unnamed)
    group: str | None = None
    link: str | None = None  # a symlink's target

    @property
    def exists(self) -> bool:
        return self.kind != "missing"


@dataclass(frozen=True)
class Files:
    """The state of every path the planners asked for; globs were expanded by the agent."""

    states: Mapping[str, FileState] = field(default_factory=dict)

    def get(self, path: str) -> FileState:
        return self.states.get(path) or FileState(path)

    def text(self, path: str) -> str | None:
        return self.get(path).content

    def matching(self, pattern: str) -> list[str]:
        """Existing paths matching a glob, sorted."""
        return sorted(p for p, s in self.states.items() if s.exists and fnmatchcase(p, pattern))

    def with_actions(self, actions: tuple[Action, ...]) -> Files:
        """The state after ``actions``, so a later planner builds on an earlier one's drop-in."""
        states = dict(self.states)
        for a in actions:
            if isinstance(a, WriteFile):
                states[a.path] = FileState(a.path, "file", a.content, a.mode, a.owner, a.group)
            elif isinstance(a, SetAttributes):
                old = states.get(a.path) or FileState(a.path)
                states[a.path] = FileState(a.path, old.kind, old.content, a.mode if a.mode is not None else old.mode,
                                           a.owner or old.owner, a.group or old.group, old.link)
            elif isinstance(a, Symlink):
                states[a.path] = FileState(a.path, "symlink", link=a.target)
            elif isinstance(a, Remove):
                states[a.path] = FileState(a.path)
        return Files(states)


@dataclass(frozen=True)
class WriteFile:
    """The whole new content of a file (created, or replaced atomically)."""

    path: str
    content: str
    mode: int = 0o644
    owner: str = "root"
    group: str = "root"
    kind: str = "write"


@dataclass(frozen=True)
class SetAttributes:
    """Mode and/or ownership of an existing path."""

    path: str
    mode: int | None = None
    owner: str | None = None
    group: str | None = None
    kind: str = "attributes"


@dataclass(frozen=True)
class Symlink:
    path: str
    target: str
    kind: str = "symlink"


@dataclass(frozen=True)
class Remove:
    path: str
    kind: str = "remove"


@dataclass(frozen=True)
class Packages:
    """Packages to install and to remove (purge), with the system's package manager."""

    install: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()
    kind: str = "packages"


@dataclass(frozen=True)
class Command:
    """A program run after the files are written (argv, never a shell). ``image`` says what
    becomes of it on an image (``--root``): ``skip`` (it acts on the running system: reload a
    daemon, set a running value), ``chroot`` (run inside the image: the files it writes are part
    of the fix, as pam-auth-update's) or ``root_option`` (run here with ``--root=IMAGE``, as
    ``systemctl --root`` edits an image's unit links without a running systemd)."""

    argv: tuple[str, ...]
    why: str
    image: str = "skip"
    best_effort: bool = False  # its failure is reported, not a reason to undo the fix
    writes: tuple[str, ...] = ()  # files it rewrites: backed up before it runs, restored on rollback
    kind: str = "command"


Action = WriteFile | SetAttributes | Symlink | Remove | Packages | Command
FILE_ACTIONS = (WriteFile, SetAttributes, Symlink, Remove)


def action_json(action: Action) -> dict[str, Any]:
    """A JSON-ready form of an action (plans saved with an apply, generators)."""
    out: dict[str, Any] = {}
    for name in action.__dataclass_fields__:
        value = getattr(action, name)
        out[name] = list(value) if isinstance(value, tuple) else value
    if out.get("mode") is not None:
        out["mode"] = f"{out['mode']:04o}"
    return out


def render_value(value: Any) -> str:
    """A parameter value as configuration files write it: booleans as yes/no."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ",".join(render_value(v) for v in value)
    return str(value)


COMMON_PROPERTIES: dict[str, Any] = {
    "note": {"type": "string", "minLength": 1, "description": "one line of advice the structured form cannot say"},
    "disruptive": {"type": "boolean", "description": "applying it can lock an operator out"},
}
ABSOLUTE = {"type": "string", "pattern": "^/[^\\0]*$", "not": {"pattern": "(^|/)\\.\\.(/|$)"}}
SETTINGS = {"type": "object", "minProperties": 1,
            "additionalProperties": {"type": ["string", "integer", "number", "boolean"]}}
NAME = {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9_.@:+-]*$"}
MODE = {"type": "string", "pattern": "^0?[0-7]{3,4}$"}


def schema(name: str, properties: Mapping[str, Any], required: tuple[str, ...]) -> dict[str, Any]:
    """A fix type's JSON Schema: its ``type`` const, its parameters and the common ones."""
    return {
        "type": "object",
        "properties": {"type": {"const": name}, **properties, **COMMON_PROPERTIES},
        "required": ["type", *required],
        "additionalProperties": False,
    }


def ensure_trailing_newline(text: str) -> str:
    return text if not text or text.endswith("\n") else text + "\n"

"""The sudoers policy as sudo reads it (sudoers(5)): fact values for the ``sudoers`` check.

The agent's gatherer (agent/facts/sudoers.py) follows includes and flattens every file into
these entries, in the order sudo parses them; checks only read them.
"""
from __future__ import annotations
from checks.record import record


# A Defaults entry's scope: "" for a global one, else the binding kind sudo applies it to.
SCOPES = {"": "global", ":": "user", "@": "host", "!": "command", ">": "runas"}


@record
class SudoDefault:
    """One option of one Defaults line. ``value`` is True/False for a flag (``use_pty``,
    ``!use_pty``), else the string (``logfile=/var/log/sudo.log``); ``op`` is ``=``, ``+=``
    or ``-=`` for list options, "" otherwise."""

    name: str
    value: bool | str
    file: str
    line: int
    scope: str = ""  # "", ":", "@", "!", ">" (see SCOPES)
    binding: tuple[str, ...] = ()  # the users, hosts, commands or runas users it is bound to
    op: str = ""

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"

    def describe(self) -> str:
        head = "Defaults" + (f"{self.scope}{','.join(self.binding)}" if self.scope else "")
        if self.value is True:
            return f"{head} {self.name}"
        if self.value is False:
            return f"{head} !{self.name}"
        return f"{head} {self.name}{self.op or '='}{self.value}"


@record
class SudoCommand:
    """One command of a user specification, with the tags in force for it (tags carry over
    to the following commands of the same list, sudoers(5) "Tag_Spec")."""

    users: str  # the User_List as written
    command: str
    tags: tuple[str, ...]  # e.g. ("NOPASSWD", "NOEXEC"): the tags set for this command
    file: str
    line: int

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


@record
class Sudoers:
    """The sudoers policy, as sudo reads it (includes followed)."""

    path: str  # the main file
    exists: bool
    files: tuple[str, ...] = ()  # every file read, in order
    defaults: tuple[SudoDefault, ...] = ()
    commands: tuple[SudoCommand, ...] = ()
    problems: tuple[str, ...] = ()  # unreadable includes, lines sudo would reject

    def global_value(self, name: str) -> SudoDefault | None:
        """The global Defaults entry in force for ``name``: the last one (sudoers(5))."""
        hits = [d for d in self.defaults if d.name == name and not d.scope]
        return hits[-1] if hits else None

    def scoped(self, name: str) -> list[SudoDefault]:
        """Scoped entries for ``name`` that remain in force for their binding: sudo applies
        every scoped Defaults after the global ones, so each can only be undone by a later
        entry of the same kind bound to the same names (or to ALL)."""
        entries = [d for d in self.defaults if d.name == name and d.scope]
        out = []
        for i, entry in enumerate(entries):
            later = entries[i + 1:]
            overridden = any(e.scope == entry.scope and (set(entry.binding) <= set(e.binding) or "ALL" in e.binding)
                             for e in later)
            if not overridden:
                out.append(entry)
        return out

"""The plan as the ordered steps a generated script or playbook carries out, in the order the
apply uses: packages first (one purge, one install), then each change's files and commands in
plan order, then the commands for a running system, once each.

A file several requirements write (one drop-in for ten sshd settings) is one step with its final
state, placed where the first of them writes it and tagged with all of them: a step that writes
the file's content compares it first, so a second run changes nothing. A command runs only when
a step of its requirements changed something in this run (a handler, in Ansible's words), except
``systemctl mask|unmask|enable|disable``, which is guarded by the unit's state instead; a
command whose requirements have no such step runs every time (nothing tells whether it is due).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from agent.fixing.planner import Plan, state_of
from checks.fixes.model import Action, Command, Packages, Remove, SetAttributes, Symlink, WriteFile

UNIT_VERBS = ("mask", "unmask", "enable", "disable")


@dataclass(frozen=True)
class Step:
    """One thing to do. ``requirements`` are its tags; ``marks``: the requirements a change made
    by it makes due (their commands run); ``after``: a command runs when one of these is due
    (empty: always)."""

    action: Action
    requirements: tuple[str, ...]
    marks: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    live_only: bool = False  # a command for the running system: only on a host booted with systemd

    @property
    def unit_command(self) -> bool:
        return is_unit_command(self.action)


@dataclass
class Steps:
    steps: list[Step] = field(default_factory=list)
    requirements: list[str] = field(default_factory=list)  # every requirement of the plan, in order


def is_unit_command(action: Action) -> bool:
    return (isinstance(action, Command) and len(action.argv) == 3 and action.argv[0] == "systemctl"
            and action.argv[1] in UNIT_VERBS)


def _final(plan: Plan, path: str, actions: list[Action]) -> Action:
    """The one action that leaves ``path`` as the whole plan leaves it."""
    after = state_of(plan.after, path)
    if after.kind == "missing" and any(isinstance(a, Remove) for a in actions):
        return Remove(path)
    if after.kind == "symlink" and after.link is not None and any(isinstance(a, Symlink) for a in actions):
        return Symlink(path, after.link)
    writes = [a for a in actions if isinstance(a, WriteFile)]
    if writes:
        if after.kind != "file" or after.content is None:
            return writes[-1]
        return WriteFile(path, after.content, after.mode if after.mode is not None else writes[-1].mode,
                         after.owner or writes[-1].owner, after.group or writes[-1].group)
    mode = owner = group = None
    for a in actions:
        if isinstance(a, SetAttributes):
            mode = a.mode if a.mode is not None else mode
            owner, group = a.owner or owner, a.group or group
    return SetAttributes(path, mode, owner, group)


def walk(plan: Plan) -> Steps:
    out = Steps(requirements=[c.requirement for c in plan.changes])
    by_path: dict[str, list[str]] = {}
    path_actions: dict[str, list[Action]] = {}
    for change in plan.changes:
        for action in change.actions:
            if isinstance(action, (WriteFile, SetAttributes, Symlink, Remove)):
                owners = by_path.setdefault(action.path, [])
                if change.requirement not in owners:
                    owners.append(change.requirement)
                path_actions.setdefault(action.path, []).append(action)
    # Requirements with a step that can tell whether it changed something.
    tracked = {r for writers in by_path.values() for r in writers}
    tracked |= {c.requirement for c in plan.changes for a in c.actions if is_unit_command(a)}

    # One purge and one install, as the apply runs them; every requirement asking for a package
    # is due when they change something (several may ask for the same one).
    install: dict[str, list[str]] = {}
    remove: dict[str, list[str]] = {}
    for change in plan.changes:
        for action in change.actions:
            if isinstance(action, Packages):
                for named, into in ((action.install, install), (action.remove, remove)):
                    for p in named:
                        into.setdefault(p, []).append(change.requirement)
    for wanted, packages in ((remove, Packages(remove=tuple(remove))), (install, Packages(install=tuple(install)))):
        if wanted:
            asking = tuple(dict.fromkeys(r for rs in wanted.values() for r in rs))
            out.steps.append(Step(packages, asking, marks=asking))
            tracked |= set(asking)

    done: set[str] = set()
    deferred: dict[tuple[str, ...], tuple[Command, list[str]]] = {}
    for change in plan.changes:
        rid = change.requirement
        for action in change.actions:
            if isinstance(action, Packages):
                continue
            if isinstance(action, (WriteFile, SetAttributes, Symlink, Remove)):
                if action.path in done:
                    continue
                done.add(action.path)
                writers = tuple(by_path[action.path])
                out.steps.append(Step(_final(plan, action.path, path_actions[action.path]), writers, marks=writers))
            elif isinstance(action, Command):
                if action.image == "skip":
                    entry = deferred.setdefault(action.argv, (action, []))
                    if rid not in entry[1]:
                        entry[1].append(rid)
                elif is_unit_command(action):
                    out.steps.append(Step(action, (rid,), marks=(rid,)))
                else:
                    out.steps.append(Step(action, (rid,), after=(rid,) if rid in tracked else ()))
    for command, by in deferred.values():
        after = tuple(by) if all(r in tracked for r in by) else ()
        out.steps.append(Step(command, tuple(by), after=after, live_only=True))
    return out

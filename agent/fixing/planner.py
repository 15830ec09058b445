"""The remediation plan: for each failing requirement with a structured fix, the actions that fix
it on this target, planned in order over the state the earlier ones leave (two requirements
setting keys of one drop-in share it), and what was left out and why."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from agent.fixing.targetfs import TargetFS
from checks import fixes
from checks.fixes.model import Action, FileState, Files, action_json
from directives.model import Directive, Requirement

SEVERITIES = ("critical", "high", "medium", "low")


@dataclass(frozen=True)
class Change:
    """What fixing one requirement takes: a generator (Bash, Ansible) walks these."""

    requirement: str
    directive: str
    title: str
    severity: str
    fix: Mapping[str, Any]  # the structured fix as the directive states it (parameters substituted)
    disruptive: bool
    actions: tuple[Action, ...]

    @property
    def types(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(str(p["type"]) for p in fixes.parts(self.fix)))

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(a.path for a in self.actions if hasattr(a, "path")))

    def to_json(self) -> dict[str, Any]:
        return {"requirement": self.requirement, "directive": self.directive, "title": self.title,
                "severity": self.severity, "types": list(self.types), "disruptive": self.disruptive,
                "fix": dict(self.fix), "actions": [action_json(a) for a in self.actions]}


@dataclass(frozen=True)
class Skipped:
    requirement: str
    reason: str


@dataclass
class Plan:
    changes: list[Change] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    before: Files = field(default_factory=Files)  # every path the planners read, as found
    after: Files = field(default_factory=Files)  # the same after every change

    def to_json(self) -> dict[str, Any]:
        return {"changes": [c.to_json() for c in self.changes],
                "skipped": [{"requirement": s.requirement, "reason": s.reason} for s in self.skipped]}


@dataclass(frozen=True)
class Choice:
    """Which failing requirements to plan for, as the command line narrowed them."""

    requirements: tuple[str, ...] = ()
    directives: tuple[str, ...] = ()
    severity: str = "low"
    include_disruptive: bool = False


def fixable(directives: Sequence[Directive]) -> dict[str, tuple[Directive, Requirement]]:
    return {r.id: (d, r) for d in directives for r in d.requirements}


def make_plan(target: TargetFS, directives: Sequence[Directive], failing: Iterable[str], choice: Choice) -> Plan:
    """Plan the fixes of ``failing`` requirement ids (those ``choice`` selects) on ``target``."""
    known = fixable(directives)
    target.refresh()
    plan = Plan()
    wanted: list[tuple[Directive, Requirement]] = []
    for rid in dict.fromkeys(failing):
        if rid not in known:
            continue
        directive, req = known[rid]
        if choice.requirements and rid not in choice.requirements:
            continue
        if choice.directives and directive.id not in choice.directives:
            continue
        if SEVERITIES.index(req.severity) > SEVERITIES.index(choice.severity):
            continue
        if req.fix is None:
            plan.skipped.append(Skipped(rid, "no structured fix: see its remediation (fedharden directives show)"))
        elif fixes.is_manual(req.fix):
            questions = " ".join(str(p.get("question", "")) for p in fixes.parts(req.fix))
            plan.skipped.append(Skipped(rid, f"needs a decision: {questions}"))
        elif fixes.disruptive(req.fix) and not choice.include_disruptive:
            plan.skipped.append(Skipped(rid, "disruptive (can lock an operator out): left out without "
                                             "--include-disruptive"))
        else:
            wanted.append((directive, req))
    paths = [p for _, req in wanted for p in fixes.reads(req.fix or {})]
    files = target.files(paths)
    plan.before = files
    for directive, req in wanted:
        assert req.fix is not None
        more = [p for p in fixes.reads(req.fix) if p not in files.states]
        if more:  # a glob's matches among what earlier changes created are in ``files`` already
            found = target.files(more).states
            files = Files({**found, **files.states})
            plan.before = Files({**found, **plan.before.states})
        try:
            actions = fixes.plan(req.fix, files)
        except fixes.FixError as exc:
            plan.skipped.append(Skipped(req.id, f"cannot be planned here: {exc}"))
            continue
        if not actions:
            if _plans(req.fix, plan.before):  # an earlier change of this plan does it
                plan.changes.append(Change(req.id, directive.id, req.title, req.severity, req.fix,
                                           fixes.disruptive(req.fix), ()))
            else:
                plan.skipped.append(Skipped(req.id, "nothing to change: the fix is in place "
                                                    "(the re-scan says why it fails)"))
            continue
        files = files.with_actions(actions)
        plan.changes.append(Change(req.id, directive.id, req.title, req.severity, req.fix,
                                   fixes.disruptive(req.fix), actions))
    plan.after = files
    return plan


def _plans(fix: Mapping[str, Any], files: Files) -> bool:
    try:
        return bool(fixes.plan(fix, files))
    except fixes.FixError:
        return False


def state_of(files: Files, path: str) -> FileState:
    return files.states.get(path) or FileState(path)

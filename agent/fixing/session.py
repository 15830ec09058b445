"""One ``fix --apply``: plan, apply, re-scan, and again while the re-scan finds requirements
the plan could not see failing before (installing cron makes its directories' modes judged;
installing sudo, its log file) — at most ROUNDS times, so that a second apply changes nothing."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from agent.contract import Report
from agent.fixing import cycle
from agent.fixing.apply import apply
from agent.fixing.journal import Journal
from agent.fixing.planner import Choice, Plan, make_plan
from agent.fixing.targetfs import TargetFS

ROUNDS = 3


@dataclass
class Session:
    journal: Journal | None = None
    plans: list[Plan] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    verdict: cycle.Verdict = field(default_factory=cycle.Verdict)
    report: Report | None = None  # the last re-scan


def apply_and_rescan(target: TargetFS, directives: Sequence[Any], failing: Sequence[str], choice: Choice,
                     state_dir: str, scan: Callable[[], Report], first: Plan | None = None,
                     about: dict[str, Any] | None = None) -> Session:
    """``about``: who applies and how, for the journal (agent.fixing.journal.Journal.start)."""
    session = Session()
    seen: set[str] = set()
    plan = first or make_plan(target, directives, failing, choice)
    for _ in range(ROUNDS):
        if not plan.changes:
            break
        session.plans.append(plan)
        done = apply(plan, target, state_dir, journal=session.journal, about=about)
        session.journal = done.journal
        session.changed.extend(r for r in done.changed if r not in session.changed)
        session.warnings.extend(done.warnings)
        seen.update(c.requirement for c in plan.changes)
        report = scan()
        session.report = report
        session.verdict = cycle.verdict(report, session.changed)
        new = [r for r in cycle.failing(report["results"]) if r not in seen]
        plan = make_plan(target, directives, new, choice)
    if session.journal is not None:
        session.journal.finish("applied", result=session.verdict.to_json(), warnings=session.warnings)
    return session

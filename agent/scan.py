"""One scan: plan the requirements, gather the facts they need once, judge, report."""
from __future__ import annotations

import datetime as dt
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence, cast

import checks
from agent import __version__
from agent.facts import gather
from agent.facts.context import Context
from agent.facts.osinfo import os_release
from agent.hosts.base import Host
from agent.facts import osinfo
from agent.identity import PATHS as IDENTITY_PATHS
from agent.identity import host_id, hostname
from agent import contract
from agent.contract import state_digest, summarize
from agent.report import SCHEMA_VERSION, Result, valid_text
from agent.waivers import apply as apply_waivers
from agent.waivers import for_host
from checks.facts import FactKey, Facts, OsRelease, Unavailable
from checks.model import Evidence, Outcome, Status, Verdict, settle
from directives.model import SEVERITIES, Directive, Requirement
from directives.tailoring import Tailoring
from directives.waivers import Waiver
from checks.record import record



def directive_ref(d: Directive) -> contract.DirectiveRef:
    """How a report names a directive: id, content digest and, when it declares one, version."""
    ref: contract.DirectiveRef = {"id": d.id, "title": d.title, "issued": d.issued.isoformat(), "digest": d.digest,
                                  "kind": d.kind, "url": d.url, "requirements": len(d.requirements)}
    if d.version:
        ref["version"] = d.version
    return ref

@record
class Selection:
    """Which requirements to evaluate: directive ids (empty = all), a minimum severity, and
    whether to walk the whole filesystem (``walk``): requirements that need the walk are
    left out unless asked for, and the report says so in its warnings."""

    directives: tuple[str, ...] = ()
    min_severity: str = "low"
    walk: bool = False

    def wants(self, requirement: Requirement) -> bool:
        return SEVERITIES.index(requirement.severity) <= SEVERITIES.index(self.min_severity)

    def needs_walk(self, requirement: Requirement) -> bool:
        return not self.walk and any(k.family == "fswalk" for k in checks.needs(requirement.check))


@dataclass
class Scan:
    """One scan of a host: the directives, what is selected, and what applies to the result."""

    host: Host
    directives: Sequence[Directive]
    selection: Selection = field(default_factory=Selection)
    now: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))
    agency: str = ""
    tags: tuple[str, ...] = ()
    waivers: Sequence[Waiver] | None = None  # None: no waivers file given
    feeds: Any = None  # agent.feeds.store.FeedStore; None = the configured store (or the shipped snapshot)
    tailoring: Tailoring | None = None
    # When each result (by key) was first seen failing, from the agent's state: deadlines
    # counted from discovery (BOD 23-02's 14 days) run from there; a key not here, from today.
    first_seen: Mapping[str, dt.date] = field(default_factory=dict)
    state_dir: str | None = None  # the agent's state directory on the target; None: the default
    data: Mapping[str, str] | None = None  # signed data files in force (agent.directive_store.data_files)

    def chosen(self) -> list[Directive]:
        """The directives to evaluate, tailored (requirements dropped, parameters set) when asked."""
        chosen = [d for d in self.directives if not self.selection.directives or d.id in self.selection.directives]
        return self.tailoring.apply(chosen) if self.tailoring else chosen

    def run(self) -> contract.Report:
        started = time.monotonic()
        from agent.feeds.store import FeedStore

        store = self.feeds if self.feeds is not None else FeedStore.configured(None)
        store.used, store.notes = [], []  # the feeds this scan reads, for their warnings
        ctx = Context(self.host, feeds=store, now=self.now, data=self.data,
                      **({"state_dir": self.state_dir} if self.state_dir else {}))
        directives = self.chosen()
        wanted = [(d, r) for d in directives for r in d.requirements if self.selection.wants(r)]
        unwalked = [r.id for _, r in wanted if self.selection.needs_walk(r)]
        requirements = [(d, r) for d, r in wanted if r.id not in unwalked]
        keys: set[FactKey] = set()
        for _, req in requirements:
            keys |= checks.needs(req.check)
            if req.only_if:
                keys |= checks.needs(req.only_if)
        for directive in directives:
            if directive.applies_to.get("evident"):
                keys |= checks.needs(directive.applies_to["evident"])
        facts = gather(ctx, keys, also=(*osinfo.PATHS, *IDENTITY_PATHS))
        release = os_release(ctx)
        results: list[Result] = []
        for directive, req in requirements:
            results.extend(self._judge(directive, req, facts, release))
        name, hid = hostname(ctx), host_id(ctx)
        waivers = for_host(self.waivers or (), name, hid, self.tags)
        results, warnings = apply_waivers(results, waivers, self.now.date())
        # A host may explain degraded gathering (for example sudo refused on an SSH target).
        warnings = [*getattr(self.host, "warnings", []), *warnings]
        result_json = [valid_text(r.to_json()) for r in results]  # names from the host may not be UTF-8
        feeds, feed_warnings = store.report(self.now)
        warnings = [*feed_warnings, *warnings]
        if unwalked:
            warnings.append(f"not evaluated, they walk every local filesystem: {', '.join(unwalked)} (scan with --walk)")
        finished = dt.datetime.now(dt.timezone.utc)
        os_json: contract.OsInfo = {}
        if isinstance(release, OsRelease):
            os_json = {"id": release.id, "version_id": release.version_id, "pretty_name": release.pretty_name,
                       "codename": release.codename, "family": release.family}
        host: contract.HostInfo = {"id": hid, "hostname": name, "target": self.host.name, "os": os_json}
        if self.agency:
            host["agency"] = self.agency
        if self.tags:
            host["tags"] = list(self.tags)
        scan: contract.ScanInfo = {
            "started_at": self.now.isoformat(timespec="seconds"),
            "finished_at": finished.isoformat(timespec="seconds"),
            "duration_ms": int((time.monotonic() - started) * 1000),
            "live": self.host.live,
            "feeds": cast(list[contract.Feed], feeds),
        }
        if self.waivers is not None:
            scan["waivers"] = [cast(contract.Waiver, w.to_json(self.now.date())) for w in waivers]
        if self.tailoring is not None:
            scan["tailoring"] = cast(contract.Tailoring, self.tailoring.to_json(self.directives))
        return {
            "schema_version": SCHEMA_VERSION,
            "kind": "full",
            "report_id": uuid.uuid4().hex,
            "generated_at": finished.isoformat(timespec="seconds"),
            "sequence": 0,
            "base": None,
            "state_digest": state_digest(result_json),
            "agent": {"name": "fedharden", "version": __version__},
            "host": host,
            "scan": scan,
            "directives": [directive_ref(d) for d in directives],
            "results": result_json,
            "summary": summarize(result_json),
            "warnings": valid_text(warnings),
        }

    # ------------------------------------------------------------------------------------

    def _judge(self, directive: Directive, req: Requirement, facts: Facts,
               release: object) -> list[Result]:
        outcome = self._applicable(directive, req, facts, release)
        if outcome is None:
            outcome = checks.evaluate(req.check, facts)
        if not outcome.findings:
            return [self._result(req, req.id, outcome.status, outcome.evidence, outcome.message, req.due_date())]
        return [
            self._result(req, f"{req.id}#{f.id}", f.status, f.evidence, f.message, f.due or req.due_date(),
                         finding=f.id, fields=f.fields)
            for f in outcome.findings
        ]

    def _applicable(self, directive: Directive, req: Requirement, facts: Facts,
                    release: object) -> Outcome | None:
        """An outcome when the requirement does not apply here (or that cannot be known)."""
        families = directive.applies_to.get("os_family")
        if families:
            if not isinstance(release, OsRelease):
                why = release.reason if isinstance(release, Unavailable) else "no os-release"
                return Outcome(Status.ERROR, (), f"cannot tell the operating system: {why}")
            if release.family not in families:
                return Outcome(Status.NOT_APPLICABLE, (Evidence(", ".join(families), release.family, "/etc/os-release"),),
                               f"{directive.id} applies to {', '.join(families)} hosts")
        if roles := directive.applies_to.get("roles"):
            scoped = self._role(directive, req, roles, facts)
            if scoped is not None:
                return scoped
        if req.only_if:
            gate = checks.evaluate(req.only_if, facts)
            context = tuple(e.judged(Verdict.INFO) for e in gate.evidence)  # the condition's, not the check's
            if gate.status is Status.FAIL:
                return Outcome(Status.NOT_APPLICABLE, context, "the condition for this requirement does not hold")
            if gate.status is not Status.PASS:
                return Outcome(gate.status, context, gate.message or "cannot tell whether this requirement applies")
        return None

    def _role(self, directive: Directive, req: Requirement, roles: list[str], facts: Facts) -> Outcome | None:
        """None when the host plays one of the directive's roles: declared as a ``role:NAME``
        tag, or shown by the directive's ``evident`` check; otherwise not applicable, with
        what was looked at (or error when that could not be judged)."""
        declared = sorted(t for t in self.tags if t.startswith("role:") and t[5:] in roles)
        if declared:
            return None
        wanted = ", ".join(roles)
        evident = directive.applies_to.get("evident")
        gate = checks.evaluate(evident, facts) if evident else Outcome(Status.FAIL)
        if gate.status is Status.PASS:
            return None
        context = tuple(e.judged(Verdict.INFO) for e in gate.evidence)  # what was looked at, not the check's
        tags = Evidence(f"a host tag role:NAME, NAME one of {wanted}",
                        ", ".join(self.tags) or "no tags", "host tags", Verdict.INFO)
        if gate.status in (Status.FAIL, Status.NOT_APPLICABLE):
            return Outcome(Status.NOT_APPLICABLE, (tags, *context),
                           f"{directive.id} applies to hosts acting as {wanted}; none is declared in the "
                           "host's tags or evident on the host")
        # Whether the directive applies is unknown; when the check itself has nothing to judge
        # (an image has no listeners) the requirement is not applicable either way.
        judged = checks.evaluate(req.check, facts)
        if judged.status is Status.NOT_APPLICABLE:
            return judged
        return Outcome(gate.status, (tags, *context),
                       gate.message or f"cannot tell whether this host acts as {wanted}")

    def _result(self, req: Requirement, key: str, status: Status, evidence: tuple[Evidence, ...], message: str,
                due: dt.date | None, finding: str = "", fields: Any = None) -> Result:
        today = self.now.date()
        if (days := req.days_after_discovery) is not None:
            due = (self.first_seen.get(key, today) + dt.timedelta(days=days)) if status is Status.FAIL else None
        days_left = (due - today).days if due else None
        cve = finding if finding.startswith("CVE-") else ""
        return Result(
            key=key, directive=req.directive_id, requirement=req.id, title=req.title, severity=req.severity,
            status=status, evidence=settle(status, evidence), due=due,
            overdue=bool(status is Status.FAIL and due and due < today),
            days_left=days_left, references=req.references, remediation=req.remediation, message=message,
            finding=finding, cve=cve, fields=fields or {},
        )

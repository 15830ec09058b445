"""Compliance deltas: what changed since the last report, and the report that carries it.

A scan produces every result. Against the last state (agent.state.AgentState) each result
is one of: newly failing, fixed (fail to pass), changed evidence (or another status move),
waived, unwaived, added, removed, or unchanged. Only the changed ones travel in a
``kind=delta`` report; unchanged results keep the exact object last reported, so the
``state_digest`` the agent computes is the one the collector computes after applying.

``days_left`` is recomputed by every scan from ``due`` and today's date; a change of that
field alone is not a change (it would make every result travel daily). ``overdue`` flipping
is a change.

A full snapshot is sent instead of a delta on first contact, when the collector asked for a
resync, or when the host id changed. A directive added, changed (a new content digest) or
removed is a delta like any other: its results travel as changes and removals, and the
directive itself in the header patch.

What travels for a delta is its compact form (``compact``, schema 1.1): of the header only
the scan's own times and a JSON merge patch of what changed since the base, with the digest
of the whole header after it, so that an unchanged scan costs a few hundred bytes.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from dataclasses import dataclass, field
from typing import Any, Iterable, Literal, Mapping, Sequence, cast

from agent.contract import (COMPACT_VERSION, SCAN_TIMES, CompactDelta, Report, Result, canonical, header_digest,
                            header_form, header_patch, state_digest, summarize)
from agent.state import HISTORY, AgentState

VOLATILE = frozenset({"days_left", "failing_since"})
HEADER = ("schema_version", "agent", "host", "scan", "directives", "warnings")


@dataclass(frozen=True)
class Delta:
    """Keys by kind of change; ``unchanged`` is a count."""

    newly_failing: tuple[str, ...] = ()
    fixed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()  # same status with other evidence, or another status move
    waived: tuple[str, ...] = ()
    unwaived: tuple[str, ...] = ()
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    unchanged: int = 0
    kinds: Mapping[str, str] = field(default_factory=dict)  # key -> kind, for every changed key

    def describe(self) -> str:
        parts = [f"{len(self.newly_failing)} newly failing", f"{len(self.fixed)} fixed",
                 f"{len(self.changed)} changed", f"{len(self.waived)} waived", f"{len(self.unwaived)} unwaived"]
        if self.added:
            parts.append(f"{len(self.added)} added")
        if self.removed:
            parts.append(f"{len(self.removed)} removed")
        parts.append(f"{self.unchanged} unchanged")
        return ", ".join(parts)


def directives_digest(directives: Iterable[Mapping[str, Any]]) -> str:
    pairs = sorted((d["id"], d["digest"]) for d in directives)
    return "sha256:" + hashlib.sha256(canonical(pairs)).hexdigest()


def _stable(result: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k not in VOLATILE}


def classify(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> str:
    before, after = (old or {}).get("status"), new["status"]
    if before == "waived" and after != "waived":
        return "unwaived"
    if after == "waived" and before != "waived":
        return "waived"
    if after == "fail" and before != "fail":
        return "newly_failing"
    if before == "fail" and after == "pass":
        return "fixed"
    if old is None:
        return "added"
    return "changed"


def compare(old: Mapping[str, Mapping[str, Any]], scanned: Sequence[Mapping[str, Any]],
            now: str) -> tuple[dict[str, dict[str, Any]], Delta]:
    """The state after this scan (key -> result as it will be reported) and what changed.

    ``failing_since`` is carried over while a result keeps failing and set to ``now`` when
    it starts failing; it is null otherwise."""
    state: dict[str, dict[str, Any]] = {}
    buckets: dict[str, list[str]] = {k: [] for k in ("newly_failing", "fixed", "changed", "waived", "unwaived",
                                                       "added")}
    kinds: dict[str, str] = {}
    unchanged = 0
    for result in scanned:
        key = result["key"]
        previous = old.get(key)
        if previous is not None and _stable(previous) == _stable(result):
            state[key] = dict(previous)
            unchanged += 1
            continue
        current = dict(result)
        if current["status"] == "fail":
            was_failing = previous is not None and previous["status"] == "fail"
            since = previous.get("failing_since") if previous is not None and was_failing else None
            current["failing_since"] = since or now
        else:
            current["failing_since"] = None
        state[key] = current
        kind = classify(previous, current)
        buckets[kind].append(key)
        kinds[key] = kind
    removed = tuple(sorted(k for k in old if k not in state))
    for key in removed:
        kinds[key] = "removed"
    delta = Delta(**{k: tuple(v) for k, v in buckets.items()}, removed=removed, unchanged=unchanged,
                  kinds=kinds)
    return state, delta


def build(state: AgentState, kind: Literal["full", "delta"], base: str | None, changes: list[dict[str, Any]] | None = None,
          removed: list[str] | None = None) -> Report:
    """A report (full or delta) for ``state``, which must already hold the new sequence."""
    results = cast(list[Result], state.ordered_results())  # stored as reported: the schema's shape
    assert state.report_id is not None, "the state holds the new report id"
    report = cast(Report, {k: state.header[k] for k in HEADER if k in state.header})
    report.update({
        "kind": kind,
        "report_id": state.report_id,
        "generated_at": state.header["generated_at"],
        "sequence": state.sequence,
        "base": base,
        "state_digest": state_digest(results),
        "summary": summarize(results),
    })
    if kind == "full":
        report["results"] = results
    else:
        report["changes"] = cast(list[Result], changes or [])
        report["removed"] = removed or []
    return report


def new_report_id() -> str:
    return uuid.uuid4().hex


def next_report(previous: AgentState | None, scanned: Report,
                force_full: bool = False) -> tuple[Report, AgentState, Delta]:
    """The report to send after ``scanned`` (a full report from Scan.run) and the state
    that follows it. Nothing is written here: agent.reporting commits both."""
    host_id = scanned["host"]["id"]
    digest = directives_digest(scanned["directives"])
    usable = previous if previous is not None and previous.host_id == host_id else None
    old = usable.results if usable else {}
    results, delta = compare(old, scanned["results"], scanned["scan"]["started_at"])
    # A changed directive set is no reason for a full report: its results are in the delta.
    full = force_full or usable is None or usable.needs_full or usable.report_id is None
    header: dict[str, Any] = {k: v for k, v in scanned.items() if k in HEADER}
    header["generated_at"] = scanned["generated_at"]
    report_id = new_report_id()
    state = AgentState(host_id=host_id, sequence=(previous.sequence if previous else 0) + 1,
                       report_id=report_id, directives_digest=digest, results=results,
                       order=[r["key"] for r in scanned["results"]], header=header, needs_full=False,
                       history=[*(previous.history if previous else []), report_id][-HISTORY:])
    if full:
        return build(state, "full", None), state, delta
    changes = [results[k] for k in state.order if k in delta.kinds]
    assert usable is not None
    return build(state, "delta", usable.report_id, changes, list(delta.removed)), state, delta


def compact(report: Report, base_header: Mapping[str, Any]) -> CompactDelta:
    """The wire form of a delta (schema 1.1): the scan's own times, a merge patch of the header
    form since ``base_header`` (the base report's header; absent when nothing changed) and the
    digest of the header form after it, which the collector checks as it checks state_digest."""
    assert report["kind"] == "delta" and report.get("base"), "only a delta has a compact form"
    form = header_form(report)
    scan = cast(Mapping[str, Any], report["scan"])
    out: CompactDelta = {
        "schema_version": COMPACT_VERSION, "kind": "delta", "report_id": report["report_id"],
        "generated_at": report["generated_at"], "sequence": report["sequence"], "base": str(report.get("base")),
        "state_digest": report["state_digest"], "header_digest": header_digest(form),
        "scan": cast(Any, {k: scan[k] for k in SCAN_TIMES if k in scan}),
        "changes": report.get("changes", []), "removed": report.get("removed", []),
    }
    patch = header_patch(header_form(base_header), form)
    if patch:
        out["header"] = patch
    return out


def snapshot(previous: AgentState) -> tuple[Report, AgentState]:
    """A full snapshot of ``previous`` under a new sequence and report id (after a resync,
    or folding a full spool). The results are the same objects: nothing is rescanned."""
    header = {**previous.header, "generated_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
    report_id = new_report_id()
    state = AgentState(host_id=previous.host_id, sequence=previous.sequence + 1, report_id=report_id,
                       directives_digest=previous.directives_digest, results=previous.results,
                       order=previous.order, header=header, needs_full=False,
                       history=[*previous.history, report_id][-HISTORY:])
    return build(state, "full", None), state

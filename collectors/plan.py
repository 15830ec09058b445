"""What one report changes, decided without a database: ``plan_writes(stored, report)``.

Given what the collector holds for a host (its row, the stored results the report touches and
its per-directive summaries), a valid report is checked against that state (order, base,
directives, removed keys, ``state_digest``) and turned into a Plan: the rows to write, the
events, the changes of the shared counters, and the answer. A full report comes with every
stored result of its host; a delta with only the rows it replaces, and moves the stored digest
(a sum, agent.contract.state_digest) and the summaries by them, so its cost does not grow with
the host's state. collectors.apply loads the state, and writes the plans of a round together.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, NamedTuple, Sequence

from agent.contract import HostStatus, host_status
from agent.contract import COMPACT_VERSION, apply_patch, directives_of, header_digest, header_form
from agent.contract import canonical, digest_text, digest_value, result_hash
from collectors import BadRequest, Resync
from collectors.models import HOST_STATUS_COLUMNS, NO_DUE, STATUSES
from collectors.wire import canonical_result, header_problems, utc

# agg_directives' counters in the order of a plan's changes to them: hosts, then hosts by status
DIRECTIVE_COUNTERS = ("hosts", *HOST_STATUS_COLUMNS)
_STATUS_SLOT = {status: 1 + i for i, status in enumerate(HostStatus)}  # HOST_STATUS_COLUMNS is in this order


class Stored(NamedTuple):
    """One current result as stored: what a plan needs to diff, count and digest."""

    directive: str
    requirement: str
    status: str
    due: str
    doc: str


class HostState(NamedTuple):
    """The host's row as the collector holds it (the columns of ``hosts`` a plan reads)."""

    id: int
    host_id: str
    agency_id: int
    shard: int
    last_report_id: str | None
    last_sequence: int | None
    state_digest: str | None
    directives_digest: str | None
    total: int
    tags: str | None
    hostname: str = ""
    target: str = ""
    os: str = ""
    agent_version: str = ""
    header_digest: str | None = None  # from host_headers: last, as the hosts read joins it


Summary = dict[str, Any]  # one directive on one host: {"counts": {status: n}, "fail_min_due": date or NO_DUE}
RequirementKey = tuple[int, str, str, str, int]  # agg_requirements: (agency, directive, requirement, due, shard)
DirectiveKey = tuple[int, str, int]  # agg_directives: (agency, directive, shard)


@dataclass(frozen=True)
class StoredState:
    """What the collector holds for one host, as far as one report needs it."""

    host: HostState
    results: Mapping[str, Stored]  # a full report: every stored result; a delta: those it names
    summaries: Mapping[str, Summary]  # per directive, as last written (host_directives)
    header: Mapping[str, Any] | None = None  # the stored header form: for a compact delta that patches it


@dataclass
class Plan:
    """One accepted report's writes and answer. Row dicts are in the tables' column names."""

    answer: dict[str, Any]
    host: dict[str, Any]  # the host's row, by its id
    report: dict[str, Any]  # the reports row
    results: list[dict[str, Any]] = field(default_factory=list)  # upserted (failing_since kept while failing)
    inserted: set[str] = field(default_factory=set)  # keys of ``results`` the host did not hold: plain inserts
    deleted_results: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    host_directives: dict[str, dict[str, Any]] = field(default_factory=dict)  # replaced rows, by directive
    deleted_host_directives: list[dict[str, Any]] = field(default_factory=list)
    tags_added: list[dict[str, Any]] = field(default_factory=list)  # host_tags rows
    tags_removed: list[str] = field(default_factory=list)
    header_doc: dict[str, Any] | None = None  # the host_headers row, when the header changed
    versions: list[dict[str, Any]] | None = None  # host_directive_versions rows, when they changed
    # Counter changes: status -> change per requirement key; DIRECTIVE_COUNTERS' changes per directive key
    requirement_counts: dict[RequirementKey, dict[str, int]] = field(default_factory=dict)
    directive_counts: dict[DirectiveKey, list[int]] = field(default_factory=dict)
    # Directives whose earliest failing due date may have left with a result: read back from the
    # stored results once the round's results are written (settle), with the summaries to fix.
    recount: set[str] = field(default_factory=set)
    summaries: dict[str, Summary] = field(default_factory=dict)

    def settle(self, dues: Mapping[tuple[int, str], str]) -> None:
        """Set the recounted directives' earliest failing due dates, ``dues`` by (host, directive)."""
        host_pk = self.host["id"]
        for directive in self.recount & set(self.summaries):
            due = dues.get((host_pk, directive), NO_DUE)
            self.summaries[directive]["fail_min_due"] = self.host_directives[directive]["fail_min_due"] = due
        self.host["fail_min_due"] = host_min_due(self.summaries)


def directives_digest(report: Mapping[str, Any]) -> str | None:
    """The digest of the report's directive ids and content digests; None for a compact delta,
    which carries them only in its header patch, when they change."""
    if "directives" not in report:
        return None
    return _pairs_digest((d["id"], d["digest"]) for d in report["directives"])


def _pairs_digest(pairs: Iterable[tuple[str, str]]) -> str:
    return "sha256:" + hashlib.sha256(canonical(sorted(pairs))).hexdigest()


def position(host: HostState) -> dict[str, Any]:
    """What the collector holds for the host, told with every resync so the agent can realign."""
    return {"last_report_id": host.last_report_id, "last_sequence": host.last_sequence}


def check_order(host: HostState, report: Mapping[str, Any], directives: str | None) -> None:
    """Resync unless the report comes next on this host: a later sequence; for a delta, the
    host's current state as its base and, for a delta of schema 1.0, the same directives
    (``directives``: their digest; a compact delta's header patch may change them)."""
    seq = report["sequence"]
    if host.last_sequence is not None and seq <= host.last_sequence:
        raise Resync("out_of_order", f"sequence {seq} is not after the last applied sequence {host.last_sequence}",
                     **position(host))
    if report["kind"] != "delta":
        return
    if host.last_report_id is None:
        raise Resync("no_state", "the collector holds no state for this host yet", **position(host))
    if report["base"] != host.last_report_id:
        raise Resync("unknown_base", f"base {report['base']} is not the host's current state", **position(host))
    if directives is not None and host.directives_digest != directives:
        raise Resync("directives_changed", "the directives differ from those of the host's current state",
                     **position(host))


def plan_writes(stored: StoredState, report: Mapping[str, Any], received: dt.datetime,
                directives: str | None = None) -> Plan:
    """The writes of one valid report applied to ``stored``, received at ``received``; raises
    Resync or BadRequest (its answer) when it cannot be applied. ``directives``: the report's
    directives_digest, when the caller has it already."""
    host = stored.host
    if directives is None:
        directives = directives_digest(report)
    check_order(host, report, directives)
    form, header = reported_header(stored, report)
    full = report["kind"] == "full"
    new = {r["key"]: r for r in (report["results"] if full else report["changes"])}
    new_docs = {key: canonical_result(item) for key, item in new.items()}
    old_rows = stored.results
    if full:
        removed = [key for key in old_rows if key not in new]
        summed = sum(result_hash(doc) for doc in new_docs.values())
        count = len(new)
    else:
        removed = report["removed"]
        for i, key in enumerate(removed):
            if key not in old_rows:
                raise Resync("unknown_key", f"removed key {key!r} ($.removed[{i}]) is not in the host's current "
                             "state", **position(host))
        base = digest_value(host.state_digest or "")
        if base is None:
            raise Resync("digest_mismatch", "the host's stored state has a digest of an older form; send a full "
                         "report", **position(host))
        # The stored digest moved by the rows replaced: a delta costs what it changes.
        summed = base + sum(result_hash(doc) for doc in new_docs.values())
        summed -= sum(result_hash(old_rows[key].doc.encode())
                      for key in (*removed, *(k for k in new if k in old_rows)))
        count = host.total + sum(key not in old_rows for key in new) - len(removed)
    digest = digest_text(summed)
    if digest != report["state_digest"]:
        if full:
            raise BadRequest("does not match the digest of the report's results", "$.state_digest")
        raise Resync("digest_mismatch", "the state after applying this delta does not match its state_digest",
                     expected=report["state_digest"], computed=digest, **position(host))
    observed = min(utc(report["generated_at"]), received)  # an agent clock ahead of ours is clamped
    had_state = host.last_report_id is not None
    agency, shard = host.agency_id, host.shard
    plan = Plan(answer={}, host={}, report={})
    counts = plan.requirement_counts

    def count_of(key: RequirementKey) -> dict[str, int]:
        found = counts.get(key)
        if found is None:
            found = counts[key] = dict.fromkeys(STATUSES, 0)
        return found

    changed: list[tuple[Stored | None, Mapping[str, Any]]] = []  # (stored row or None, new result)
    for key, item in new.items():
        doc = new_docs[key].decode()
        old = old_rows.get(key)
        if old is not None and old.doc == doc:
            continue
        status, due = item["status"], item["due"] or NO_DUE
        changed.append((old, item))
        plan.results.append({"host_pk": host.id, "key": key, "directive": item["directive"],
                             "requirement": item["requirement"], "status": status, "due": due,
                             # kept by the upsert while the result keeps failing
                             "failing_since": observed if status == "fail" else None,
                             "updated_at": received, "doc": doc})
        count_of((agency, item["directive"], item["requirement"], due, shard))[status] += 1
        if old is not None:
            count_of((agency, old.directive, old.requirement, old.due, shard))[old.status] -= 1
        else:
            plan.inserted.add(key)
        if had_state and (old is None or old.status != status):
            plan.events.append(_event(host, report, key, item["directive"], item["requirement"],
                                      old.status if old else None, status, received))
    for key in removed:
        old = old_rows[key]
        plan.deleted_results.append({"host_pk": host.id, "key": key})
        count_of((agency, old.directive, old.requirement, old.due, shard))[old.status] -= 1
        plan.events.append(_event(host, report, key, old.directive, old.requirement, old.status, None, received))

    if full:
        summaries = summaries_of((r["directive"], r["status"], r["due"] or NO_DUE) for r in new.values())
    else:
        summaries, plan.recount = summaries_moved(stored.summaries, changed, [old_rows[key] for key in removed])
    plan.summaries = summaries
    _host_directive_writes(plan, host, stored.summaries, summaries)
    totals = Counter[str]()
    for summary in summaries.values():
        totals.update(summary["counts"])
    described = _described(host, form)
    if form is not None:
        directives = _pairs_digest((i, d["digest"]) for i, d in form["directives"].items())
        _header_writes(plan, host, form, header, directives, received)
    plan.host = dict(
        id=host.id, hostname=described["hostname"], target=described["target"], os=described["os"],
        agent_version=described["agent_version"],
        last_seen=received, last_scan=observed, last_report_id=report["report_id"],
        last_sequence=report["sequence"], state_digest=report["state_digest"],
        directives_digest=directives if form is not None else host.directives_digest,
        total=count, fail_min_due=host_min_due(summaries),
        tags=_plan_tags(plan, host, described["tags"]),
        **{f"n_{s}": totals[s] for s in STATUSES})
    upserts = len(changed)
    plan.report = dict(
        report_id=report["report_id"], host_pk=host.id, kind=report["kind"], sequence=report["sequence"],
        state_digest=report["state_digest"], generated_at=observed, received_at=received,
        changed=upserts + len(removed))
    plan.answer = {"status": "accepted", "report_id": report["report_id"], "host_id": host.host_id,
                   "sequence": report["sequence"], "state_digest": digest, "changed": upserts,
                   "removed": len(removed)}
    return plan


def reported_header(stored: StoredState, report: Mapping[str, Any]) -> tuple[dict[str, Any] | None, str]:
    """The host's header form after this report, and its digest (agent.contract.header_form);
    the form is None when a compact delta left the header as stored. A compact delta whose
    base header is not the stored one (its digest, or the patched header's) is resync,
    ``header_mismatch``, as a state that does not match is."""
    host = stored.host
    if report["schema_version"] != COMPACT_VERSION:
        form = header_form(report)
        return form, header_digest(form)
    if "header" not in report:
        if report["header_digest"] != host.header_digest:
            raise Resync("header_mismatch", "the host's stored header is not this delta's", **position(host))
        return None, str(report["header_digest"])
    if stored.header is None:
        raise Resync("header_mismatch", "the collector holds no header for this host to patch", **position(host))
    form = apply_patch(stored.header, report["header"])
    digest = header_digest(form)
    if digest != report["header_digest"]:
        raise Resync("header_mismatch", "the header after applying this delta does not match its header_digest",
                     expected=report["header_digest"], computed=digest, **position(host))
    problems = header_problems(form)
    if problems:
        path, _, message = problems[0].partition(": ")
        raise BadRequest(f"the header after the patch: {message}", path.replace("$", "$.header", 1), problems[:50])
    return form, digest


def _described(host: HostState, form: Mapping[str, Any] | None) -> dict[str, Any]:
    """What the hosts row says of the host: from the header, or as stored when it did not change."""
    if form is None:
        return {"hostname": host.hostname, "target": host.target, "os": host.os, "agent_version": host.agent_version,
                "tags": [t for t in (host.tags or "").split("\n") if t]}
    info = form["host"]
    return {"hostname": info["hostname"], "target": info["target"], "os": (info.get("os") or {}).get("pretty_name", ""),
            "agent_version": form["agent"]["version"], "tags": info.get("tags") or []}


def _header_writes(plan: Plan, host: HostState, form: Mapping[str, Any], digest: str, directives: str,
                   received: dt.datetime) -> None:
    """The stored header when it changed; the host's directive versions when its directives did
    (or were never recorded)."""
    if digest != host.header_digest:
        plan.header_doc = {"host_pk": host.id, "digest": digest, "doc": canonical(form).decode()}
    if directives != host.directives_digest or host.header_digest is None:
        plan.versions = [{"host_pk": host.id, "directive": d, "agency_id": host.agency_id, "version": version,
                          "digest": content, "since": received} for d, version, content in directives_of(form)]


def _plan_tags(plan: Plan, host: HostState, tags: list[str]) -> str:
    """The host's tags as its last report gave them, as stored on its row (one per line, sorted);
    the host_tags rows the tag filter reads change only when the set does, so the usual report
    costs no extra statement."""
    stored = "\n".join(sorted(set(tags)))
    if stored != (host.tags or ""):
        have, want = set(filter(None, (host.tags or "").split("\n"))), set(tags)
        plan.tags_removed = sorted(have - want)
        plan.tags_added = [{"host_pk": host.id, "tag": t, "agency_id": host.agency_id} for t in sorted(want - have)]
    return stored


def _event(host: HostState, report: Mapping[str, Any], key: str, directive: str, requirement: str,
           old: str | None, new: str | None, at: dt.datetime) -> dict[str, Any]:
    return {"agency_id": host.agency_id, "host_pk": host.id, "key": key, "directive": directive,
            "requirement": requirement, "old_status": old, "new_status": new, "at": at,
            "report_id": report["report_id"]}


def _empty_summary() -> Summary:
    return {"counts": dict.fromkeys(STATUSES, 0), "fail_min_due": NO_DUE}


def summaries_of(rows: Iterable[tuple[str, str, str]]) -> dict[str, Summary]:
    """Per-directive summaries of a whole state, from (directive, status, due) of each result."""
    out: dict[str, Summary] = {}
    for directive, status, due in rows:
        summary = out.get(directive)
        if summary is None:
            summary = out[directive] = _empty_summary()
        _count(summary, status, due)
    return out


def _count(summary: Summary, status: str, due: str) -> None:
    """One more result in ``summary``: its status counted, its due date the earliest failing one
    if it fails before the others."""
    summary["counts"][status] += 1
    if status == "fail" and due and (not summary["fail_min_due"] or due < summary["fail_min_due"]):
        summary["fail_min_due"] = due


def summaries_moved(old: Mapping[str, Summary], changed: Sequence[tuple[Stored | None, Mapping[str, Any]]],
                    removed: Sequence[Stored]) -> tuple[dict[str, Summary], set[str]]:
    """Per-directive summaries after a delta: the stored ones moved by the results it replaces,
    adds and removes; and the directives whose earliest failing due date may have left with
    one of them, that date to be read back once the results are written."""
    out = dict(old)
    copied: set[str] = set()
    recount: set[str] = set()

    def summary(directive: str) -> Summary:
        if directive not in copied:  # the stored summaries stay as loaded: they are diffed after
            prev = out.get(directive)
            out[directive] = ({"counts": dict(prev["counts"]), "fail_min_due": prev["fail_min_due"]}
                              if prev else _empty_summary())
            copied.add(directive)
        return out[directive]

    def leave(row: Stored) -> None:
        s = summary(row.directive)
        s["counts"][row.status] -= 1
        if row.status == "fail" and row.due and row.due == s["fail_min_due"]:
            recount.add(row.directive)

    for row, item in changed:
        if row is not None:
            leave(row)
        _count(summary(item["directive"]), item["status"], item["due"] or NO_DUE)
    for row in removed:
        leave(row)
    for directive in copied:
        counts = out[directive]["counts"]
        if not any(counts.values()):
            del out[directive]  # the host has no result of it any more
        elif not counts["fail"]:
            out[directive]["fail_min_due"] = NO_DUE
    return out, recount


def host_min_due(summaries: Mapping[str, Summary]) -> str:
    dues = [s["fail_min_due"] for s in summaries.values() if s["fail_min_due"]]
    return min(dues) if dues else NO_DUE


def _host_directive_writes(plan: Plan, host: HostState, old: Mapping[str, Summary],
                           new: Mapping[str, Summary]) -> None:
    """host_directives rows that changed (and those whose due date is to be read back), and the
    per-directive host counters they move."""
    counters = plan.directive_counts

    def counter(directive: str) -> list[int]:
        key = (host.agency_id, directive, host.shard)
        found = counters.get(key)
        if found is None:
            found = counters[key] = [0] * len(DIRECTIVE_COUNTERS)
        return found

    for directive in sorted(set(old) - set(new)):
        plan.deleted_host_directives.append({"host_pk": host.id, "directive": directive})
        delta = counter(directive)
        delta[0] -= 1
        delta[_STATUS_SLOT[host_status(old[directive]["counts"])]] -= 1
    for directive, summary in new.items():
        prev = old.get(directive)
        if prev == summary and directive not in plan.recount:
            continue
        counts = summary["counts"]
        plan.host_directives[directive] = {
            "host_pk": host.id, "directive": directive, "agency_id": host.agency_id,
            "fail_min_due": summary["fail_min_due"], **{f"n_{s}": counts[s] for s in STATUSES}}
        # the directive's host status, from the counts at hand (agent.contract: unknown is never compliant)
        status = host_status(counts)
        was = host_status(prev["counts"]) if prev is not None else None
        if status is not was:
            delta = counter(directive)
            delta[_STATUS_SLOT[status]] += 1
            if was is None:
                delta[0] += 1
            else:
                delta[_STATUS_SLOT[was]] -= 1

"""Progress rollups and daily history, answered from the counters ingest maintains
(agg_requirements, agg_directives) and the daily snapshots of them, never from raw results.

"Overdue" is a failing result whose due date is before today, so it is computed at read time
from the counters, which are kept per due date.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any, Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from agent.contract import HostStatus
from collectors.models import (COUNT_COLUMNS, HOST_COUNT_COLUMNS, NO_DUE, STATUSES, UNKNOWN_HOSTS, agg_directives,
                               agg_requirements, history_directives, history_requirements)
from collectors.scope import agency_codes
from collectors.storage import Database

HISTORY_MAX_DAYS = 3660  # the longest series the history endpoint serves (and retention keeps)
HostCounts = tuple[int, ...]  # one per HOST_COUNT_COLUMNS
NO_HOSTS: HostCounts = (0,) * len(HOST_COUNT_COLUMNS)
NOT_YET_COMPLIANT = (f"{HostStatus.NON_COMPLIANT.value}_hosts", f"{HostStatus.INCOMPLETE.value}_hosts", UNKNOWN_HOSTS)


def today() -> dt.date:
    return dt.datetime.now(dt.timezone.utc).date()


def pct(counts: dict[str, int]) -> float | None:
    """% compliant: pass / (pass + fail), like the agent's score; the other statuses are shown, not scored."""
    judged = counts["pass"] + counts["fail"]
    return round(100 * counts["pass"] / judged, 2) if judged else None


def days_left(due: str, day: dt.date) -> int | None:
    """Days from ``day`` to ``due``; None without a due date, or with one that is not a date
    (rows stored before pushes were validated): one row never fails a whole rollup."""
    try:
        return (dt.date.fromisoformat(due) - day).days if due else None
    except ValueError:
        return None


class _Node:
    """Counts for one requirement or directive while folding rows."""

    __slots__ = ("counts", "overdue", "due")

    def __init__(self) -> None:
        self.counts = dict.fromkeys(STATUSES, 0)
        self.overdue = 0
        self.due = NO_DUE

    def add(self, counts: dict[str, int], due: str, overdue: int) -> None:
        for s in STATUSES:
            self.counts[s] += counts[s]
        self.overdue += overdue
        if due and (not self.due or due < self.due):
            self.due = due

    def json(self, day: dt.date) -> dict[str, Any]:
        return {"counts": self.counts, "overdue": self.overdue, "compliant_pct": pct(self.counts),
                "due": self.due or None, "days_left": days_left(self.due, day)}


def _scope(query: Any, table: sa.Table, ids: list[int] | None, directive: str | None) -> Any:
    if ids is not None:
        query = query.where(table.c.agency_id.in_(ids))
    if directive is not None:
        query = query.where(table.c.directive == directive)
    return query


def _grouped(conn: Connection, ids: list[int] | None, directive: str | None, day: dt.date,
             by: tuple[str, ...], requirement: str | None = None) -> Iterable[Any]:
    """Counts grouped by ``by`` columns, with overdue (failing past due) and the earliest due date,
    summed over shards and due dates by the database: Python only sees the rows it returns."""
    t = agg_requirements
    overdue = sa.func.sum(sa.case((sa.and_(t.c.due != NO_DUE, t.c.due < day.isoformat()), t.c.n_fail), else_=0))
    first_due = sa.func.min(sa.case((t.c.due != NO_DUE, t.c.due), else_=None))
    q = _scope(sa.select(*[t.c[c] for c in by], *[sa.func.sum(t.c[c]) for c in COUNT_COLUMNS], overdue, first_due),
               t, ids, directive)
    if requirement is not None:
        q = q.where(t.c.requirement == requirement)
    return conn.execute(q.group_by(*[t.c[c] for c in by]))


def _node(values: list[Any]) -> _Node | None:
    *counts, overdue, due = values
    if not any(counts):
        return None
    node = _Node()
    node.add(dict(zip(STATUSES, map(int, counts))), due or NO_DUE, int(overdue or 0))
    return node


def _requirement_rows(conn: Connection, ids: list[int] | None, directive: str | None, day: dt.date) -> Iterable[Any]:
    return _grouped(conn, ids, directive, day, ("agency_id", "directive", "requirement"))


def _directive_hosts(conn: Connection, ids: list[int] | None,
                     directive: str | None) -> dict[tuple[int, str], HostCounts]:
    t = agg_directives
    q = sa.select(t.c.agency_id, t.c.directive, *[sa.func.sum(t.c[c]) for c in HOST_COUNT_COLUMNS])
    q = _scope(q, t, ids, directive).group_by(t.c.agency_id, t.c.directive)
    return {(a, d): tuple(int(v or 0) for v in values) for a, d, *values in conn.execute(q)}


def host_counts_json(counts: HostCounts) -> dict[str, Any]:
    """Hosts of a directive by status (agent.contract.host_status, counted at ingest), and
    ``older_collector`` when some hosts' status was not reported (``unknown_hosts``: pushed by
    an agency collector of an earlier version, or a snapshot from before statuses were counted)."""
    out: dict[str, Any] = dict(zip(HOST_COUNT_COLUMNS, counts))
    out["older_collector"] = out[UNKNOWN_HOSTS] > 0
    # what the burn-down counts down: every host not (known to be) compliant yet
    out["not_yet_compliant_hosts"] = sum(out[c] for c in NOT_YET_COMPLIANT)
    return out


def add_hosts(a: HostCounts, b: HostCounts) -> HostCounts:
    return tuple(x + y for x, y in zip(a, b))


def fold(conn: Connection, ids: list[int] | None, directive: str | None, day: dt.date
         ) -> dict[int, dict[str, tuple[_Node, dict[str, _Node]]]]:
    """agency id -> directive -> (directive node, requirement -> node)."""
    out: dict[int, dict[str, tuple[_Node, dict[str, _Node]]]] = defaultdict(dict)
    for agency_id, name, requirement, *values in _requirement_rows(conn, ids, directive, day):
        if (node := _node(values)) is None:
            continue
        dnode, reqs = out[agency_id].setdefault(name, (_Node(), {}))
        dnode.add(node.counts, node.due, node.overdue)
        reqs[requirement] = node
    return out


def _directive_json(name: str, dnode: _Node, reqs: dict[str, _Node] | None, host_counts: HostCounts,
                    day: dt.date) -> dict[str, Any]:
    out = {"directive": name, **host_counts_json(host_counts), **dnode.json(day)}
    if reqs is not None:
        out["requirements"] = [{"requirement": r, **n.json(day)} for r, n in sorted(reqs.items())]
    return out


def rollup(conn: Connection, ids: list[int] | None, directive: str | None = None,
           day: dt.date | None = None, detail: bool | None = None) -> dict[str, Any]:
    """Per directive and requirement progress, per agency and over the whole scope.

    ``detail``: list requirements per agency too (by default only when the scope is one agency;
    the overall part always lists them), so a national view of every agency stays small.
    """
    day = day or today()
    host_counts = _directive_hosts(conn, ids, directive)
    names = agency_codes(conn)
    agency_dirs: dict[int, dict[str, _Node]] = defaultdict(dict)
    for agency_id, name, *values in _grouped(conn, ids, directive, day, ("agency_id", "directive")):
        if (node := _node(values)) is not None:
            agency_dirs[agency_id][name] = node
    agency_list = sorted(set(agency_dirs) | {a for a, _ in host_counts}, key=lambda a: names.get(a, ("",))[0])
    if detail is None:
        detail = len(agency_list) <= 1
    agency_reqs: dict[tuple[int, str], dict[str, _Node]] = defaultdict(dict)
    if detail:
        for agency_id, name, requirement, *values in _requirement_rows(conn, ids, directive, day):
            if (node := _node(values)) is not None:
                agency_reqs[(agency_id, name)][requirement] = node
    overall: dict[str, tuple[_Node, dict[str, _Node]]] = {}
    for name, requirement, *values in _grouped(conn, ids, directive, day, ("directive", "requirement")):
        if (node := _node(values)) is not None:
            dnode, reqs = overall.setdefault(name, (_Node(), {}))
            dnode.add(node.counts, node.due, node.overdue)
            reqs[requirement] = node
    overall_hosts: dict[str, HostCounts] = defaultdict(lambda: NO_HOSTS)
    per_agency = []
    for agency_id in agency_list:
        dirs = agency_dirs.get(agency_id, {})
        entries = []
        for name in sorted(set(dirs) | {d for a, d in host_counts if a == agency_id}):
            hc = host_counts.get((agency_id, name), NO_HOSTS)
            entries.append(_directive_json(name, dirs.get(name, _Node()),
                                           agency_reqs.get((agency_id, name), {}) if detail else None, hc, day))
            overall_hosts[name] = add_hosts(overall_hosts[name], hc)
        code, title = names.get(agency_id, (str(agency_id), ""))
        per_agency.append({"agency": code, "name": title, "directives": entries})
    for name in overall_hosts:
        overall.setdefault(name, (_Node(), {}))
    return {
        "today": day.isoformat(), "detail": detail,
        "overall": {"directives": [_directive_json(n, d, r, overall_hosts[n], day)
                                   for n, (d, r) in sorted(overall.items())]},
        "agencies": per_agency,
    }


def side_by_side(doc: dict[str, Any]) -> dict[str, Any]:
    """Agencies as columns of one table per directive (the national view)."""
    table: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for agency in doc["agencies"]:
        for d in agency["directives"]:
            table[d["directive"]].append({"agency": agency["agency"], "name": agency["name"],
                                          **{k: d[k] for k in (*HOST_COUNT_COLUMNS, "older_collector",
                                                               "not_yet_compliant_hosts", "counts",
                                                               "overdue", "compliant_pct", "due", "days_left")}})
    return {"today": doc["today"], "directives": [{"directive": d, "agencies": rows} for d, rows in sorted(table.items())]}


def flat_rows(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per agency, directive and requirement: the CSV form of a rollup."""
    out = []
    for agency in doc["agencies"]:
        for d in agency["directives"]:
            for r in d.get("requirements", []):
                out.append({"agency": agency["agency"], "directive": d["directive"], "requirement": r["requirement"],
                            **{s: r["counts"][s] for s in STATUSES}, "overdue": r["overdue"],
                            "compliant_pct": r["compliant_pct"], "due": r["due"], "days_left": r["days_left"]})
    return out


def snapshot(db: Database, day: dt.date | None = None) -> int:
    """Record the current counters as the day's history row (idempotent: the last one of a day wins)."""
    day = day or today()
    with db.write() as conn:
        folded = fold(conn, None, None, day)
        host_counts = _directive_hosts(conn, None, None)
        req_rows, dir_rows = [], []
        for agency_id, dirs in folded.items():
            for directive, (_, reqs) in dirs.items():
                for requirement, node in reqs.items():
                    req_rows.append({"day": day.isoformat(), "agency_id": agency_id, "directive": directive,
                                     "requirement": requirement, "n_overdue": node.overdue, "due": node.due,
                                     **{f"n_{s}": node.counts[s] for s in STATUSES}})
        for (agency_id, directive), hc in host_counts.items():
            dir_rows.append({"day": day.isoformat(), "agency_id": agency_id, "directive": directive,
                             **dict(zip(HOST_COUNT_COLUMNS, hc))})
        db.upsert_replace(conn, history_requirements, sorted(req_rows, key=lambda r: (r["agency_id"], r["directive"], r["requirement"])),
                          ("day", "agency_id", "directive", "requirement"))
        db.upsert_replace(conn, history_directives, sorted(dir_rows, key=lambda r: (r["agency_id"], r["directive"])),
                          ("day", "agency_id", "directive"))
    return len(req_rows)


def history(conn: Connection, ids: list[int] | None, directive: str | None, requirement: str | None,
            days: int, day: dt.date | None = None) -> dict[str, Any]:
    """Daily series per directive (or one requirement) over the scope, oldest first; today is live."""
    day = day or today()
    first = (day - dt.timedelta(days=days - 1)).isoformat()
    t, h = history_requirements, history_directives
    q = sa.select(t.c.day, t.c.directive, *[sa.func.sum(t.c[c]).label(c) for c in (*COUNT_COLUMNS, "n_overdue")])
    q = _scope(q, t, ids, directive).where(t.c.day >= first, t.c.day < day.isoformat())
    if requirement is not None:
        q = q.where(t.c.requirement == requirement)
    series: dict[tuple[str, str], dict[str, Any]] = {}
    for row in conn.execute(q.group_by(t.c.day, t.c.directive)):
        counts = {s: int(getattr(row, f"n_{s}") or 0) for s in STATUSES}
        series[(row.day, row.directive)] = {"day": row.day, "directive": row.directive, "counts": counts,
                                            "overdue": int(row.n_overdue or 0), "compliant_pct": pct(counts)}
    if requirement is None:
        hq = sa.select(h.c.day, h.c.directive, *[sa.func.sum(h.c[c]) for c in HOST_COUNT_COLUMNS])
        hq = _scope(hq, h, ids, directive).where(h.c.day >= first, h.c.day < day.isoformat())
        for d, name, *values in conn.execute(hq.group_by(h.c.day, h.c.directive)):
            if (d, name) in series:
                series[(d, name)].update(host_counts_json(tuple(int(v or 0) for v in values)))
    # Today comes from the live counters, so the chart's last point never lags.
    live_hosts = _directive_hosts(conn, ids, directive) if requirement is None else {}
    for name, *values in _grouped(conn, ids, directive, day, ("directive",), requirement):
        if (node := _node(values)) is None:
            continue
        entry: dict[str, Any] = {"day": day.isoformat(), "directive": name, "counts": node.counts,
                                 "overdue": node.overdue, "compliant_pct": pct(node.counts)}
        if requirement is None:
            hc = NO_HOSTS
            for (_, d), v in live_hosts.items():
                if d == name:
                    hc = add_hosts(hc, v)
            entry.update(host_counts_json(hc))
        series[(day.isoformat(), name)] = entry
    return {"today": day.isoformat(), "days": days, "requirement": requirement,
            "series": [series[k] for k in sorted(series)]}

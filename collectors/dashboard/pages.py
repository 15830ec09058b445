"""What each dashboard page shows, gathered with the collector's own reads and rollups under
the caller's scope (collectors.scope): the dashboard has no data path of its own."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Mapping

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from agent.contract import HostStatus, host_status
from collectors import BadRequest
from collectors import applies, host_filters, reads, rollups
from collectors.auth import Principal
from collectors.dashboard.charts import Point, burndown
from collectors.federated_hosts import forwarding_agencies
from collectors.models import federated_hosts, hosts
from collectors.scope import HOST_DETAIL, HOST_LIST, ROLLUPS, agency_ids

PAGE_SIZE = 50
LIST_SIZE = 25  # rows of the "since yesterday" and overdue lists on the agency page
HISTORY_DAYS = 90
APPLY_ROWS = 20  # the newest applies on a host's page (GET /api/v1/hosts/{id}/applies has them all)
# the hosts filter's choices, worst first, as agent.contract names them
HOST_STATUSES = {s.value: ("not compliant" if s is HostStatus.NON_COMPLIANT else s.label) for s in HostStatus}
SHORT_ID = 6  # characters of a host id shown beside a hostname another host in scope shares
OVERDUE = {"yes": True, "no": False}


@dataclass(frozen=True)
class HostFilters:
    directive: str | None = None
    status: str | None = None
    overdue: str | None = None
    tag: str | None = None
    page: int = 1

    @classmethod
    def parse(cls, query: Mapping[str, str]) -> HostFilters:
        def opt(name: str) -> str | None:
            value = (query.get(name) or "").strip()
            return value or None

        status, overdue = opt("status"), opt("overdue")
        chosen = host_filters.host_status_filter(status)  # checked; the earlier "noncompliant" still accepted
        status = chosen.value if chosen else None
        if overdue is not None and overdue not in OVERDUE:
            raise BadRequest("overdue must be yes or no", "$.query.overdue")
        return cls(opt("directive"), status, overdue, opt("tag"), page_number(query.get("page")))

    def query(self, **override: Any) -> dict[str, str]:
        """The filters as query parameters (for links that keep them)."""
        values = {"directive": self.directive, "status": self.status, "overdue": self.overdue, "tag": self.tag,
                  **override}
        return {k: str(v) for k, v in values.items() if v not in (None, "", 1) or (k == "page" and v != 1)}

    @property
    def active(self) -> bool:
        return any((self.directive, self.status, self.overdue, self.tag))


def page_number(raw: str | None) -> int:
    try:
        return max(1, min(int(raw or 1), 1_000_000))
    except ValueError:
        raise BadRequest("page must be a number", "$.query.page") from None


@lru_cache(maxsize=1)
def library() -> dict[str, Any]:
    """The shipped directives: titles, deadlines, requirement text for the directive pages."""
    from directives import load_library

    return {d.id: d for d in load_library()}


def natural(key: str) -> tuple[Any, ...]:
    """Sort key that puts BOD-23-02.2 before BOD-23-02.10."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", key))


def yesterday() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0) - dt.timedelta(days=1)


def _due(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:  # a row stored before federated pushes were validated
        return None


def met(entry: Mapping[str, Any]) -> bool:
    """Every host reporting the directive is compliant (those it does not apply to aside)."""
    compliant = entry.get("compliant_hosts", 0)
    return compliant > 0 and compliant + entry.get("not_applicable_hosts", 0) == entry.get("hosts", 0)


def national(conn: Connection, principal: Principal, days: int = HISTORY_DAYS) -> dict[str, Any]:
    """Agencies side by side per directive, with each directive's burn-down over the scope."""
    ids = agency_ids(conn, principal, None, roles=ROLLUPS)
    doc = rollups.rollup(conn, ids)
    table = rollups.side_by_side(doc)
    today = dt.date.fromisoformat(doc["today"])
    series: dict[str, list[Point]] = {}
    for s in rollups.history(conn, ids, None, None, days, today)["series"]:
        if "hosts" in s:
            series.setdefault(s["directive"], []).append(
                Point(dt.date.fromisoformat(s["day"]), s["not_yet_compliant_hosts"]))
    overall = {d["directive"]: d for d in doc["overall"]["directives"]}
    directives = []
    for entry in table["directives"]:
        name = entry["directive"]
        total = overall.get(name, {})
        known = library().get(name)
        directives.append({
            "id": name, "title": known.title if known else "", "overall": total, "met": met(total),
            "agencies": entry["agencies"],
            "chart": burndown(series.get(name, []), due=_due(total.get("due")), today=today, met=met(total),
                              label=f"{name}, hosts not yet compliant", chart_id=f"bd-{name}"),
            "points": series.get(name, []),
        })
    return {"today": doc["today"], "directives": directives, "history_days": days,
            "agency_count": len(doc["agencies"]), "forwarding": forwarding_agencies(conn, ids)}


def shared_hostnames(conn: Connection, ids: list[int] | None, names: set[str]) -> dict[str, dict[str, str]]:
    """For each of ``names`` that several hosts in scope carry (enrolled or forwarded), each
    host id's short form: its first SHORT_ID characters, more where two of them start alike."""
    names.discard("")
    if not names:
        return {}
    found: dict[str, set[str]] = {}
    for table in (hosts, federated_hosts):
        q = sa.select(table.c.hostname, table.c.host_id).where(table.c.hostname.in_(sorted(names)))
        if ids is not None:
            q = q.where(table.c.agency_id.in_(ids))
        for name, host_id in conn.execute(q):
            found.setdefault(name, set()).add(host_id)
    out: dict[str, dict[str, str]] = {}
    for name, host_ids in found.items():
        if len(host_ids) < 2:
            continue
        n = SHORT_ID
        while n < max(map(len, host_ids)) and len({h[:n] for h in host_ids}) < len(host_ids):
            n += 2
        out[name] = {h: h[:n] for h in host_ids}
    return out


def forwarded(conn: Connection, principal: Principal, code: str | None, filters: HostFilters) -> dict[str, Any]:
    """The host summaries agency collectors forward (``--upstream-detail hosts``), filtered as
    the hosts listing of the API filters them: counts per directive, never results or evidence."""
    ids = agency_ids(conn, principal, code, roles=HOST_LIST)
    listing = reads.list_hosts(conn, ids, directive=filters.directive, status=filters.status,
                               overdue=OVERDUE.get(filters.overdue or ""), limit=PAGE_SIZE,
                               offset=(filters.page - 1) * PAGE_SIZE, enrolled=False, federated=True)
    everywhere = agency_ids(conn, principal, None, roles=HOST_LIST)
    params = {**filters.query(), **({"agency": code} if code else {})}
    return {"code": code, "filters": filters, "params": params, "hosts": listing["hosts"],
            "shared": shared_hostnames(conn, ids, {h["hostname"] for h in listing["hosts"]}),
            "total": listing["total"], "page": filters.page, "pages": max(1, -(-listing["total"] // PAGE_SIZE)),
            "agencies": forwarding_agencies(conn, everywhere), "directives": sorted(library()),
            "statuses": HOST_STATUSES}


def agency(conn: Connection, principal: Principal, code: str, filters: HostFilters) -> dict[str, Any]:
    """An agency's hosts with filters, what changed since yesterday, its overdue KEV findings."""
    ids = agency_ids(conn, principal, code, roles=HOST_DETAIL)
    overdue = OVERDUE.get(filters.overdue or "")
    listing = reads.list_hosts(conn, ids, directive=filters.directive, status=filters.status, overdue=overdue,
                               tag=filters.tag, limit=PAGE_SIZE, offset=(filters.page - 1) * PAGE_SIZE)
    summary = rollups.rollup(conn, ids)
    since = yesterday()
    regressed = reads.changes(conn, ids, since=since, until=None, only="regressions", directive=filters.directive,
                              limit=LIST_SIZE)["changes"]
    fixed = reads.changes(conn, ids, since=since, until=None, only="fixes", directive=filters.directive,
                          limit=LIST_SIZE)["changes"]
    kev = reads.overdue_findings(conn, ids, limit=LIST_SIZE)
    agency_doc: dict[str, Any] = summary["agencies"][0] if summary["agencies"] else {"agency": code, "name": code, "directives": []}
    for d in agency_doc["directives"]:
        d["met"] = met(d)
    pages = max(1, -(-listing["total"] // PAGE_SIZE))
    named = {h["hostname"] for h in listing["hosts"]} | {c["hostname"] for c in (*regressed, *fixed)} \
        | {f["hostname"] for f in kev["findings"]}
    return {"agency": agency_doc, "code": code, "filters": filters, "hosts": listing["hosts"],
            "shared": shared_hostnames(conn, ids, named),
            "total": listing["total"], "page": filters.page, "pages": pages, "page_size": PAGE_SIZE,
            "directives": sorted({d["directive"] for d in agency_doc["directives"]} | set(library())),
            "tags": reads.agency_tags(conn, ids), "statuses": HOST_STATUSES,
            "regressed": regressed, "fixed": fixed, "since": reads.iso(since), "kev": kev,
            "today": summary["today"]}


RESULT_ORDER = {"fail": 0, "error": 1, "manual": 2, "waived": 3, "pass": 4, "not_applicable": 5}


def host(conn: Connection, principal: Principal, host_id: str, status: str | None) -> dict[str, Any]:
    """Every current result of one host: its failures across all directives first, then its
    errors, then the rest grouped by directive; each directive's status; its history of changes;
    the applies of fix --apply its agent reported (remediation)."""
    ids = agency_ids(conn, principal, None, roles=HOST_DETAIL)
    detail = reads.host_detail(conn, ids, host_id, status=status)
    ordered = sorted(detail["results"], key=lambda r: (RESULT_ORDER.get(r["status"], 9), natural(r["directive"]),
                                                       natural(r["key"])))
    failures = [r for r in ordered if r["status"] == "fail"]
    errors = [r for r in ordered if r["status"] == "error"]
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in ordered:
        if r["status"] not in ("fail", "error"):
            groups.setdefault(r["directive"], []).append(r)
    names = {d["directive"] for d in detail["directives"]} | {r["directive"] for r in ordered}
    shared = shared_hostnames(conn, ids, {detail["host"]["hostname"]})
    return {**detail, "failures": failures, "errors": errors, "groups": sorted(groups.items()), "status": status,
            "events": reads.host_events(conn, ids, host_id), "shared": shared,
            "applies": applies.host_applies_of(conn, ids, host_id, limit=APPLY_ROWS)["applies"],
            "titles": {d: (library()[d].title if d in library() else "") for d in names}}


def directive(conn: Connection, principal: Principal, directive_id: str, agency_code: str | None) -> dict[str, Any]:
    """A directive's requirements and deadlines with per-requirement compliance across hosts in scope."""
    ids = agency_ids(conn, principal, agency_code, roles=ROLLUPS)
    doc = rollups.rollup(conn, ids, directive_id)
    overall = next((d for d in doc["overall"]["directives"] if d["directive"] == directive_id), None)
    known = library().get(directive_id)
    if overall is None and known is None:
        from collectors import NotFound

        raise NotFound(f"no directive {directive_id!r} here")
    measured = {r["requirement"]: r for r in (overall or {}).get("requirements", [])}
    requirements = []
    for req in (known.requirements if known else ()):
        due = req.due_date()
        requirements.append({"id": req.id, "title": req.title, "severity": req.severity,
                             "due": due.isoformat() if due else None, "per_finding": req.due == "per_finding",
                             "rationale": " ".join(req.rationale.split()), "remediation": req.remediation.strip(),
                             "references": req.references, "rollup": measured.pop(req.id, None)})
    for rid, r in sorted(measured.items()):  # reported but not in the shipped library (an agency's own)
        requirements.append({"id": rid, "title": "", "severity": "", "due": r["due"], "per_finding": False,
                             "rationale": "", "remediation": "", "references": {}, "rollup": r})
    history = rollups.history(conn, ids, directive_id, None, HISTORY_DAYS, dt.date.fromisoformat(doc["today"]))
    points = [Point(dt.date.fromisoformat(s["day"]), s["not_yet_compliant_hosts"])
              for s in history["series"] if "hosts" in s]
    done = met(overall or {})
    chart = burndown(points, due=_due((overall or {}).get("due")), today=dt.date.fromisoformat(doc["today"]),
                     label=f"{directive_id}, hosts not yet compliant", chart_id=f"bd-{directive_id}", met=done)
    for r in requirements:  # a requirement every host meets is not late, whatever its deadline
        r["met"] = bool(r["rollup"]) and host_status(r["rollup"]["counts"]) is HostStatus.COMPLIANT
    return {"id": directive_id, "known": known, "overall": overall, "met": done, "requirements": requirements,
            "agencies": [{"agency": a["agency"], "name": a["name"], **d} for a in doc["agencies"]
                         for d in a["directives"]],
            "agency_code": agency_code, "today": doc["today"], "chart": chart}


def directives(conn: Connection, principal: Principal) -> dict[str, Any]:
    ids = agency_ids(conn, principal, None, roles=ROLLUPS)
    overall = {d["directive"]: d for d in rollups.rollup(conn, ids)["overall"]["directives"]}
    rows = []
    for name in sorted(set(overall) | set(library())):
        known = library().get(name)
        dues = sorted({str(r.due_date()) for r in known.requirements if r.due_date()}) if known else []
        rows.append({"id": name, "title": known.title if known else "", "issued": known.issued if known else None,
                     "requirements": len(known.requirements) if known else len(overall[name]["requirements"]),
                     "dues": dues, "rollup": overall.get(name)})
    return {"directives": rows}


def agencies(conn: Connection, principal: Principal) -> dict[str, Any]:
    """Agencies an admin can open (a soc token has one; national reads rollups only)."""
    from collectors.admin import list_agencies

    principal.require("admin")
    return {"agencies": list_agencies(conn)}

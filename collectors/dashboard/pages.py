"""What each dashboard page shows, gathered with the collector's own reads and rollups under
the caller's scope (collectors.scope): the dashboard has no data path of its own."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Mapping

from sqlalchemy.engine import Connection

from collectors import BadRequest
from collectors import reads, rollups
from collectors.auth import Principal
from collectors.dashboard.charts import Point, burndown
from collectors.federated_hosts import forwarding_agencies
from collectors.scope import HOST_DETAIL, HOST_LIST, ROLLUPS, agency_ids

PAGE_SIZE = 50
LIST_SIZE = 25  # rows of the "since yesterday" and overdue lists on the agency page
HISTORY_DAYS = 90
HOST_STATUSES = {"compliant": "compliant", "noncompliant": "not compliant"}
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
        if status is not None and status not in HOST_STATUSES:
            raise BadRequest(f"status must be one of {', '.join(HOST_STATUSES)}", "$.query.status")
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


def national(conn: Connection, principal: Principal, days: int = HISTORY_DAYS) -> dict[str, Any]:
    """Agencies side by side per directive, with each directive's burn-down over the scope."""
    ids = agency_ids(conn, principal, None, roles=ROLLUPS)
    doc = rollups.rollup(conn, ids)
    table = rollups.side_by_side(doc)
    today = dt.date.fromisoformat(doc["today"])
    series: dict[str, list[Point]] = {}
    for s in rollups.history(conn, ids, None, None, days, today)["series"]:
        hosts = s.get("hosts")
        if hosts is not None:
            series.setdefault(s["directive"], []).append(
                Point(dt.date.fromisoformat(s["day"]), hosts - s.get("compliant_hosts", 0)))
    overall = {d["directive"]: d for d in doc["overall"]["directives"]}
    directives = []
    for entry in table["directives"]:
        name = entry["directive"]
        total = overall.get(name, {})
        known = library().get(name)
        directives.append({
            "id": name, "title": known.title if known else "", "overall": total,
            "agencies": [{**a, "failing_hosts": a["hosts"] - a["compliant_hosts"]} for a in entry["agencies"]],
            "chart": burndown(series.get(name, []), due=_due(total.get("due")), today=today,
                              label=f"{name}, hosts not compliant", chart_id=f"bd-{name}"),
            "points": series.get(name, []),
        })
    return {"today": doc["today"], "directives": directives, "history_days": days,
            "agency_count": len(doc["agencies"]), "forwarding": forwarding_agencies(conn, ids)}


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
    agency_doc = summary["agencies"][0] if summary["agencies"] else {"agency": code, "name": code, "directives": []}
    pages = max(1, -(-listing["total"] // PAGE_SIZE))
    return {"agency": agency_doc, "code": code, "filters": filters, "hosts": listing["hosts"],
            "total": listing["total"], "page": filters.page, "pages": pages, "page_size": PAGE_SIZE,
            "directives": sorted({d["directive"] for d in agency_doc["directives"]} | set(library())),
            "tags": reads.agency_tags(conn, ids), "statuses": HOST_STATUSES,
            "regressed": regressed, "fixed": fixed, "since": reads.iso(since), "kev": kev,
            "today": summary["today"]}


def host(conn: Connection, principal: Principal, host_id: str, status: str | None) -> dict[str, Any]:
    """Every current result of one host, grouped by directive, and its history of changes."""
    ids = agency_ids(conn, principal, None, roles=HOST_DETAIL)
    detail = reads.host_detail(conn, ids, host_id, status=status)
    groups: dict[str, list[dict[str, Any]]] = {}
    order = {"fail": 0, "error": 1, "manual": 2, "waived": 3, "pass": 4, "not_applicable": 5}
    for r in sorted(detail["results"], key=lambda r: (order.get(r["status"], 9), natural(r["key"]))):
        groups.setdefault(r["directive"], []).append(r)
    return {**detail, "groups": sorted(groups.items()), "status": status,
            "events": reads.host_events(conn, ids, host_id),
            "titles": {d: (library()[d].title if d in library() else "") for d in groups}}


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
    points = [Point(dt.date.fromisoformat(s["day"]), s["hosts"] - s["compliant_hosts"])
              for s in history["series"] if "hosts" in s]
    chart = burndown(points, due=_due((overall or {}).get("due")), today=dt.date.fromisoformat(doc["today"]),
                     label=f"{directive_id}, hosts not compliant", chart_id=f"bd-{directive_id}")
    return {"id": directive_id, "known": known, "overall": overall, "requirements": requirements,
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

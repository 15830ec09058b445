"""Helpers for the collector tests: simulated agents, provisioning, a real server in a thread."""
from __future__ import annotations

import datetime as dt
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from collections import Counter
from typing import Any

import requests
import sqlalchemy as sa
import uvicorn

from agent.contract import state_digest, summarize
from agent.delta import compact
from collectors import rollups
from collectors.admin import add_agency, enrollment_secret, issue
from collectors.models import agencies, hosts, results
from collectors.app import Settings, create_app
from collectors.storage import Database

# ------------------------------------------------------------------ reports


def result(key: str, status: str = "pass", *, directive: str = "HARDEN-30D", due: str | None = "2026-07-02",
           actual: str = "") -> dict[str, Any]:
    requirement = key.split("#", 1)[0]
    return {"key": key, "directive": directive, "requirement": requirement, "title": f"{requirement} holds",
            "severity": "high", "status": status, "message": "", "references": {},
            "evidence": [{"expected": "secure", "actual": actual or status, "where": "/etc/example"}],
            "due": due, "overdue": False, "days_left": None, "remediation": "fix it"}


DIRECTIVES = [{"id": "HARDEN-30D", "title": "Hardening", "issued": "2026-06-02", "digest": "sha256:" + "a" * 64},
              {"id": "BOD-23-02", "title": "Management interfaces", "issued": "2023-06-13",
               "digest": "sha256:" + "b" * 64}]


@dataclass
class Agent:
    """A simulated agent: keeps its last full state and builds full reports and deltas."""

    host_id: str
    hostname: str = "web-01"
    token: str = ""
    instance: str = field(default_factory=lambda: uuid.uuid4().hex)
    sequence: int = 0
    state: dict[str, dict[str, Any]] = field(default_factory=dict)
    last_report_id: str | None = None
    directives: list[dict[str, Any]] = field(default_factory=lambda: list(DIRECTIVES))
    base_header: dict[str, Any] | None = None  # the header of the last accepted report (for compact deltas)
    made: dict[str, dict[str, Any]] = field(default_factory=dict)  # report id -> the report with its whole header

    def _envelope(self, kind: str) -> dict[str, Any]:
        self.sequence += 1
        now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
        return {"schema_version": "1.0", "kind": kind, "report_id": f"r-{uuid.uuid4().hex}",
                "generated_at": now, "sequence": self.sequence, "agent": {"name": "fedharden", "version": "0.1.0"},
                "host": {"id": self.host_id, "hostname": self.hostname, "target": "local"},
                "scan": {"started_at": now, "finished_at": now, "live": True}, "directives": self.directives}

    def full(self, results: list[dict[str, Any]]) -> dict[str, Any]:
        report = self._envelope("full")
        self.state = {r["key"]: r for r in results}
        report.update(results=results, summary=summarize(results), state_digest=state_digest(results))
        return report

    def delta(self, changes: list[dict[str, Any]] = (), removed: list[str] = ()) -> dict[str, Any]:  # type: ignore[assignment]
        report = self._envelope("delta")
        for key in removed:
            self.state.pop(key)
        for r in changes:
            self.state[r["key"]] = r
        full = list(self.state.values())
        report.update(base=self.last_report_id, changes=list(changes), removed=list(removed),
                      summary=summarize(full), state_digest=state_digest(full))
        return report

    def compact(self, changes: list[dict[str, Any]] = (), removed: list[str] = ()) -> dict[str, Any]:  # type: ignore[assignment]
        """A delta of schema 1.1 (agent.delta.compact): the header as a patch of the base's."""
        assert self.base_header is not None, "a compact delta needs an accepted report to patch"
        whole = self.delta(changes, removed)
        self.made[whole["report_id"]] = whole
        return dict(compact(whole, self.base_header))  # type: ignore[arg-type]

    def accepted(self, report: dict[str, Any]) -> None:
        self.last_report_id = report["report_id"]
        self.base_header = self.made.pop(report["report_id"], report)


# ------------------------------------------------------------------ collector


@dataclass
class Tokens:
    enroll: dict[str, str]
    soc: dict[str, str]
    national: str
    admin: str


def provision(db: Database, agencies: tuple[str, ...] = ("DOJ", "DOE")) -> Tokens:
    with db.write() as conn:
        for code in agencies:
            add_agency(conn, code, f"Agency {code}")
        enroll = {code: enrollment_secret(conn, code, "test")[1] for code in agencies}
        soc = {code: issue(conn, "soc", code, "test")[1] for code in agencies}
        national = issue(conn, "national", None, "test")[1]
        admin = issue(conn, "admin", None, "test")[1]
    return Tokens(enroll, soc, national, admin)


def empty(url: str) -> None:
    """Delete every row of a PostgreSQL test database, counters of identity columns included."""
    from collectors.models import metadata

    db = Database(url, pool_size=1)
    with db.write() as conn:
        names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
        conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    db.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """The real collector app on a real uvicorn server in a thread, on loopback."""

    def __init__(self, db: Database, **settings: Any) -> None:
        settings.setdefault("token_ttl", 0)
        settings.setdefault("snapshot_interval", 0)
        settings.setdefault("prune_interval", 0)
        self.settings = Settings(db=db.url, migrate=False, **settings)
        self.app = create_app(self.settings, Database(db.url, pool_size=4))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    access_log=False))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.http = requests.Session()

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("collector did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *_: Any) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.http.close()

    def request(self, method: str, path: str, token: str | None = None, **kw: Any) -> requests.Response:
        headers = kw.pop("headers", {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return self.http.request(method, self.url + path, headers=headers, timeout=30, **kw)

    def enroll(self, secret: str, agent: Agent) -> Agent:
        # The agent's install handle (agent.credential.instance_id): the same for every
        # enrollment of this simulated install, as a real agent's is.
        resp = self.request("POST", "/api/v1/enroll", secret, json={"host_id": agent.host_id,
                                                                    "hostname": agent.hostname,
                                                                    "instance": agent.instance})
        assert resp.status_code == 201, resp.text
        agent.token = resp.json()["token"]
        return agent

    def submit(self, agent: Agent, report: dict[str, Any]) -> requests.Response:
        resp = self.request("POST", "/api/v1/reports", agent.token, json=report)
        if resp.status_code == 200 and resp.json()["status"] == "accepted":
            agent.accepted(report)
        return resp


# ------------------------------------------------------------------ counters


def recount(db: Database) -> dict[tuple[str, str, str], Counter[str]]:
    """The rollup computed the slow way, from raw results (what the counters spare us)."""
    out: dict[tuple[str, str, str], Counter[str]] = {}
    with db.read() as conn:
        q = sa.select(agencies.c.code, results.c.directive, results.c.requirement, results.c.status) \
            .select_from(results.join(hosts, hosts.c.id == results.c.host_pk).join(agencies, agencies.c.id == hosts.c.agency_id))
        for code, d, r, s in conn.execute(q):
            out.setdefault((code, d, r), Counter())[s] += 1
    return out


def from_counters(db: Database) -> dict[tuple[str, str, str], Counter[str]]:
    with db.read() as conn:
        doc = rollups.rollup(conn, None, detail=True)
    return {(a["agency"], d["directive"], r["requirement"]): Counter({k: v for k, v in r["counts"].items() if v})
            for a in doc["agencies"] for d in a["directives"] for r in d["requirements"] if any(r["counts"].values())}

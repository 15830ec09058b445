"""Fixture data for the dashboard tests: two agencies of hosts reporting the shipped directives
and KEV findings through the real ingest API, over three rounds with daily-history snapshots
between them, so every view (burn-down, regressed and fixed since yesterday, overdue KEV) has
something true to show."""
from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from tests.collectors.collector_support import Agent, Server, Tokens, free_port

from collectors import rollups
from collectors.storage import Database
from directives import load_library

TODAY = dt.datetime.now(dt.timezone.utc).date()
LOCAL_DUE = TODAY + dt.timedelta(days=30)
KEV = "BOD-22-01"
# (cve, product, due relative to today): two overdue, one not yet due
KEV_FINDINGS = (("CVE-2023-4863", "libwebp heap overflow", -40), ("CVE-2024-3094", "xz backdoor", -12),
                ("CVE-2024-6387", "OpenSSH regreSSHion", 20))
LOCAL = "DOJ-LOCAL-1"  # an agency's own directive, not in the shipped library, due in 30 days
LOCAL_REQUIREMENTS = (f"{LOCAL}.1", f"{LOCAL}.2")
ESCAPE_PROBE = 'doj-<i>lab</i>&"x"'  # a hostname that must show as text, never as markup


def login(server: Server, token: str, session: requests.Session | None = None, **extra: str) -> requests.Response:
    """Log in to the dashboard with ``token`` through its form (CSRF nonce included)."""
    http = session or server.http
    page = http.get(server.url + "/dashboard/login", timeout=30)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf, page.text
    return http.post(server.url + "/dashboard/login", data={"csrf": csrf.group(1), "token": token, **extra},
                     allow_redirects=False, timeout=30)


@dataclass
class Host:
    host_id: str
    hostname: str
    agency: str
    tags: list[str]
    failing: set[str] = field(default_factory=set)  # requirement ids failing
    kev: set[str] = field(default_factory=set)      # CVEs failing


def library_results(host: Host) -> list[dict[str, Any]]:
    out = []
    for d in load_library():
        for req in d.requirements:
            if req.due == "per_finding":  # one result per finding: the KEV ones below
                continue
            due = req.due_date()
            failing = req.id in host.failing
            out.append({"key": req.id, "directive": d.id, "requirement": req.id, "title": req.title,
                        "severity": req.severity, "status": "fail" if failing else "pass",
                        "message": "weaker than required" if failing else "",
                        "evidence": [{"expected": "as the requirement states", "actual":
                                      "found weaker setting" if failing else "as required",
                                      "where": f"/etc/fixture/{req.id}"}],
                        "due": due.isoformat() if due else None, "overdue": bool(failing and due and due < TODAY),
                        "days_left": (due - TODAY).days if due else None,
                        "references": {k: list(v) for k, v in req.references.items()},
                        "remediation": req.remediation})
    if host.agency == "DOJ":
        for rid in LOCAL_REQUIREMENTS:
            failing = rid in host.failing
            out.append({"key": rid, "directive": LOCAL, "requirement": rid, "title": f"{rid} holds",
                        "severity": "medium", "status": "fail" if failing else "pass", "message": "",
                        "evidence": [{"expected": "agency setting", "actual": "missing" if failing else "present",
                                      "where": "/etc/agency.conf"}],
                        "due": LOCAL_DUE.isoformat(), "overdue": False, "days_left": 30, "references": {},
                        "remediation": "Apply the agency setting."})
    for cve, product, offset in KEV_FINDINGS:
        due = TODAY + dt.timedelta(days=offset)
        failing = cve in host.kev
        out.append({"key": f"{KEV}.1#{cve}", "directive": KEV, "requirement": f"{KEV}.1",
                    "title": f"Known exploited vulnerability {cve} is remediated", "severity": "critical",
                    "status": "fail" if failing else "pass", "message": product, "finding": product, "cve": cve,
                    "evidence": [{"expected": "fixed version", "actual": "vulnerable" if failing else "fixed",
                                  "where": "dpkg status"}],
                    "due": due.isoformat(), "overdue": failing and offset < 0, "days_left": offset,
                    "references": {"nist_800_53": ["SI-2", "RA-5"]},
                    "remediation": f"Update the package that carries {cve}."})
    return out


def reported_directives() -> set[str]:
    """Every directive some fixture host reports a result of."""
    return {d.id for d in load_library() if any(r.due != "per_finding" for r in d.requirements)} | {KEV, LOCAL}


def directives_of(agency: str) -> list[dict[str, Any]]:
    out = [{"id": d.id, "title": d.title, "issued": d.issued.isoformat(), "digest": d.digest}
           for d in load_library()]
    if KEV not in {d["id"] for d in out}:
        out.append({"id": KEV, "title": "Reducing the Significant Risk of Known Exploited Vulnerabilities",
                    "issued": "2021-11-03", "digest": "sha256:" + "c" * 64})
    if agency == "DOJ":
        out.append({"id": LOCAL, "title": "DOJ local baseline", "issued": (TODAY - dt.timedelta(days=10)).isoformat(),
                    "digest": "sha256:" + "d" * 64})
    return out


class Fleet:
    """Hosts of DOJ and DOE and their agents; ``advance`` submits a round as deltas."""

    def __init__(self, server: Server, tokens: Tokens) -> None:
        self.server, self.tokens = server, tokens
        reqs = [*LOCAL_REQUIREMENTS, *(r.id for d in load_library() for r in d.requirements if r.due != "per_finding")]
        self.requirements = reqs
        self.hosts: list[Host] = []
        for i in range(1, 13):
            self.hosts.append(Host(f"doj-{i:03d}", f"doj-web-{i:02d}" if i <= 8 else f"doj-db-{i:02d}", "DOJ",
                                   ["web", "prod"] if i <= 8 else ["db"], set(reqs[: (i % 5) * 2]),
                                   {c for c, _, _ in KEV_FINDINGS[: i % 3]}))
        self.hosts.append(Host("doj-lab", ESCAPE_PROBE, "DOJ", ["lab"], set(reqs[:1]), set()))
        for i in range(1, 7):
            self.hosts.append(Host(f"doe-{i:03d}", f"doe-hpc-{i:02d}", "DOE", ["hpc"], set(reqs[: i]),
                                   {KEV_FINDINGS[0][0]} if i % 2 else set()))
        self.agents: dict[str, Agent] = {}

    def enroll_and_report(self) -> None:
        for h in self.hosts:
            agent = Agent(h.host_id, h.hostname, directives=directives_of(h.agency))
            self.server.enroll(self.tokens.enroll[h.agency], agent)
            self._send(agent, agent.full(library_results(h)), h)
            self.agents[h.host_id] = agent

    def advance(self, fix: int, regress: int) -> None:
        """Each host fixes its first ``fix`` failing requirements; every third regresses ``regress``."""
        for n, h in enumerate(self.hosts):
            before = {r["key"]: r for r in library_results(h)}
            for req in sorted(h.failing)[:fix]:
                h.failing.discard(req)
            if n % 3 == 0:
                h.failing |= set(self.requirements[-regress:]) if regress else set()
            after = library_results(h)
            changed = [r for r in after if before[r["key"]] != r]
            agent = self.agents[h.host_id]
            self._send(agent, agent.delta(changed), h)

    def _send(self, agent: Agent, report: dict[str, Any], host: Host) -> None:
        report["host"]["tags"] = host.tags
        report["host"]["os"] = {"id": "debian", "version_id": "12", "pretty_name": "Debian GNU/Linux 12 (bookworm)"}
        resp = self.server.submit(agent, report)
        assert resp.status_code == 200 and resp.json()["status"] == "accepted", resp.text


def load(server: Server, tokens: Tokens, db: Database) -> Fleet:
    """Three rounds: the first reports recorded as the state of 6 and 5 days ago, a round of
    fixes as 3 and 2 days ago and yesterday, then today's fixes and regressions (live)."""
    fleet = Fleet(server, tokens)
    fleet.enroll_and_report()
    for back in (6, 5):
        rollups.snapshot(db, TODAY - dt.timedelta(days=back))
    fleet.advance(fix=2, regress=0)
    for back in (3, 2, 1):
        rollups.snapshot(db, TODAY - dt.timedelta(days=back))
    fleet.advance(fix=1, regress=1)
    return fleet


class CollectorProcess:
    """``fedharden collector serve`` in its own process on a free loopback port: the collector as
    deployed, dashboard included. Speaks the same helper methods as collector_support.Server."""

    request = Server.request
    enroll = Server.enroll
    submit = Server.submit

    def __init__(self, db_url: str, log: Path, *, tls: tuple[Path, Path] | None = None) -> None:
        self.port = free_port()
        scheme = "https" if tls else "http"
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        self.argv = [sys.executable, "-m", "agent.cli", "collector", "serve", "--db", db_url, "--port",
                     str(self.port), "--snapshot-interval", "0", "--log-level", "warning"]
        if tls:
            self.argv += ["--tls-cert", str(tls[0]), "--tls-key", str(tls[1])]
        self.log = log
        self.http = requests.Session()
        self.http.trust_env = False  # loopback: no proxy, and our CA bundle, not the environment's
        self.http.verify = str(tls[0]) if tls else True
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> CollectorProcess:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"collector exited with {self.proc.returncode}: {self.log.read_text()[-2000:]}")
            try:
                if self.http.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return self
            except requests.ConnectionError:
                pass
            time.sleep(0.05)
        self.__exit__()
        raise RuntimeError("collector did not start within 30 s")

    def __exit__(self, *_: Any) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.http.close()


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 made with openssl, for the HTTPS cookie test."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True, timeout=30)
    return cert, key

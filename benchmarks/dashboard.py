"""Dashboard page load time at 100,000 hosts.

Bulk-loads a collector database with fixture data shaped exactly as ingest leaves it (hosts,
current results, per-host directive summaries, tags, the ingest-time rollup counters, 90 days of
daily history, a month of change events), starts ``fedharden collector serve`` on it on a
loopback port, logs in, and times every dashboard view: the full server response over HTTP
(median and p95 of N runs), and the page load in real headless Chromium (navigation start to
the load event, median of a few runs).

On PostgreSQL the loaded database is vacuumed and analyzed first, the state autovacuum reaches
minutes after a bulk load; on SQLite the collector samples statistics itself when it starts.

Usage: .venv/bin/python benchmarks/dashboard.py [--hosts 100000] [--db postgresql://...] [--runs 20]
  -> benchmarks/results/dashboard.json (one entry per database)
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import re
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from agent.contract import host_status  # noqa: E402
from agent.contract import canonical  # noqa: E402
from collectors.admin import add_agency, issue  # noqa: E402
from collectors.models import (HOST_COUNT_COLUMNS, SHARDS, STATUSES, agg_directives,  # noqa: E402
                               agg_requirements, events, history_directives, history_requirements,
                               host_directives, host_tags, hosts, results)
from collectors.storage import Database  # noqa: E402
from directives import load_library  # noqa: E402

TARGET_S = 1.0  # a page, server side, at 100,000 hosts
AGENCIES = 10
BIG_SHARE = 0.5  # the first agency holds half the hosts: the worst case for a SOC
KEV = "BOD-22-01"
CVES = ("CVE-2023-4863", "CVE-2024-3094", "CVE-2024-6387")
HISTORY_DAYS = 90
CHUNK = 20_000


def plan(hardening: int) -> list[dict[str, Any]]:
    """The requirements each host reports: BOD 23-02, part of the hardening baseline, three KEV findings."""
    today = dt.datetime.now(dt.timezone.utc).date()
    out = []
    for d in load_library():
        reqs = d.requirements if d.id != "HARDEN-30D" else d.requirements[:hardening]
        for r in reqs:
            if r.due == "per_finding":  # one result per finding: the KEV ones below
                continue
            due = r.due_date()
            out.append({"key": r.id, "directive": d.id, "requirement": r.id, "title": r.title, "severity": r.severity,
                        "due": due.isoformat() if due else "", "remediation": r.remediation,
                        "references": {k: list(v) for k, v in r.references.items()}, "fail_rate": 0.08})
    for i, cve in enumerate(CVES):
        due = today + dt.timedelta(days=(-30, -5, 25)[i])
        out.append({"key": f"{KEV}.1#{cve}", "directive": KEV, "requirement": f"{KEV}.1", "cve": cve,
                    "title": f"Known exploited vulnerability {cve} is remediated", "severity": "critical",
                    "due": due.isoformat(), "remediation": f"Update the package that carries {cve}.",
                    "references": {"nist_800_53": ["SI-2"]}, "fail_rate": 0.15})
    return out


def doc(req: dict[str, Any], status: str, today: dt.date) -> str:
    due = req["due"] or None
    body = {"key": req["key"], "directive": req["directive"], "requirement": req["requirement"], "title": req["title"],
            "severity": req["severity"], "status": status, "message": "", "due": due,
            "evidence": [{"expected": "as required", "actual": "weaker" if status == "fail" else "as required",
                          "where": "/etc/example.conf:12"}],
            "overdue": status == "fail" and bool(due) and due < today.isoformat(),
            "days_left": (dt.date.fromisoformat(due) - today).days if due else None,
            "references": req["references"], "remediation": req["remediation"]}
    if "cve" in req:
        body["cve"] = req["cve"]
    return canonical(body).decode()


def bulk_load(db: Database, n_hosts: int, hardening: int, seed: int = 7) -> dict[str, Any]:
    """Write the fixture straight into the tables, with the counters ingest would have kept."""
    rng = random.Random(seed)
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)
    today = now.date()
    reqs = plan(hardening)
    docs = {(r["key"], s): doc(r, s, today) for r in reqs for s in ("pass", "fail")}
    sizes = [int(n_hosts * BIG_SHARE)] + [n_hosts * (1 - BIG_SHARE) // (AGENCIES - 1)] * (AGENCIES - 1)
    sizes[-1] += n_hosts - int(sum(sizes))
    with db.write() as conn:
        agency_ids = [add_agency(conn, f"AG{i:02d}", f"Agency {i:02d}") for i in range(AGENCIES)]
        soc_token = issue(conn, "soc", "AG00", "benchmark")[1]
        national_token = issue(conn, "national", None, "benchmark")[1]
    agg_req: Counter[tuple[int, str, str, str, int, str]] = Counter()
    agg_dir: Counter[tuple[int, str, int, str]] = Counter()
    host_pk = 0
    started = time.perf_counter()
    for agency_id, size in zip(agency_ids, sizes):
        for start in range(0, int(size), CHUNK):
            h_rows, hd_rows, t_rows, r_rows = [], [], [], []
            for i in range(start, min(int(size), start + CHUNK)):
                host_pk += 1
                shard = host_pk % SHARDS
                totals: Counter[str] = Counter()
                per_dir: dict[str, Counter[str]] = defaultdict(Counter)
                fail_due: dict[str, str] = {}
                for r in reqs:
                    status = "fail" if rng.random() < r["fail_rate"] else "pass"
                    failing_since = now - dt.timedelta(days=rng.randint(0, 60)) if status == "fail" else None
                    r_rows.append({"host_pk": host_pk, "key": r["key"], "directive": r["directive"],
                                   "requirement": r["requirement"], "status": status, "due": r["due"],
                                   "failing_since": failing_since, "updated_at": now, "doc": docs[(r["key"], status)]})
                    totals[status] += 1
                    per_dir[r["directive"]][status] += 1
                    earliest = fail_due.get(r["directive"])
                    if status == "fail" and r["due"] and (earliest is None or r["due"] < earliest):
                        fail_due[r["directive"]] = r["due"]
                    agg_req[(agency_id, r["directive"], r["requirement"], r["due"], shard, status)] += 1
                for d, c in per_dir.items():
                    hd_rows.append({"host_pk": host_pk, "directive": d, "agency_id": agency_id,
                                    "fail_min_due": fail_due.get(d, ""), **{f"n_{s}": c[s] for s in STATUSES}})
                    agg_dir[(agency_id, d, shard, "hosts")] += 1
                    agg_dir[(agency_id, d, shard, f"{host_status(c).value}_hosts")] += 1
                role = ("web", "db", "hpc", "desktop")[host_pk % 4]
                h_rows.append({"id": host_pk, "host_id": f"host-{host_pk:07d}", "agency_id": agency_id,
                               "hostname": f"{role}-{agency_id:02d}-{i:06d}", "target": "local",
                               "os": "Debian GNU/Linux 12 (bookworm)", "agent_version": "0.1.0", "enrolled_at": now,
                               "last_seen": now - dt.timedelta(minutes=rng.randint(0, 1440)), "last_scan": now,
                               "last_report_id": f"r-{host_pk:010d}", "last_sequence": 1,
                               "state_digest": "sum256:" + "0" * 64, "directives_digest": "sha256:" + "1" * 64,
                               "shard": shard, "total": len(reqs), "fail_min_due": min(fail_due.values(), default=""),
                               "tags": "\n".join(sorted((role, "prod" if host_pk % 3 else "test"))),
                               **{f"n_{s}": totals[s] for s in STATUSES}})
                t_rows += [{"host_pk": host_pk, "tag": role, "agency_id": agency_id},
                           {"host_pk": host_pk, "tag": "prod" if host_pk % 3 else "test", "agency_id": agency_id}]
            with db.write() as conn:
                conn.execute(hosts.insert(), h_rows)
                conn.execute(host_directives.insert(), hd_rows)
                conn.execute(host_tags.insert(), t_rows)
                conn.execute(results.insert(), r_rows)
            print(f"  {host_pk:,} hosts loaded ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    with db.write() as conn:
        rows: dict[tuple[int, str, str, str, int], dict[str, Any]] = {}
        for (a, d, r, due, shard, status), n in agg_req.items():
            row = rows.setdefault((a, d, r, due, shard), {"agency_id": a, "directive": d, "requirement": r, "due": due,
                                                          "shard": shard, **{f"n_{s}": 0 for s in STATUSES}})
            row[f"n_{status}"] = n
        conn.execute(agg_requirements.insert(), list(rows.values()))
        drows: dict[tuple[int, str, int], dict[str, Any]] = {}
        for (a, d, shard, kind), n in agg_dir.items():
            row = drows.setdefault((a, d, shard), {"agency_id": a, "directive": d, "shard": shard,
                                                   **dict.fromkeys(HOST_COUNT_COLUMNS, 0)})
            row[kind] = n
        conn.execute(agg_directives.insert(), list(drows.values()))
        _history(conn, agg_req, agg_dir, today)
        _events(conn, rng, host_pk, sizes, agency_ids, reqs, now)
    return {"soc_token": soc_token, "national_token": national_token, "hosts": host_pk,
            "results": host_pk * len(reqs), "requirements_per_host": len(reqs), "agencies": AGENCIES,
            "largest_agency_hosts": int(sizes[0])}


def _history(conn: Any, agg_req: Counter[Any], agg_dir: Counter[Any], today: dt.date) -> None:
    """A burn-down behind every requirement: failures k days ago were (1 + k/30) times today's."""
    now_counts: dict[tuple[int, str, str], Counter[str]] = defaultdict(Counter)
    dues: dict[tuple[int, str, str], str] = {}
    for (a, d, r, due, _shard, status), n in agg_req.items():
        now_counts[(a, d, r)][status] += n
        dues[(a, d, r)] = due
    dir_now: dict[tuple[int, str], list[int]] = defaultdict(lambda: [0, 0])
    for (a, d, _shard, kind), n in agg_dir.items():
        if kind in ("hosts", "compliant_hosts"):
            dir_now[(a, d)][0 if kind == "hosts" else 1] += n
    req_rows, dir_rows = [], []
    for back in range(1, HISTORY_DAYS):
        day = (today - dt.timedelta(days=back)).isoformat()
        factor = 1 + back / 30
        for (a, d, r), c in now_counts.items():
            total = c["pass"] + c["fail"]
            fail = min(total, round(c["fail"] * factor))
            req_rows.append({"day": day, "agency_id": a, "directive": d, "requirement": r, "due": dues[(a, d, r)],
                             "n_pass": total - fail, "n_fail": fail, "n_error": 0, "n_not_applicable": 0,
                             "n_waived": 0, "n_manual": 0,
                             "n_overdue": fail if dues[(a, d, r)] and dues[(a, d, r)] < day else 0})
        for (a, d), (h, comp) in dir_now.items():
            compliant = max(0, round(comp * (1 - back / 120)))  # results are pass or fail only here
            dir_rows.append({"day": day, "agency_id": a, "directive": d, "hosts": h, "compliant_hosts": compliant,
                             "non_compliant_hosts": h - compliant})
    for i in range(0, len(req_rows), CHUNK):
        conn.execute(history_requirements.insert(), req_rows[i:i + CHUNK])
    conn.execute(history_directives.insert(), dir_rows)


def _events(conn: Any, rng: random.Random, n_hosts: int, sizes: list[float], agency_ids: list[int],
            reqs: list[dict[str, Any]], now: dt.datetime) -> None:
    """A month of status changes: about 1% of hosts change something each day."""
    bounds, acc = [], 0
    for a, size in zip(agency_ids, sizes):
        acc += int(size)
        bounds.append((acc, a))
    rows = []
    for back in range(30):
        for _ in range(max(1, n_hosts // 100)):
            pk = rng.randint(1, n_hosts)
            agency = next(a for limit, a in bounds if pk <= limit)
            r = rng.choice(reqs)
            old, new = ("pass", "fail") if rng.random() < 0.5 else ("fail", "pass")
            rows.append({"agency_id": agency, "host_pk": pk, "key": r["key"], "directive": r["directive"],
                         "requirement": r["requirement"], "old_status": old, "new_status": new,
                         "at": now - dt.timedelta(days=back, seconds=rng.randint(0, 86399)),
                         "report_id": f"r-{pk:010d}"})
    for i in range(0, len(rows), CHUNK):
        conn.execute(events.insert(), rows[i:i + CHUNK])


def pages(n_hosts: int) -> dict[str, tuple[str, str]]:
    """View name -> (role, path)."""
    last_page = max(1, -(-int(n_hosts * BIG_SHARE) // 50))
    return {
        "national": ("national", "/dashboard/national"),
        "directive": ("national", "/dashboard/directive/BOD-23-02"),
        "directives": ("national", "/dashboard/directives"),
        "agency": ("soc", "/dashboard/agency/AG00"),
        "agency_filtered": ("soc", "/dashboard/agency/AG00?directive=BOD-23-02&status=non_compliant"
                                   "&overdue=yes&tag=web"),
        "agency_last_page": ("soc", f"/dashboard/agency/AG00?page={last_page}"),
        "host": ("soc", "/dashboard/host/host-0000042"),
        "agency_progress": ("soc", "/dashboard/national"),
    }


def timed_http(url: str, token: str, paths: dict[str, tuple[str, str]], role: str, runs: int) -> dict[str, Any]:
    import requests

    http = requests.Session()
    http.trust_env = False
    page = http.get(url + "/dashboard/login", timeout=60).text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    assert http.post(url + "/dashboard/login", data={"csrf": csrf, "token": token}, allow_redirects=False,
                     timeout=60).status_code == 303
    out = {}
    for name, (who, path) in paths.items():
        if who != role:
            continue
        for _ in range(2):  # warm caches
            resp = http.get(url + path, timeout=120)
            assert resp.status_code == 200, (path, resp.status_code, resp.text[:300])
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            resp = http.get(url + path, timeout=120)
            times.append(time.perf_counter() - start)
        times.sort()
        out[name] = {"path": path, "median_ms": round(1000 * statistics.median(times), 1),
                     "p95_ms": round(1000 * times[max(0, int(len(times) * 0.95) - 1)], 1),
                     "max_ms": round(1000 * times[-1], 1), "bytes": len(resp.content)}
    return out


def timed_browser(url: str, tokens: dict[str, str], paths: dict[str, tuple[str, str]], runs: int) -> dict[str, Any]:
    from tests.collectors.browser import Browser

    out: dict[str, Any] = {}
    for role, token in tokens.items():
        browser = Browser(url)
        try:
            browser.login(token)
            for name, (who, path) in paths.items():
                if who != role:
                    continue
                loads = []
                for _ in range(runs + 1):
                    browser.go(path)
                    nav = browser.driver.execute_script(
                        "const n = performance.getEntriesByType('navigation')[0];"
                        "return [n.responseEnd - n.startTime, n.loadEventEnd - n.startTime];")
                    loads.append(nav)
                loads = loads[1:]
                out[name] = {"path": path, "response_end_ms": round(statistics.median(x[0] for x in loads), 1),
                             "load_event_ms": round(statistics.median(x[1] for x in loads), 1)}
        finally:
            browser.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=100_000)
    parser.add_argument("--hardening", type=int, default=20, help="HARDEN-30D requirements per host (default 20)")
    parser.add_argument("--db", help="postgresql://... (an empty database); default a fresh SQLite file")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--browser-runs", type=int, default=5)
    parser.add_argument("--output", default=str(HERE / "results" / "dashboard.json"))
    args = parser.parse_args()

    from tests.collectors.dashboard_support import CollectorProcess

    work = Path(tempfile.mkdtemp(prefix="fedharden-dashboard-bench-"))
    url = args.db or f"sqlite:///{work}/collector.sqlite3"
    db = Database(url, pool_size=2)
    db.migrate()
    print(f"loading {args.hosts:,} hosts into {db.dialect}", file=sys.stderr)
    started = time.perf_counter()
    loaded = bulk_load(db, args.hosts, args.hardening)
    load_s = time.perf_counter() - started
    if not db.is_sqlite:
        # the steady state autovacuum reaches minutes after a bulk load: visibility map and statistics
        # (SQLite gets its statistics from the collector itself, when it starts and after each snapshot)
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    db.dispose()
    views = pages(args.hosts)
    with CollectorProcess(url, work / "collector.log") as collector:
        http = {**timed_http(collector.url, loaded["national_token"], views, "national", args.runs),
                **timed_http(collector.url, loaded["soc_token"], views, "soc", args.runs)}
        browser = timed_browser(collector.url, {"national": loaded["national_token"], "soc": loaded["soc_token"]},
                                views, args.browser_runs)
    worst = max(v["median_ms"] for v in http.values())
    result = {
        "what": "dashboard views served by `fedharden collector serve` (1 worker) over bulk-loaded fixture data",
        "database": db.dialect,
        "data": {k: v for k, v in loaded.items() if not k.endswith("_token")},
        "bulk_load_s": round(load_s, 1),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "kernel": platform.release(),
                    "load_average_at_end": [round(x, 2) for x in os.getloadavg()]},
        "http_runs": args.runs,
        "server_response": http,
        "browser_runs": args.browser_runs,
        "chromium_page_load": browser,
        "target_ms": TARGET_S * 1000,
        "meets_target": worst < TARGET_S * 1000,
    }
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    runs = json.loads(out.read_text()) if out.exists() else {}
    runs[db.dialect] = result  # one entry per database; the other's last run is kept
    out.write_text(json.dumps(runs, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("server_response", "chromium_page_load")}, indent=1))
    if not args.db:
        for p in work.glob("collector.sqlite3*"):
            p.unlink()


if __name__ == "__main__":
    main()

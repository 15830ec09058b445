"""Bytes on the wire per submission: a full report versus the delta of an unchanged rescan
(and of a rescan where one result changed), for every shipped directive, on the real
Debian 12 root of the test suite and on this host. The bodies are made by the agent's own
code (agent.delta, agent.spool, agent.submit.wire_body) and the HTTP request head is counted
as requests prepares it (TLS framing excluded).
Usage: .venv/bin/python benchmarks/wire.py  ->  benchmarks/results/wire.json"""
from __future__ import annotations

import copy
import json
import os
import platform
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from agent.hosts import LocalHost, RootfsHost  # noqa: E402
from agent.reporting import record  # noqa: E402
from agent.scan import Scan  # noqa: E402
from agent.spool import Spool, encode  # noqa: E402
from agent.state import StateDir  # noqa: E402
from agent.submit import wire_body  # noqa: E402
from directives import load_library  # noqa: E402

TOKEN = "fhage_" + "x" * 43  # the length of a real agent token


def http_bytes(report: dict[str, Any]) -> dict[str, int]:
    import requests

    body = encode(report)
    data, headers = wire_body(body)
    headers["Authorization"] = f"Bearer {TOKEN}"
    prepared = requests.Session().prepare_request(
        requests.Request("POST", "https://collector.example:8600/api/v1/reports", data=data, headers=headers))
    head = f"POST {prepared.path_url} HTTP/1.1\r\nHost: collector.example:8600\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in prepared.headers.items()) + "\r\n"
    return {"json_bytes": len(body), "body_bytes_sent": len(data), "http_request_bytes": len(head) + len(data),
            "gzip": "Content-Encoding" in headers}


def measure(name: str, host_factory: Any) -> dict[str, Any]:
    directives = load_library()
    with tempfile.TemporaryDirectory() as tmp:
        sd, = (StateDir(tmp),)
        spool = Spool(sd.spool_dir)
        scans = []
        for _ in range(2):
            host = host_factory()
            try:
                scans.append(Scan(host, directives).run())
            finally:
                host.close()
        changed = copy.deepcopy(scans[1])
        target = next(r for r in changed["results"] if r["status"] == "pass")
        target["status"] = "fail"
        target["evidence"] = [{"expected": "the secure state", "actual": "a planted change", "where": "benchmark"}]
        with sd.locked():
            full = record(sd, spool, scans[0]).report
            unchanged = record(sd, spool, scans[1])
            one = record(sd, spool, changed)
    return {
        "target": name,
        "results": len(full["results"]),
        "directives": [d["id"] for d in full["directives"]],
        "full": http_bytes(full),
        "delta_unchanged": {**http_bytes(unchanged.report), "changes": len(unchanged.report["changes"]),
                            "unchanged_between_scans": unchanged.delta.unchanged},
        "delta_one_change": {**http_bytes(one.report), "changes": len(one.report["changes"])},
    }


def main() -> None:
    targets = []
    rootfs = os.environ.get("FEDHARDEN_TEST_ROOTFS", str(HERE.parent / "tests" / ".cache" / "bookworm"))
    if Path(rootfs, ".complete").exists():
        targets.append(measure("Debian 12 root filesystem (the test suite's)", lambda: RootfsHost(rootfs)))
    targets.append(measure("this host (live)", LocalHost))
    for t in targets:
        t["ratio_full_vs_unchanged"] = round(t["full"]["http_request_bytes"]
                                             / t["delta_unchanged"]["http_request_bytes"], 1)
    result = {
        "what": "bytes on the wire per submission: full report vs delta, every shipped directive",
        "machine": {"python": platform.python_version(), "kernel": platform.release()},
        "targets": targets,
    }
    out = HERE / "results" / "wire.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

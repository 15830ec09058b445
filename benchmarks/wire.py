"""Bytes on the wire per submission: a full report versus the deltas of an unchanged rescan,
of a rescan where one result changed, of one new directive, of one changed directive (new
version and content digest, one requirement reworded) and of one removed directive, for the
shipped directives, on the real Debian 12 root of the test suite and on this host.

Each delta is measured as it travels (the compact form, report schema 1.1: the header as a
patch of what changed) and, as the baseline of the same run, as the schema 1.0 delta that
carries the whole header. The bodies are made by the agent's own code (agent.reporting,
agent.spool, agent.submit.wire_body: gzipped above 1 KiB) and ``http_request_bytes`` is
the whole HTTP/1.1 request: request line, headers as requests prepares them (with a bearer
token of a real token's length) and body; TLS framing excluded.
Usage: .venv/bin/python benchmarks/wire.py  ->  benchmarks/results/wire.json"""
from __future__ import annotations

import copy
import dataclasses
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
from agent.contract import Report  # noqa: E402
from agent.reporting import Recorded, record  # noqa: E402
from agent.scan import Scan  # noqa: E402
from agent.spool import Spool, encode  # noqa: E402
from agent.state import StateDir  # noqa: E402
from agent.submit import wire_body  # noqa: E402
from directives import load_library  # noqa: E402
from directives.model import Directive  # noqa: E402

TOKEN = "fhage_" + "x" * 43  # the length of a real agent token
ADDED = "BOD-23-02"  # the directive the benchmark adds, revises and removes


def http_bytes(report: Any) -> dict[str, int]:
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


def reworded(directive: Directive) -> Directive:
    """``directive`` as its next version: one requirement's title changed, a new digest."""
    first, *rest = directive.requirements
    return dataclasses.replace(directive, version="2", digest="sha256:" + "f" * 64,
                               requirements=(dataclasses.replace(first, title=first.title + " (revised)"), *rest))


def sizes(recorded: Recorded) -> dict[str, Any]:
    """The delta as it travels, and as the schema 1.0 delta with the whole header (the baseline)."""
    wire = recorded.wire
    return {**http_bytes(wire), "changes": len(wire.get("changes", [])), "removed": len(wire.get("removed", [])),
            "kind": wire["kind"], "schema_version": wire["schema_version"],
            "header_patch": sorted(wire.get("header", {})),
            "as_schema_1_0": http_bytes(recorded.report)}


def measure(name: str, host_factory: Any) -> dict[str, Any]:
    library = load_library()
    added = next(d for d in library if d.id == ADDED)
    without = [d for d in library if d.id != ADDED]
    revised = [reworded(d) if d.id == ADDED else d for d in library]

    def scan(directives: list[Directive]) -> Report:
        host = host_factory()
        try:
            return Scan(host, directives).run()
        finally:
            host.close()

    with tempfile.TemporaryDirectory() as tmp:
        sd = StateDir(tmp)
        spool = Spool(sd.spool_dir)
        everything = scan(library)
        changed = copy.deepcopy(scan(library))
        target = next(r for r in changed["results"] if r["status"] == "pass")
        target["status"] = "fail"
        target["evidence"] = [{"expected": "the secure state", "actual": "a planted change", "where": "benchmark"}]
        with sd.locked():
            full = record(sd, spool, everything).report
            unchanged = record(sd, spool, scan(library))
            one = record(sd, spool, changed)
            record(sd, spool, scan(without))
            new_directive = record(sd, spool, scan(library))
            changed_directive = record(sd, spool, scan(revised))
            removed_directive = record(sd, spool, scan(without))
    return {
        "target": name,
        "results": len(full["results"]),
        "directives": [d["id"] for d in full["directives"]],
        "directive_added_changed_removed": {"id": ADDED, "requirements": len(added.requirements)},
        "full": http_bytes(full),
        "delta_unchanged": {**sizes(unchanged), "unchanged_between_scans": unchanged.delta.unchanged},
        "delta_one_change": sizes(one),
        "delta_new_directive": sizes(new_directive),
        "delta_changed_directive": sizes(changed_directive),
        "delta_removed_directive": sizes(removed_directive),
    }


def main() -> None:
    targets = []
    rootfs = os.environ.get("FEDHARDEN_TEST_ROOTFS", str(HERE.parent / "tests" / ".cache" / "bookworm"))
    if Path(rootfs, ".complete").exists():
        targets.append(measure("Debian 12 root filesystem (the test suite's)", lambda: RootfsHost(rootfs)))
    targets.append(measure("this host (live)", LocalHost))
    for t in targets:
        unchanged = t["delta_unchanged"]
        t["ratio_full_vs_unchanged"] = round(t["full"]["http_request_bytes"] / unchanged["http_request_bytes"], 1)
        t["ratio_schema_1_0_vs_compact_unchanged"] = round(
            unchanged["as_schema_1_0"]["http_request_bytes"] / unchanged["http_request_bytes"], 1)
        t["unchanged_within_1_kib"] = unchanged["http_request_bytes"] <= 1024
    result = {
        "what": "bytes on the wire per submission (whole HTTP request: request line, headers, body): full "
                "report vs deltas as they travel (schema 1.1) and as schema 1.0 deltas, shipped directives",
        "machine": {"python": platform.python_version(), "kernel": platform.release()},
        "targets": targets,
    }
    out = HERE / "results" / "wire.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

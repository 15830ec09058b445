"""The agent's own record of its last completed scan, for BOD 23-01's cadence (fact family
``last_scan``).

The file is ``<state dir>/last_scan.json`` on the scanned target (agent.state writes it after
each scan it records). The state directory is the one the agent uses (``Context.state_dir``:
``--state-dir`` or ``$FEDHARDEN_STATE_DIR`` for a scan of this host, /var/lib/fedharden on an
image or a host over SSH). Fields read here::

    {"version": 1, "finished_at": "2026-11-26T10:00:00+00:00",
     "directives": [{"id": "BOD-22-01", "digest": "sha256:..."}],
     "feeds": [{"name": "kev", "version": "2026.11.25", "age_hours": 3.5}]}

``feeds`` are the detection data that scan used, with their age at the time of the scan.
"""
from __future__ import annotations

import json

from agent.facts.context import DEFAULT_STATE_DIR, Context, unavailable
from agent.hosts.base import HostError
from checks.facts import FeedAge, LastScan, Unavailable

PATH = f"{DEFAULT_STATE_DIR}/last_scan.json"


def record_path(ctx: Context) -> str:
    return f"{ctx.state_dir.rstrip('/') or ''}/last_scan.json"


def parse(text: str, path: str) -> LastScan | Unavailable:
    try:
        doc = json.loads(text)
        finished = str(doc["finished_at"])
        directives = tuple(str(d["id"]) for d in doc.get("directives", []))
        raw = doc.get("feeds")
        feeds = None if raw is None else tuple(
            FeedAge(str(f["name"]), str(f.get("version", "")),
                    None if f.get("age_hours") is None else float(f["age_hours"])) for f in raw)
    except (ValueError, KeyError, TypeError) as exc:
        return Unavailable(f"{path}: not a scan record ({exc.__class__.__name__}: {exc})")
    return LastScan(path, finished, directives, feeds)


def gather_last_scan(ctx: Context, args: list[str]) -> dict[str, object]:
    path = record_path(ctx)
    try:
        text = ctx.text_or_none(path)
    except HostError as exc:
        return {"": unavailable(exc)}
    if text is None:
        return {"": Unavailable(f"no record of a completed scan ({path} does not exist): the agent writes it "
                                "after each scan it records and reports")}
    return {"": parse(text, path)}


FAMILIES = {"last_scan": gather_last_scan}
PREFETCH = {"last_scan": lambda args: [PATH]}  # the agent's default state directory

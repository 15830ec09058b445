"""Where a plan's failing requirements come from (the last scan, a report file, a scan now) and
what the re-scan after an apply says about them."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from agent import UsageError
from agent.contract import Report


NOT_MET = ("fail", "error")  # unknown is never compliant: a fix may make an unreadable file right


def failing(results: Iterable[Any]) -> list[str]:
    """Requirement ids with a failing (or unjudgeable) result, in report order (a finding's
    requirement once)."""
    return list(dict.fromkeys(str(r["requirement"]) for r in results if r.get("status") in NOT_MET))


def from_report(path: str) -> list[str]:
    try:
        doc = json.loads(Path(path).read_text())
        results = doc["results"]
        if not isinstance(results, list):
            raise TypeError
    except OSError as exc:
        raise UsageError(f"--report {path}: {exc.strerror}") from None
    except (ValueError, KeyError, TypeError):
        raise UsageError(f"--report {path}: not a JSON report of fedharden scan --format json") from None
    return failing(r for r in results if isinstance(r, dict))


def from_state(state_dir: str, target: str) -> list[str]:
    """The failing requirements of the last scan reported from this state directory, which must
    be of ``target`` (``local``, or ``rootfs:DIR`` for an image)."""
    from agent.state import StateDir

    state = StateDir(state_dir).load_state()
    if state is None:
        raise UsageError(f"no scan recorded in {state_dir}/state.json (scan --submit records one): "
                         "use fix --scan-now, or --report FILE from scan --format json")
    recorded = state.header.get("host", {}).get("target")
    if recorded != target:
        raise UsageError(f"the scan recorded in {state_dir} is of {recorded}, not {target}: "
                         "use fix --scan-now, or --report FILE")
    return failing(state.ordered_results())


def scan(host: Any, directives: Sequence[Any], directive_ids: Sequence[str] = ()) -> Report:
    """A scan as ``fedharden scan [--directive ID]...`` makes it (a re-scan reported with
    --submit is then a delta against the scan before)."""
    from agent.scan import Scan, Selection

    return Scan(host, directives, Selection(tuple(directive_ids))).run()


@dataclass
class Verdict:
    fixed: list[str] = field(default_factory=list)
    failing: list[tuple[str, str]] = field(default_factory=list)  # requirement, why

    def line(self) -> str:
        text = f"{len(self.fixed)} fixed, {len(self.failing)} still failing"
        if self.failing:
            text += ": " + "; ".join(f"{rid}: {why}" for rid, why in self.failing)
        return text

    def to_json(self) -> dict[str, Any]:
        return {"fixed": self.fixed, "failing": [{"requirement": r, "why": w} for r, w in self.failing]}


def verdict(report: Report, requirements: Sequence[str]) -> Verdict:
    """Which of ``requirements`` the re-scan finds fixed, and for the others the first reason."""
    by_req: dict[str, list[dict[str, Any]]] = {}
    for r in report["results"]:
        by_req.setdefault(str(r["requirement"]), []).append(dict(r))
    out = Verdict()
    for rid in requirements:
        results = by_req.get(rid, [])
        bad = [r for r in results if r["status"] in ("fail", "error")]
        if results and not bad:
            out.fixed.append(rid)
            continue
        if not results:
            out.failing.append((rid, "not judged by the re-scan"))
            continue
        first = bad[0]
        evidence = next((e for e in first.get("evidence", []) if e.get("verdict") == "violation"),
                        (first.get("evidence") or [{}])[0])
        why = first.get("message") or ", ".join(
            f"{k} {evidence[k]}" for k in ("where", "actual") if evidence.get(k)) or first["status"]
        out.failing.append((rid, " ".join(str(why).split())))
    return out

"""One host status, computed once (agent.contract.host_status), shown the same by every format:
the table, SARIF, OSCAL, JUnit, CSV, JSON Lines and HTML read it from the report's summary."""
from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Callable

import pytest

from agent.contract import HostStatus, host_status, worst
from agent.output import FORMATS
from agent.contract import counts, summarize

COMPOUND = Path(__file__).resolve().parents[2] / "data" / "formats" / "compound.yaml"


def shown(report: dict[str, Any]) -> dict[str, tuple[str, dict[str, str]]]:
    """Per format: (the host's status, each directive's status) as that format shows them."""
    out: dict[str, tuple[str, dict[str, str]]] = {}
    directives = [d["id"] for d in report["directives"]]

    table = FORMATS["table"](report, False).splitlines()
    overall = next(line for line in table if line.startswith("Status: ")).split(" - ")[0][len("Status: "):]
    per: dict[str, str] = {}
    current = ""
    for line in table:
        if line.split("  ")[0] in directives:
            current = line.split("  ")[0]
        elif current and line.startswith("  ") and not line.startswith("   ") and ":" in line and \
                line.strip().split(":")[0] in {s.label for s in HostStatus}:
            per[current] = line.strip().split(":")[0]
    out["table"] = (overall.lower().replace(" ", "_"), {d: s.replace(" ", "_") for d, s in per.items()})

    run = json.loads(FORMATS["sarif"](report, False))["runs"][0]["properties"]
    out["sarif"] = (run["status"], run["directiveStatus"])

    oscal = json.loads(FORMATS["oscal"](report, False))["assessment-results"]
    props = {p["name"]: p["value"] for p in oscal["results"][0]["props"]}
    resources = oscal["back-matter"]["resources"][1:]
    out["oscal"] = (props["status"], {next(p["value"] for p in r["props"] if p["name"] == "directive-id"):
                                      next(p["value"] for p in r["props"] if p["name"] == "status")
                                      for r in resources})

    suites = ET.fromstring(FORMATS["junit"](report, False).split("\n", 1)[1])
    junit: dict[str, str] = {}
    hosts = set()
    for suite in suites.iter("testsuite"):
        p = {e.get("name"): e.get("value") for e in suite.find("properties").iter("property")}  # type: ignore[union-attr]
        junit[suite.get("name", "")] = p["status"] or ""
        hosts.add(p["host_status"])
    assert len(hosts) == 1
    out["junit"] = (hosts.pop() or "", junit)

    rows = list(csv.DictReader(io.StringIO(FORMATS["csv"](report, False))))
    assert len({r["host_status"] for r in rows}) == 1
    out["csv"] = (rows[0]["host_status"], {r["directive"]: r["directive_status"] for r in rows})

    events = [json.loads(line) for line in FORMATS["jsonl"](report, False).splitlines()]
    assert len({e["host_status"] for e in events}) == 1
    out["jsonl"] = (events[0]["host_status"], {e["directive"]: e["directive_status"] for e in events})

    html = FORMATS["html"](report, False)
    found = re.findall(r'data-status="([a-z_]+)"', html)
    out["html"] = (found[0], dict(zip(directives, found[1:])))
    return out


def expected(report: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """The contract's own answer, from the results' statuses alone."""
    by: dict[str, list[str]] = {}
    for r in report["results"]:
        by.setdefault(r["directive"], []).append(r["status"])
    per = {d: host_status(counts(statuses)) for d, statuses in by.items()}
    return worst(per.values()).value, {d: s.value for d, s in per.items()}


@pytest.mark.parametrize("statuses, status", [
    ({"fail", "pass", "error"}, "non_compliant"),
    ({"error", "pass", "manual"}, "incomplete"),
    ({"error"}, "incomplete"),
    ({"manual", "not_applicable"}, "needs_review"),
    ({"manual"}, "needs_review"),
    ({"pass", "waived", "not_applicable"}, "compliant"),
    ({"waived"}, "compliant"),
    ({"not_applicable"}, "not_applicable"),
])
def test_every_format_shows_the_contracts_status(scan_fixture: Callable[..., dict[str, Any]],
                                                 statuses: set[str], status: str) -> None:
    report = scan_fixture(waivers=None)
    compound = scan_fixture(waivers=None, directive_file=COMPOUND)
    # Two directives: FIXTURE's results take the statuses of the case, COMPOUND stays compliant
    # or not as scanned, so the overall status is the worst of two.
    order = sorted(statuses)
    for i, r in enumerate(report["results"]):
        r["status"] = order[i % len(order)]
        r["overdue"] = False
    passing = [r for r in compound["results"] if r["status"] == "pass"]
    report["results"] += passing
    report["directives"] += compound["directives"]
    report["summary"] = summarize(report["results"])
    overall, per = expected(report)
    assert per["FIXTURE"] == status and per["COMPOUND"] == "compliant"
    assert report["summary"]["status"] == overall and report["summary"]["compliant"] == (overall == "compliant")
    for name, (host, directives) in shown(report).items():
        assert (host, directives) == (overall, per), name


def test_a_scan_with_a_failing_and_a_compliant_directive(scan_fixture: Callable[..., dict[str, Any]]) -> None:
    report = scan_fixture(directive_file=COMPOUND, waivers=None)
    overall, per = expected(report)
    assert (overall, per) == ("non_compliant", {"COMPOUND": "non_compliant"})
    for name, got in shown(report).items():
        assert got == (overall, per), name

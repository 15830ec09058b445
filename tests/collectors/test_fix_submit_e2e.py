"""fix --apply --submit and fix --rollback --submit, end to end: the real agent command line on a
copy of the weak Debian 12 root (never this machine), a real collector on SQLite and on
PostgreSQL. The SOC sees each apply (when, by whom, what it fixed, what still fails and why, the
outcome) in the API and on the host's dashboard page; a resend changes nothing; a record made
while the collector is down waits in the state directory and goes with the next submission; and
the host's status is always the re-scan's."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests
from tests.collectors.collector_support import Server, Tokens, free_port
from tests.collectors.dashboard_support import login

from collectors.storage import Database

pytestmark = pytest.mark.slow  # copies of a real root, whole scans, a real server

FEDHARDEN = str(Path(sys.executable).with_name("fedharden"))
# A requirement whose fix writes another file than the one its check reads: the apply carries it
# out and the re-scan still finds it failing, with its reason.
AGENCY = """\
id: AGENCY-X
title: Agency hardening
issuer: Agency
kind: agency
issued: 2026-01-01
requirements:
  - id: AGENCY-X.1
    title: The agency marker exists
    severity: low
    due: 2026-02-01
    rationale: r
    references: {nist_800_53: [CM-6]}
    check: {type: file, path: /etc/agency-marker, kind: file}
    fix: {type: file_content, path: /etc/agency-marker.d, content: "marker\\n"}
"""
SELECTION = ("--directive", "HARDEN-30D", "--directive", "AGENCY-X")
WANTED = ("HARDEN-30D.MOD.1", "HARDEN-30D.ACCT.4", "AGENCY-X.1")


def fh(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([FEDHARDEN, *args], capture_output=True, text=True, timeout=900, check=False,
                          env={**{k: v for k, v in os.environ.items() if not k.startswith("SUDO_")}, **env})


def only(*requirements: str) -> list[str]:
    return [a for r in requirements for a in ("--requirement", r)]


@pytest.fixture
def server(db: Database, tokens: Tokens) -> Iterator[Server]:
    """The collector with its default body limit: a full report of a whole root is larger than
    the suite's usual test server takes."""
    with Server(db) as s:
        yield s


def get(server: Server, token: str, path: str) -> Any:
    resp = server.request("GET", path, token)
    assert resp.status_code == 200, resp.text
    return resp.json()


def test_applies_and_rollbacks_reach_the_soc(server: Server, tokens: Tokens, debian_rootfs: Path,
                                            tmp_path: Path) -> None:
    root, state = tmp_path / "root", tmp_path / "state"
    subprocess.run(["cp", "-a", str(debian_rootfs), str(root)], check=True, timeout=300)
    directive = tmp_path / "agency.yaml"
    directive.write_text(AGENCY)
    common = ("--root", str(root), "--state-dir", str(state), "--directives", str(directive))
    enrolled = fh("enroll", "--collector", server.url, "--agency", "DOJ", "--root", str(root), "--state-dir",
                  str(state), FEDHARDEN_ENROLL_SECRET=tokens.enroll["DOJ"])
    assert enrolled.returncode == 0, enrolled.stderr
    credential = json.loads((state / "credential.json").read_text())
    host_id, soc = credential["host_id"], tokens.soc["DOJ"]
    scanned = fh("scan", "--submit", "-q", *common, *SELECTION)
    assert "submitted full report #1" in scanned.stderr, scanned.stderr

    # An apply that stops (no package manager for UPD.1) is reported too: failed, nothing changed.
    apt = root / "usr/bin/apt-get"
    apt.rename(tmp_path / "apt-get")
    failed = fh("fix", "--apply", "--submit", *common, *SELECTION, *only("HARDEN-30D.MOD.1", "HARDEN-30D.UPD.1"))
    assert failed.returncode == 3 and "no package manager" in failed.stderr, failed.stderr
    assert "submitted apply record" in failed.stderr and "(failed)" in failed.stderr, failed.stderr
    (tmp_path / "apt-get").rename(apt)
    [stopped] = get(server, soc, f"/api/v1/hosts/{host_id}/applies")["applies"]
    assert stopped["outcome"] == "failed" and "no package manager" in stopped["error"]
    assert stopped["counts"] == {"requirements": 2, "fixed": 0, "failing": 0} and stopped["root"] == str(root)

    status_before = get(server, soc, f"/api/v1/hosts/{host_id}")["host"]["status"]
    assert status_before == "non_compliant", scanned.stderr
    applied = fh("fix", "--apply", "--submit", "--by", "jdoe CHG-42", *common, *SELECTION, *only(*WANTED),
                 SUDO_USER="alice", SUDO_UID="1234")
    assert applied.returncode == 1, applied.stdout + applied.stderr  # AGENCY-X.1 still fails
    line = next(x for x in applied.stdout.splitlines() if x.startswith("applied "))
    apply_id = line.split()[1].rstrip(":")
    assert line.endswith("2 fixed, 1 still failing: AGENCY-X.1: where /etc/agency-marker, actual absent"), line
    assert "delta #2 (0 newly failing, 2 fixed" in applied.stderr and "1 apply record(s) delivered" in applied.stderr
    found = get(server, soc, f"/api/v1/hosts/{host_id}/applies")
    assert found["total"] == 2 and found["applies"][0]["apply_id"] == apply_id
    record = found["applies"][0]
    assert record["outcome"] == "applied" and "rollback" not in record
    assert record["by"] == {"user": "alice", "uid": 1234, "sudo": True, "name": "jdoe CHG-42"}
    assert record["counts"] == {"requirements": 3, "fixed": 2, "failing": 1}
    assert sorted(record["fixed"]) == ["HARDEN-30D.ACCT.4", "HARDEN-30D.MOD.1"]
    assert record["failing"] == [{"requirement": "AGENCY-X.1", "why": "where /etc/agency-marker, actual absent"}]
    assert record["include_disruptive"] is False and record["started_at"] <= record["finished_at"]
    journal = json.loads((state / "fixes" / apply_id / "journal.json").read_text())
    assert record["revision"] == journal["revision"] and not list((state / "applies").glob("*.json"))

    # Re-delivery with the host's own token changes nothing.
    again = {**{k: v for k, v in record.items() if k not in ("counts", "received_at", "updated_at")},
             "schema_version": "1.0"}
    resent = server.request("POST", "/api/v1/applies", credential["token"], json=again)
    assert resent.json()["status"] == "duplicate", resent.text
    assert get(server, soc, f"/api/v1/hosts/{host_id}/applies")["applies"][0] == record

    # The rollback is made while the collector cannot be reached: its record and the re-scan wait
    # in the state directory, and the next scan --submit delivers them.
    credential_file = state / "credential.json"
    credential_file.write_text(json.dumps({**credential, "collector": f"http://127.0.0.1:{free_port()}"}))
    rolled = fh("fix", "--rollback", apply_id, "--submit", "--retry-delay", "0", *common, *SELECTION,
                SUDO_USER="bob", SUDO_UID="1001")
    assert rolled.returncode == 0, rolled.stdout + rolled.stderr
    assert f"rolled back {apply_id}" in rolled.stdout
    assert f"the record of apply {apply_id} is spooled for the next submission" in rolled.stderr, rolled.stderr
    assert get(server, soc, f"/api/v1/hosts/{host_id}/applies")["applies"][0]["outcome"] == "applied"
    waiting = json.loads(fh("status", "--state-dir", str(state), "--json").stdout)
    assert waiting["spooled_applies"] == 1 and waiting["spooled"] == 1
    credential_file.write_text(json.dumps(credential))
    later = fh("scan", "--submit", "-q", *common, *SELECTION)
    assert "1 apply record(s) delivered" in later.stderr, later.stderr
    record = get(server, soc, f"/api/v1/hosts/{host_id}/applies")["applies"][0]
    assert record["outcome"] == "rolled_back" and record["rollback"]["by"] == {"user": "bob", "uid": 1001, "sudo": True}
    assert record["counts"] == {"requirements": 3, "fixed": 2, "failing": 1}  # what the apply had done
    detail = get(server, soc, f"/api/v1/hosts/{host_id}")
    statuses = {r["requirement"]: r["status"] for r in detail["results"]}
    assert statuses["HARDEN-30D.MOD.1"] == "fail" and detail["host"]["status"] == "non_compliant"

    # Scope: another agency's SOC does not learn the host exists.
    assert server.request("GET", f"/api/v1/hosts/{host_id}/applies", tokens.soc["DOE"]).status_code == 404

    # The dashboard's host page shows the section.
    browser = requests.Session()
    assert login(server, soc, browser).status_code == 303
    page = browser.get(f"{server.url}/dashboard/host/{host_id}", timeout=30)
    assert page.status_code == 200
    section = page.text[page.text.index('<section class="remediation"'):]
    section = section[:section.index("</section>")]
    assert "Remediation" in section and apply_id in section and "alice" in section and "as stated: jdoe CHG-42" in section
    assert "rolled back" in section and "by bob" in section and "failed, rolled back" in section
    assert "AGENCY-X.1</span>: where /etc/agency-marker, actual absent" in section
    other = requests.Session()
    assert login(server, tokens.soc["DOE"], other).status_code == 303
    assert other.get(f"{server.url}/dashboard/host/{host_id}", timeout=30).status_code == 404

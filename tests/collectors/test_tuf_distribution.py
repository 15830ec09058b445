"""A repository made as publishers make it (directives.tufrepo: key ceremony, CISA's
publication, a delegation to an agency, the agency's own signed publication imported by the
national side) travels national collector -> agency mirror -> the agent's python-tuf client
(agent.directive_updates.refresh), and the agent installs both CISA's and its agency's
directives, verified, while the national collector never serves the agency's bytes."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Iterator

import pytest
from tests.collectors.collector_support import Server

from collectors.storage import Database

pytest.importorskip("tuf")
pytestmark = pytest.mark.slow  # two real collectors on loopback and a key ceremony

CISA = """id: {id}
title: Passwords expire
issuer: CISA
kind: binding_operational_directive
issued: 2026-12-01
applies_to: {{os_family: [debian]}}
requirements:
  - id: {id}.1
    title: Passwords expire within 365 days
    severity: high
    due: {{days_after_issued: 14}}
    rationale: Stolen passwords stop working.
    remediation: Set PASS_MAX_DAYS to 365 or less in /etc/login.defs.
    references: {{nist_800_53: [IA-5]}}
    check: {{type: config, path: /etc/login.defs, dialect: login_defs, key: PASS_MAX_DAYS, default: 99999,
             at_least: 1, at_most: 365}}
"""
AGENCY = CISA.replace("issuer: CISA", "issuer: AG1").replace("kind: binding_operational_directive", "kind: agency")


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text)
    return folder


def database(path: Path) -> Database:
    db = Database(f"sqlite:///{path}", pool_size=2)
    db.migrate()
    return db


@pytest.fixture
def published(tmp_path: Path) -> dict[str, Path]:
    from directives import tufrepo

    national, keys = tmp_path / "national", tmp_path / "keys"
    tufrepo.init(national, keys)
    tufrepo.publish(national, keys, write(tmp_path / "cisa", "bod-26-04.yaml", CISA.format(id="BOD-26-04")))
    agency_keys = tufrepo.KeyDir(tmp_path / "ag1-keys")
    agency_keys.generate("agency-AG1")
    tufrepo.delegate(national, keys, "AG1", agency_keys.public("agency-AG1"))
    agency_repo = tmp_path / "ag1-repo"
    tufrepo.copy_repository(national, agency_repo)
    _, role_file = tufrepo.publish_agency(agency_repo, agency_keys.path, "AG1",
                                          write(tmp_path / "ag1-src", "ag1-base.yaml", AGENCY.format(id="AG1-BASE")))
    tufrepo.import_agency(national, keys, role_file)
    return {"national": national, "keys": keys, "agency": agency_repo, "root": national / "metadata" / "1.root.json"}


@pytest.fixture
def collectors(published: dict[str, Path], tmp_path: Path) -> Iterator[tuple[Server, Server]]:
    with Server(database(tmp_path / "n.sqlite3"), directives_repo=str(published["national"])) as national:
        with Server(database(tmp_path / "a.sqlite3"), directives_upstream=f"{national.url}/api/v1/tuf/",
                    directives_root=str(published["root"]), directives_dir=str(tmp_path / "mirror"),
                    directives_local=str(published["agency"]), directives_interval=3600.0) as agency:
            deadline = time.monotonic() + 30
            while agency.request("GET", "/api/v1/tuf/metadata/timestamp.json").status_code != 200:
                assert time.monotonic() < deadline, "the mirror's first refresh did not complete"
                time.sleep(0.05)
            yield national, agency


def test_an_agent_gets_cisa_and_its_agency_directives_through_its_agency_collector(
        published: dict[str, Path], collectors: tuple[Server, Server], tmp_path: Path) -> None:
    from agent.directive_updates import refresh

    national, agency = collectors
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    outcome = refresh(f"{agency.url}/api/v1/tuf/", state, agency="AG1", trusted_root=published["root"])
    assert {(c.id, c.origin) for c in outcome.added} == {("BOD-26-04", "national"), ("AG1-BASE", "agency-AG1")}

    # From the national collector alone, the agency's files are missing: it never serves them.
    other = tmp_path / "other"
    other.mkdir(mode=0o700)
    from agent.directive_updates import UpdateUnavailable

    with pytest.raises(UpdateUnavailable, match="missing on the repository"):
        refresh(f"{national.url}/api/v1/tuf/", other, agency="AG1", trusted_root=published["root"])
    assert {(c.id, c.origin) for c in refresh(f"{national.url}/api/v1/tuf/", other,
                                              trusted_root=published["root"]).added} == {("BOD-26-04", "national")}

"""Signed directive distribution end to end, every part a real process on loopback
(tests/distribution.py): CISA publishes a new directive; the national collector serves it; the
agency collector mirrors it; the enrolled host's next ``run --once`` evaluates it; the agency
and national rollups show it. Then the agency collector loses its repository: the host's
update fails in one line and it reports all the same, with the directives in force."""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import pytest

pytest.importorskip("collectors.app", reason="needs the collector and its extra")
pytest.importorskip("tuf")

from tests.distribution import HOST_FILES, Distribution  # noqa: E402

pytestmark = pytest.mark.slow  # end to end: two collectors, a publisher and a host as processes

MakeRoot = Callable[..., Path]


@pytest.fixture
def chain(tmp_path: Path, make_root: MakeRoot) -> Iterator[Distribution]:
    d = Distribution(tmp_path, make_root(HOST_FILES, {"/etc/shadow": 0o640}), mirror_interval=1.0,
                     forward_interval=1.0)
    d.ceremony()
    d.start()
    try:
        d.enroll()
        yield d
    finally:
        d.stop()


def evaluated(d: Distribution) -> set[str]:
    return {x["id"] for x in d.last_report()["directives"]}


def test_a_published_directive_reaches_the_host_and_both_rollups(chain: Distribution) -> None:
    d = chain
    first = d.run_once()
    assert first.returncode in (0, 1, 4), first.stderr
    assert "directive update" not in first.stderr and "directives update" not in first.stderr, first.stderr
    assert {"BOD-26-03", "AG1-BASE-1"} <= evaluated(d)
    assert "BOD-26-04" not in evaluated(d)
    assert {"BOD-26-03", "AG1-BASE-1"} <= set(d.rollup_directives("agency"))

    d.publish("BOD-26-04")
    d.wait_mirrored()
    second = d.run_once()
    assert second.returncode == 1, second.stderr  # PASS_MAX_DAYS 99999 fails the new requirement
    assert "BOD-26-04" in evaluated(d)
    agency = d.rollup_directives("agency")["BOD-26-04"]
    assert (agency["hosts"], agency["non_compliant_hosts"]) == (1, 1)
    assert agency["counts"]["fail"] == 1
    d.wait_rollup("national", "BOD-26-04")
    national = d.rollup_directives("national")["BOD-26-04"]
    assert (national["hosts"], national["non_compliant_hosts"]) == (1, 1)
    assert list((d.state / "spool").glob("*.json")) == []

    # The agency collector comes back without its repository: the update fails, in one line,
    # and the host reports with the directives it verified before.
    d.agency.stop()
    d.agency.start()
    third = d.run_once()
    assert third.returncode == 1, third.stderr
    lines = [line for line in third.stderr.splitlines() if line.strip()]
    update_lines = [line for line in lines if "update" in line]
    assert len(update_lines) == 1, third.stderr
    assert "scanning with the directives in force" in update_lines[0]
    assert {"BOD-26-03", "BOD-26-04", "AG1-BASE-1"} <= evaluated(d)
    assert list((d.state / "spool").glob("*.json")) == []  # delivered

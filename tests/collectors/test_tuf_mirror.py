"""An agency collector mirrors the national directive repository (``serve --directives-upstream``):
the same bytes once python-tuf's client has verified them, its own agency's target files from
its local folder, never another agency's, and nothing new served when the upstream offers
what an agent would refuse."""
from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest
from securesystemslib.signer import CryptoSigner
from tests.collectors.collector_support import Server, free_port
from tests.tuf_repository import Repository

from collectors import UpstreamError
from collectors.directive_mirror import Mirror, run_periodically
from collectors.storage import Database

pytest.importorskip("tuf")
pytestmark = pytest.mark.slow  # real collectors on loopback, one or two per test

NATIONAL = b"id: BOD-26-04\n"
OWN = b"id: AG1-BASELINE\n"
OTHER = b"id: AG2-BASELINE\n"


@pytest.fixture
def repo(tmp_path: Path) -> Repository:
    repository = Repository(tmp_path / "national", agencies=("AG1", "AG2"))
    repository.add("directives/BOD-26-04.yaml", NATIONAL)
    repository.add("agency/AG1/baseline.yaml", OWN, agency="AG1")
    repository.add("agency/AG2/baseline.yaml", OTHER, agency="AG2")
    repository.publish()
    return repository


def database(path: Path) -> Database:
    db = Database(f"sqlite:///{path}", pool_size=2)
    db.migrate()
    return db


@pytest.fixture
def collectors(repo: Repository, tmp_path: Path) -> Iterator[tuple[Server, Server, Mirror]]:
    with Server(database(tmp_path / "national.sqlite3"), directives_repo=str(repo.path)) as national:
        upstream = f"{national.url}/api/v1/tuf/"
        settings = {"directives_upstream": upstream, "directives_root": str(repo.trusted_root()),
                    "directives_dir": str(tmp_path / "mirror"), "directives_local": str(repo.local("AG1")),
                    "directives_interval": 3600.0}
        with Server(database(tmp_path / "agency.sqlite3"), **settings) as agency:
            deadline = time.monotonic() + 20
            while agency.request("GET", "/api/v1/tuf/metadata/timestamp.json").status_code != 200:
                assert time.monotonic() < deadline, "the mirror's first refresh did not complete"
                time.sleep(0.05)
            yield national, agency, Mirror(upstream, repo.trusted_root(), tmp_path / "mirror", repo.local("AG1"))


def target_url(path: str, data: bytes) -> str:
    import hashlib

    dirname, _, base = path.rpartition("/")
    return f"/api/v1/tuf/targets/{dirname}/{hashlib.sha256(data).hexdigest()}.{base}"


def test_the_mirror_serves_the_upstream_bytes_and_its_own_agency_targets(
        repo: Repository, collectors: tuple[Server, Server, Mirror], tmp_path: Path) -> None:
    national, agency, _ = collectors
    for path in sorted((repo.path / "metadata").iterdir()):
        mine = agency.request("GET", f"/api/v1/tuf/metadata/{path.name}")
        assert mine.status_code == 200 and mine.content == path.read_bytes(), path.name
        assert mine.headers["etag"] == national.request("GET", f"/api/v1/tuf/metadata/{path.name}").headers["etag"]
    assert agency.request("GET", target_url("directives/BOD-26-04.yaml", NATIONAL)).content == NATIONAL
    own = target_url("agency/AG1/baseline.yaml", OWN)
    assert agency.request("GET", own).content == OWN
    assert national.request("GET", own).status_code == 404  # the national collector never has an agency's bytes
    assert agency.request("GET", target_url("agency/AG2/baseline.yaml", OTHER)).status_code == 404

    # An agent of AG1 gets everything it needs from its own collector, verified from the same root.
    from tuf.ngclient import Updater

    (tmp_path / "agent").mkdir()
    base = f"{agency.url}/api/v1/tuf/"
    updater = Updater(str(tmp_path / "agent"), base + "metadata/", str(tmp_path / "dl"), base + "targets/",
                      bootstrap=repo.trusted_root().read_bytes())
    updater.refresh()
    for path, data in (("agency/AG1/baseline.yaml", OWN), ("directives/BOD-26-04.yaml", NATIONAL)):
        info = updater.get_targetinfo(path)
        assert info is not None and Path(updater.download_target(info)).read_bytes() == data


def test_a_new_state_is_mirrored_and_a_refused_one_leaves_the_last_verified_copy(
        repo: Repository, collectors: tuple[Server, Server, Mirror]) -> None:
    _, agency, mirror = collectors
    repo.add("directives/BOD-26-05.yaml", b"id: BOD-26-05\n")
    assert repo.publish() == 2
    outcome = mirror.refresh()
    assert outcome is not None and (outcome.version, outcome.changed, outcome.targets, outcome.local) == (2, True, 3, 1)
    assert mirror.refresh() == outcome.__class__(2, False, 3, 1)  # nothing new: nothing rewritten
    served = agency.request("GET", "/api/v1/tuf/metadata/timestamp.json").content
    assert served == (repo.path / "metadata" / "timestamp.json").read_bytes()

    # A target whose bytes do not match its signed hash.
    repo.add("directives/BOD-26-06.yaml", b"id: BOD-26-06\n")
    repo.publish()
    served_file = next(p for p in (repo.path / "targets" / "directives").iterdir() if p.name.endswith("26-06.yaml"))
    served_file.write_bytes(b"id: BOD-26-66\n")  # the same length, other bytes
    with pytest.raises(UpstreamError, match="LengthOrHashMismatchError"):
        mirror.refresh()
    assert agency.request("GET", "/api/v1/tuf/metadata/timestamp.json").content == served

    # A timestamp signed by a key the root does not know.
    repo.signers["timestamp"] = CryptoSigner.generate_ed25519()
    repo.publish()
    with pytest.raises(UpstreamError, match="timestamp"):
        mirror.refresh()
    assert agency.request("GET", "/api/v1/tuf/metadata/timestamp.json").content == served
    assert agency.request("GET", "/api/v1/tuf/metadata/4.snapshot.json").status_code == 404


def test_a_local_file_that_does_not_match_its_signed_hash_is_not_served(repo: Repository, tmp_path: Path) -> None:
    with Server(database(tmp_path / "national.sqlite3"), directives_repo=str(repo.path)) as national:
        local = tmp_path / "edited"
        local.mkdir()
        (local / "baseline.yaml").write_bytes(OWN + b"# edited after signing\n")
        mirror = Mirror(f"{national.url}/api/v1/tuf/", repo.trusted_root(), tmp_path / "mirror", local)
        outcome = mirror.refresh()
        assert outcome is not None and (outcome.targets, outcome.local) == (1, 0)
        assert not (tmp_path / "mirror" / "repo" / "targets" / "agency").exists()


def test_an_unreachable_upstream_is_one_line_and_the_copy_stays(repo: Repository, tmp_path: Path,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    down = Mirror(f"http://127.0.0.1:{free_port()}/api/v1/tuf/", repo.trusted_root(), tmp_path / "mirror")
    stop = threading.Event()
    with caplog.at_level(logging.WARNING, logger="fedharden.collector"):
        worker = threading.Thread(target=run_periodically, args=(down, 60.0, stop))
        worker.start()
        deadline = time.monotonic() + 30
        while not caplog.records and time.monotonic() < deadline:
            time.sleep(0.05)
        stop.set()
        worker.join(10)
    assert len(caplog.records) == 1
    line = caplog.records[0].getMessage()
    assert "\n" not in line and line.startswith("directive mirror of http://127.0.0.1:")
    assert line.endswith("; serving the last verified copy")
    assert not (tmp_path / "mirror" / "repo" / "metadata" / "timestamp.json").exists()


def test_serve_refuses_contradictory_or_incomplete_directive_options(repo: Repository, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from agent.cli import main

    db = f"sqlite:///{tmp_path}/c.sqlite3"
    not_root = tmp_path / "notroot.json"
    not_root.write_bytes((repo.path / "metadata" / "timestamp.json").read_bytes())
    cases = {
        ("--directives-repo", str(repo.path), "--directives-upstream", "http://127.0.0.1:1/api/v1/tuf/"):
            "--directives-repo and --directives-upstream exclude each other",
        ("--directives-upstream", "http://127.0.0.1:1/api/v1/tuf/"): "--directives-upstream needs --directives-root",
        ("--directives-upstream", "ftp://x/", "--directives-root", str(repo.trusted_root())): "not an http:// or https://",
        ("--directives-upstream", "http://127.0.0.1:1/", "--directives-root", str(not_root)):
            f"--directives-root {not_root}: not a TUF root",
        ("--directives-local", str(tmp_path),): "--directives-local needs --directives-upstream",
        ("--directives-repo", str(tmp_path),): "no metadata/ folder",
    }
    for args, message in cases.items():
        result = CliRunner().invoke(main, ["collector", "serve", "--db", db, *args])
        assert result.exit_code == 2, (args, result.output)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], (args, lines)

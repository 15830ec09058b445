"""The directive repository served read-only at /api/v1/tuf/ (``serve --directives-repo``): the
bytes as published, no token, cache headers by kind of file, ETags, and nothing outside the
repository whatever the path or the links in it; python-tuf's own client refreshes from it."""
from __future__ import annotations

import http.client
import os
from pathlib import Path

import pytest
from tests.collectors.collector_support import Server
from tests.tuf_repository import Repository

from collectors.storage import Database

pytest.importorskip("tuf")
pytestmark = pytest.mark.slow  # real collectors on loopback, one or two per test

DIRECTIVE = b"id: BOD-26-04\ntitle: New directive\n"


@pytest.fixture
def repo(tmp_path: Path) -> Repository:
    repository = Repository(tmp_path / "national")
    repository.add("directives/BOD-26-04.yaml", DIRECTIVE)
    repository.publish()
    return repository


@pytest.fixture
def sqlite(tmp_path: Path) -> Database:
    db = Database(f"sqlite:///{tmp_path}/collector.sqlite3", pool_size=2)
    db.migrate()
    return db


def raw_get(server: Server, path: str) -> tuple[int, bytes]:
    """GET a path exactly as written (requests would normalise '..' away)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def test_files_are_served_as_published_with_cache_headers_by_kind(repo: Repository, sqlite: Database) -> None:
    target = next((repo.path / "targets" / "directives").iterdir())
    with Server(sqlite, directives_repo=str(repo.path)) as server:
        ts = server.request("GET", "/api/v1/tuf/metadata/timestamp.json")
        assert ts.status_code == 200 and ts.content == (repo.path / "metadata" / "timestamp.json").read_bytes()
        assert ts.headers["content-type"] == "application/json"
        assert ts.headers["cache-control"] == "no-cache"
        assert ts.headers["x-content-type-options"] == "nosniff"
        again = server.request("GET", "/api/v1/tuf/metadata/timestamp.json",
                               headers={"If-None-Match": ts.headers["etag"]})
        assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == ts.headers["etag"]
        assert server.request("GET", "/api/v1/tuf/metadata/timestamp.json",
                              headers={"If-None-Match": '"other"'}).status_code == 200

        snap = server.request("GET", "/api/v1/tuf/metadata/1.snapshot.json")
        assert snap.status_code == 200 and snap.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert snap.content == (repo.path / "metadata" / "1.snapshot.json").read_bytes()
        assert server.request("GET", "/api/v1/tuf/metadata/root.json").headers["cache-control"] == "no-cache"

        got = server.request("GET", f"/api/v1/tuf/targets/directives/{target.name}")
        assert got.status_code == 200 and got.content == DIRECTIVE
        assert got.headers["content-type"] == "application/yaml"
        assert got.headers["cache-control"] == "public, max-age=31536000, immutable"

        # A new state: timestamp.json changes under its name, so its old ETag no longer matches.
        repo.add("directives/BOD-26-05.yaml", b"id: BOD-26-05\n")
        repo.publish()
        newer = server.request("GET", "/api/v1/tuf/metadata/timestamp.json",
                               headers={"If-None-Match": ts.headers["etag"]})
        assert newer.status_code == 200 and newer.headers["etag"] != ts.headers["etag"]


def test_nothing_outside_the_repository_is_served(repo: Repository, sqlite: Database, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("not public")
    (repo.path / "targets" / "escape.txt").symlink_to(secret)
    (repo.path / "targets" / "dirlink").symlink_to(tmp_path)
    (repo.path / "targets" / "inside.json").symlink_to(repo.path / "metadata" / "root.json")
    os.mkfifo(repo.path / "targets" / "fifo")
    (repo.path / "keys.txt").write_text("beside the repository, not in it")
    with Server(sqlite, directives_repo=str(repo.path)) as server:
        for path in ("/api/v1/tuf/metadata/../../secret.txt", "/api/v1/tuf/targets/../keys.txt",
                     "/api/v1/tuf/targets/%2e%2e/keys.txt", "/api/v1/tuf/keys.txt", "/api/v1/tuf/targets/escape.txt",
                     "/api/v1/tuf/targets/dirlink/secret.txt", "/api/v1/tuf/targets/fifo", "/api/v1/tuf/targets/",
                     "/api/v1/tuf/metadata", "/api/v1/tuf/", "/api/v1/tuf/metadata/.hidden.json",
                     "/api/v1/tuf/metadata/sub/1.root.json", "/api/v1/tuf/targets//etc/passwd",
                     "/api/v1/tuf/targets/%2Fetc%2Fpasswd", "/api/v1/tuf/metadata/%2e%2e%2fkeys.txt"):
            status, body = raw_get(server, path)
            assert status == 404, (path, status, body)
            assert b"not public" not in body and b"beside the repository" not in body
        # A link that stays inside the repository is only another name for a file in it.
        inside = server.request("GET", "/api/v1/tuf/targets/inside.json")
        assert inside.status_code == 200 and inside.content == (repo.path / "metadata" / "root.json").read_bytes()


def test_no_repository_configured_is_a_clear_404(sqlite: Database) -> None:
    with Server(sqlite) as server:
        resp = server.request("GET", "/api/v1/tuf/metadata/timestamp.json")
        assert resp.status_code == 404
        assert "serves no directive repository" in resp.json()["error"]
        paths = server.request("GET", "/openapi.json").json()["paths"]
        assert set(paths["/api/v1/tuf/{path}"]) == {"get"}
        assert {"200", "304", "404", "503"} <= set(paths["/api/v1/tuf/{path}"]["get"]["responses"])


def test_python_tuf_client_refreshes_from_the_served_repository(repo: Repository, sqlite: Database,
                                                                tmp_path: Path) -> None:
    from tuf.ngclient import Updater

    (tmp_path / "client").mkdir()
    with Server(sqlite, directives_repo=str(repo.path)) as server:
        base = f"{server.url}/api/v1/tuf/"
        updater = Updater(str(tmp_path / "client"), base + "metadata/", str(tmp_path / "dl"), base + "targets/",
                          bootstrap=repo.trusted_root().read_bytes())
        updater.refresh()
        info = updater.get_targetinfo("directives/BOD-26-04.yaml")
        assert info is not None
        assert Path(updater.download_target(info)).read_bytes() == DIRECTIVE


SEGMENTS = ["metadata", "targets", "directives", "..", ".", "", "%2e%2e", "%2E%2E", "%2f", "%00", "..%2f",
            "root.json", "timestamp.json", "1.root.json", "secret.txt", "escape.txt", "dirlink", "fifo",
            "national", "keys.txt", "%252e%252e", ".hidden", "a" * 300, "%E2%80%AE", "%ff", "~", "*"]


def test_no_path_reaches_outside_or_fails(repo: Repository, sqlite: Database, tmp_path: Path) -> None:
    """Paths drawn from segments built to escape: every answer is 200 (bytes of a file inside
    the repository), 304, 400 (a NUL, refused before routing) or 404; never a 5xx, never
    anything else's bytes."""
    from hypothesis import HealthCheck, given, seed, settings
    from hypothesis import strategies as st

    (tmp_path / "secret.txt").write_text("not public")
    (repo.path / "targets" / "escape.txt").symlink_to(tmp_path / "secret.txt")
    (repo.path / "targets" / "dirlink").symlink_to(tmp_path)
    os.mkfifo(repo.path / "targets" / "fifo")
    inside = {p.read_bytes() for p in repo.path.rglob("*") if p.is_file() and not p.is_symlink()}
    with Server(sqlite, directives_repo=str(repo.path)) as server:
        @seed(20)
        @settings(max_examples=300, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(st.lists(st.sampled_from(SEGMENTS), min_size=1, max_size=6))
        def probe(parts: list[str]) -> None:
            path = "/api/v1/tuf/" + "/".join(parts)
            status, body = raw_get(server, path)
            assert status in (200, 304, 400, 404), (path, status)
            assert b"not public" not in body
            if status == 200:
                assert body in inside, path

        probe()

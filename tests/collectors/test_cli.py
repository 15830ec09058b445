"""The collector's command line: migrations, administration, the extra hint, serve."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from agent.cli import main
from tests.collectors.collector_support import free_port

from collectors.storage import Database

pytestmark = pytest.mark.slow  # the collector command line as a process, a TLS server


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["collector", *args])
    return result.exit_code, result.stdout, result.stderr


def test_migrate_is_idempotent_and_schema_matches_models(db_url: str) -> None:
    code, out, _ = run("migrate", "--db", db_url)
    assert code == 0 and out.startswith("schema at 0009")
    code, out, _ = run("migrate", "--db", db_url)
    assert code == 0 and out.strip() == "schema at 0009 (nothing to do)"
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from collectors.models import metadata

    db = Database(db_url)
    with db.read() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    db.dispose()


def test_administration(db_url: str) -> None:
    assert run("agency", "add", "DOJ", "--name", "Justice", "--db", db_url)[0] == 0
    code, _, err = run("agency", "add", "DOJ", "--db", db_url)
    assert code == 2 and err.strip() == "fedharden: agency 'DOJ' already exists"
    code, out, err = run("token", "create", "--role", "soc", "--agency", "DOJ", "--db", db_url)
    assert code == 0 and out.startswith("fhsoc_") and "shown only this once" in err
    secret = out.strip()
    code, out, _ = run("token", "enrollment", "--agency", "DOJ", "--db", db_url)
    assert code == 0 and out.startswith("fhenr_")
    code, out, _ = run("token", "list", "--db", db_url)
    assert secret not in out and "soc" in out and "enroll" in out
    assert run("token", "revoke", "1", "--db", db_url)[0] == 0
    code, _, err = run("token", "revoke", "1", "--db", db_url)
    assert code == 2 and "no active token with id 1" in err
    code, _, err = run("token", "create", "--role", "soc", "--agency", "NOPE", "--db", db_url)
    assert (code, err.strip()) == (2, "fedharden: unknown agency 'NOPE'")
    code, _, err = run("token", "create", "--role", "national", "--agency", "DOJ", "--db", db_url)
    assert code == 2 and "drop --agency" in err


def test_unreachable_database_is_one_line() -> None:
    code, _, err = run("migrate", "--db", "postgresql://postgres:secretpw@127.0.0.1:1/x")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "secretpw" not in err
    code, _, err = run("migrate", "--db", "mysql://x@y/z")
    assert code == 2 and "unsupported database URL" in err


def test_without_the_extra_the_command_says_how_to_install_it() -> None:
    # Hiding a module in sys.modules makes importing it fail, as on an install without the extra.
    code = "import sys; sys.modules['fastapi'] = None; from agent.cli import main; main()"
    proc = subprocess.run([sys.executable, "-c", code, "collector", "migrate"], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "fedharden: the collector needs its extra: pip install 'fedharden[collector]'"


def _tls_pair(tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-days", "1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def test_serve_over_tls_end_to_end(tmp_path: Path, db_url: str) -> None:
    """The real command: `fedharden collector serve` with TLS, then the OpenAPI document."""
    cert, key = _tls_pair(tmp_path)
    port = free_port()
    # The module of this checkout, not whichever copy the installed console script imports.
    exe = [sys.executable, "-m", "agent.cli"]
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen([*exe, "collector", "serve", "--db", db_url, "--port", str(port),
                             "--tls-cert", str(cert), "--tls-key", str(key)], stdout=log, stderr=log,
                            cwd=Path(__file__).parents[2])
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                resp = requests.get(f"https://127.0.0.1:{port}/openapi.json", verify=str(cert), timeout=2)
                break
            except requests.ConnectionError:
                assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
                time.sleep(0.2)
        assert resp.status_code == 200
        paths = resp.json()["paths"]
        assert {"/api/v1/reports", "/api/v1/enroll", "/api/v1/hosts", "/api/v1/rollups"} <= set(paths)
        assert requests.get(f"https://127.0.0.1:{port}/readyz", verify=str(cert), timeout=5).json()["status"] == "ok"
        assert requests.get(f"https://127.0.0.1:{port}/api/v1/hosts", verify=str(cert), timeout=5).status_code == 401
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        finally:
            log.close()
            print((tmp_path / "serve.log").read_text())


def test_serve_refuses_bad_combinations(db_url: str, tmp_path: Path) -> None:
    cert, _ = _tls_pair(tmp_path)
    code, _, err = run("serve", "--db", db_url, "--tls-cert", str(cert))
    assert (code, err.strip()) == (2, "fedharden: --tls-cert and --tls-key go together")
    code, _, err = run("serve", "--db", db_url, "--upstream", "http://127.0.0.1:1")
    assert code == 2 and "--upstream needs a token" in err
    code, _, err = run("serve", "--db", db_url, "--upstream-detail", "hosts")
    assert (code, err.strip()) == (2, "fedharden: --upstream-detail needs --upstream")

"""Collector fixtures: every test that takes ``db`` runs twice, on SQLite and on the real
PostgreSQL server (a database created for this run and dropped after it), and ``server`` is
the real collector on uvicorn on a free loopback port."""
from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Iterator

import pytest

pytest.importorskip("fastapi", reason="the collector extra is not installed")

import sqlalchemy as sa  # noqa: E402
from tests.collectors.collector_support import Server, Tokens, empty, provision  # noqa: E402

from collectors.storage import Database  # noqa: E402

PG_ADMIN = os.environ.get("FEDHARDEN_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test run, migrated once, dropped at the end."""
    name = f"fedharden_test_{secrets.token_hex(6)}"
    admin = Database(PG_ADMIN, pool_size=1)
    try:
        with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as exc:
        pytest.fail(f"PostgreSQL at {PG_ADMIN} is not reachable: {exc.orig}")
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    db = Database(url, pool_size=1)
    db.migrate()
    db.dispose()
    yield url
    with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/collector.sqlite3"
    url: str = request.getfixturevalue("pg_url")
    empty(url)  # a clean slate per test in the run's database
    return url


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url, pool_size=4)
    database.migrate()
    yield database
    database.dispose()


@pytest.fixture
def tokens(db: Database) -> Tokens:
    return provision(db)


@pytest.fixture
def server(db: Database, tokens: Tokens) -> Iterator[Server]:
    with Server(db, max_body=256 * 1024) as s:
        yield s

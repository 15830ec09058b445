"""Migration 0006 on a database that holds rows: the local counters of hosts per directive are
recounted by host status from the hosts' stored counts; pushed counters and past snapshots,
which hold no per-host counts, keep what they can tell (the hosts with a failing result) and
count the others as unknown, never compliant."""
from __future__ import annotations

import datetime as dt
import os
import secrets
from pathlib import Path
from typing import Any, Iterator

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from collectors.storage import Database

PG_ADMIN = os.environ.get("FEDHARDEN_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
AT = dt.datetime(2026, 12, 1, 12, 0)
STATUSES = ("pass", "fail", "error", "not_applicable", "waived", "manual")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
def old_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A database of its own, migrated to 0005 only."""
    if request.param == "sqlite":
        db = Database(f"sqlite:///{tmp_path}/old.sqlite3", pool_size=1)
        name = None
    else:
        name = f"fedharden_test_{secrets.token_hex(6)}"
        admin = Database(PG_ADMIN, pool_size=1)
        with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        db = Database(PG_ADMIN.rsplit("/", 1)[0] + f"/{name}", pool_size=1)
    upgrade(db, "0005")
    yield db
    db.dispose()
    if name is not None:
        with admin.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def upgrade(db: Database, revision: str, down: bool = False) -> None:
    with db.write() as conn:
        cfg = Config()
        cfg.set_main_option("script_location", "collectors:migrations")
        cfg.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(cfg, revision)


def table(name: str, *columns: str) -> Any:
    return sa.table(name, *(sa.column(c) for c in columns))


def counts(**n: int) -> dict[str, int]:
    return {f"n_{s}": n.get(s, 0) for s in STATUSES}


def test_upgrade_recounts_hosts_by_status(old_db: Database) -> None:
    # DOJ's hosts as 0005 kept them: a host without a failing result counted compliant.
    per_host = {  # host pk -> directive -> counts
        1: {"BOD-23-01": counts(error=3), "HARDEN-30D": counts(**{"pass": 2})},   # errors only
        2: {"BOD-23-01": counts(fail=1, error=1), "HARDEN-30D": counts(not_applicable=2)},
        3: {"BOD-23-01": counts(manual=2)},                                     # manual only
        5: {"BOD-23-01": counts(**{"pass": 1, "waived": 1})},
    }
    with old_db.write() as conn:
        conn.execute(table("agencies", "id", "code", "name", "created_at").insert(),
                     [{"id": 1, "code": "DOJ", "name": "Justice", "created_at": AT},
                      {"id": 2, "code": "DOE", "name": "Energy", "created_at": AT}])
        conn.execute(table("hosts", "id", "host_id", "agency_id", "hostname", "enrolled_at", "shard").insert(),
                     [{"id": pk, "host_id": f"h{pk}", "agency_id": 1, "hostname": f"h{pk}", "enrolled_at": AT,
                       "shard": pk % 4} for pk in per_host])
        conn.execute(table("host_directives", "host_pk", "directive", "agency_id", *counts()).insert(),
                     [{"host_pk": pk, "directive": d, "agency_id": 1, **c}
                      for pk, dirs in per_host.items() for d, c in dirs.items()])
        old = table("agg_directives", "agency_id", "directive", "shard", "hosts", "compliant_hosts")
        conn.execute(old.insert(), [
            {"agency_id": 1, "directive": "BOD-23-01", "shard": 1, "hosts": 2, "compliant_hosts": 2},  # h1, h5
            {"agency_id": 1, "directive": "BOD-23-01", "shard": 2, "hosts": 1, "compliant_hosts": 0},  # h2
            {"agency_id": 1, "directive": "BOD-23-01", "shard": 3, "hosts": 1, "compliant_hosts": 1},  # h3
            {"agency_id": 1, "directive": "HARDEN-30D", "shard": 1, "hosts": 1, "compliant_hosts": 1},
            {"agency_id": 1, "directive": "HARDEN-30D", "shard": 2, "hosts": 1, "compliant_hosts": 1},
            # DOE's counters, pushed by its agency collector
            {"agency_id": 2, "directive": "BOD-23-01", "shard": -1, "hosts": 10, "compliant_hosts": 7}])
        conn.execute(table("history_directives", "day", "agency_id", "directive", "hosts", "compliant_hosts").insert(),
                     [{"day": "2026-11-30", "agency_id": 1, "directive": "BOD-23-01", "hosts": 4,
                       "compliant_hosts": 3}])

    upgrade(old_db, "head")

    columns = ("hosts", "compliant_hosts", "non_compliant_hosts", "incomplete_hosts", "needs_review_hosts",
               "not_applicable_hosts", "unknown_hosts")
    with old_db.read() as conn:
        kept = {(r.agency_id, r.directive, r.shard): tuple(getattr(r, c) for c in columns)
                for r in conn.execute(sa.select(table("agg_directives", "agency_id", "directive", "shard", *columns)))}
        history = {(r.day, r.directive): tuple(getattr(r, c) for c in columns)
                   for r in conn.execute(sa.select(table("history_directives", "day", "directive", *columns)))}
    #                                          hosts ok  fail inc  rev  n/a  unknown
    assert kept == {(1, "BOD-23-01", 1): (2, 1, 0, 1, 0, 0, 0),  # h1 errors only, h5 pass and waived
                    (1, "BOD-23-01", 2): (1, 0, 1, 0, 0, 0, 0),
                    (1, "BOD-23-01", 3): (1, 0, 0, 0, 1, 0, 0),
                    (1, "HARDEN-30D", 1): (1, 1, 0, 0, 0, 0, 0),
                    (1, "HARDEN-30D", 2): (1, 0, 0, 0, 0, 1, 0),
                    (2, "BOD-23-01", -1): (10, 0, 3, 0, 0, 0, 7)}
    assert history == {("2026-11-30", "BOD-23-01"): (4, 0, 1, 0, 0, 0, 3)}

    # and back: compliant_hosts means "without a failing result" again
    upgrade(old_db, "0005", down=True)
    with old_db.read() as conn:
        back = {(r.agency_id, r.directive, r.shard): (r.hosts, r.compliant_hosts)
                for r in conn.execute(sa.select(table("agg_directives", "agency_id", "directive", "shard", "hosts",
                                                      "compliant_hosts")))}
    assert back[(1, "BOD-23-01", 1)] == (2, 2) and back[(2, "BOD-23-01", -1)] == (10, 7)

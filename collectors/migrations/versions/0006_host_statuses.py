"""hosts per directive by host status (non_compliant, incomplete, needs_review, compliant,
not_applicable), and hosts whose status is not known (unknown_hosts)

Until now ``compliant_hosts`` counted every host without a failing result, so a host whose
results were all errors counted as compliant. The counters are recomputed from the hosts'
stored per-directive counts (host_directives) with agent.contract.host_status. Counters an
agency collector pushed, and past daily snapshots, hold no per-host counts: their hosts with
a failing result are non-compliant, the others become ``unknown_hosts`` (never compliant).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 17:00:00
"""
from __future__ import annotations

from collections import defaultdict

import sqlalchemy as sa
from alembic import op

from agent.contract import HostStatus, host_status

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

STATUSES = ("pass", "fail", "error", "not_applicable", "waived", "manual")
NEW = ("non_compliant_hosts", "incomplete_hosts", "needs_review_hosts", "not_applicable_hosts", "unknown_hosts")
FEDERATED_SHARD = -1
TABLES = ("agg_directives", "history_directives")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in NEW:
                batch_op.add_column(sa.Column(column, sa.Integer(), server_default="0", nullable=False))
    conn = op.get_bind()
    # What the old counter can still tell: a host it did not count as compliant had a failing
    # result; whether the others are compliant is not known.
    unsplit = ("UPDATE {} SET non_compliant_hosts = hosts - compliant_hosts, unknown_hosts = compliant_hosts, "
               "compliant_hosts = 0")
    conn.exec_driver_sql(unsplit.format("history_directives"))
    conn.exec_driver_sql(unsplit.format("agg_directives") + f" WHERE shard = {FEDERATED_SHARD}")
    _recount(conn)


def _recount(conn: sa.engine.Connection) -> None:
    """The local counters again, from each host's counts per directive."""
    counts = ", ".join(f"hd.n_{s}" for s in STATUSES)
    rows = conn.exec_driver_sql(f"SELECT hd.agency_id, hd.directive, h.shard, {counts} FROM host_directives hd "
                                "JOIN hosts h ON h.id = hd.host_pk")
    totals: defaultdict[tuple[int, str, int], dict[str, int]] = defaultdict(
        lambda: dict.fromkeys(("hosts", *(f"{s.value}_hosts" for s in HostStatus)), 0))
    for agency_id, directive, shard, *values in rows:
        entry = totals[(agency_id, directive, shard)]
        entry["hosts"] += 1
        entry[f"{host_status(dict(zip(STATUSES, values))).value}_hosts"] += 1
    conn.exec_driver_sql(f"DELETE FROM agg_directives WHERE shard <> {FEDERATED_SHARD}")
    if totals:
        table = sa.table("agg_directives", *(sa.column(c) for c in ("agency_id", "directive", "shard", "hosts",
                                                                    *(f"{s.value}_hosts" for s in HostStatus))))
        conn.execute(table.insert(), [{"agency_id": a, "directive": d, "shard": s, **entry}
                                      for (a, d, s), entry in sorted(totals.items())])


def downgrade() -> None:
    conn = op.get_bind()
    for table in TABLES:
        # the earlier meaning: every host without a failing result
        conn.exec_driver_sql(f"UPDATE {table} SET compliant_hosts = hosts - non_compliant_hosts")
        with op.batch_alter_table(table, schema=None) as batch_op:
            for column in reversed(NEW):
                batch_op.drop_column(column)

"""reports by age, for retention

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 17:00:00
"""
from __future__ import annotations

from alembic import op


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # events need no new index: they are pruned per agency through ix_events_agency_at, and
    # the history tables by day through their primary keys, which start with the day
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.create_index('ix_reports_received_at', ['received_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.drop_index('ix_reports_received_at')

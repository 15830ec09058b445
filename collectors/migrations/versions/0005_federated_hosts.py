"""host summaries forwarded by agency collectors that opt in (national side)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 18:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

STATUSES = ("pass", "fail", "error", "not_applicable", "waived", "manual")


def _counts() -> list[sa.Column[int]]:
    return [sa.Column(f"n_{s}", sa.Integer(), server_default="0", nullable=False) for s in STATUSES]


def upgrade() -> None:
    op.create_table('federated_hosts',
    sa.Column('agency_id', sa.Integer(), nullable=False),
    sa.Column('host_id', sa.String(length=200), nullable=False),
    sa.Column('position', sa.BigInteger(), nullable=False),
    sa.Column('hostname', sa.String(length=255), server_default='', nullable=False),
    sa.Column('os', sa.String(length=200), server_default='', nullable=False),
    sa.Column('last_scan', sa.DateTime(), nullable=True),
    sa.Column('total', sa.Integer(), server_default='0', nullable=False),
    *_counts(),
    sa.Column('fail_min_due', sa.String(length=10), server_default='', nullable=False),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], ),
    sa.PrimaryKeyConstraint('agency_id', 'host_id')
    )
    with op.batch_alter_table('federated_hosts', schema=None) as batch_op:
        batch_op.create_index('ix_federated_hosts_position', ['agency_id', 'position'], unique=False)
    op.create_table('federated_host_directives',
    sa.Column('agency_id', sa.Integer(), nullable=False),
    sa.Column('host_id', sa.String(length=200), nullable=False),
    sa.Column('directive', sa.String(length=100), nullable=False),
    *_counts(),
    sa.Column('fail_min_due', sa.String(length=10), server_default='', nullable=False),
    sa.PrimaryKeyConstraint('agency_id', 'host_id', 'directive')
    )


def downgrade() -> None:
    op.drop_table('federated_host_directives')
    with op.batch_alter_table('federated_hosts', schema=None) as batch_op:
        batch_op.drop_index('ix_federated_hosts_position')
    op.drop_table('federated_hosts')

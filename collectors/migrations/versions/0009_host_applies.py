"""host_applies: what each fix --apply did to a host, as its agent reported it

A new table only: no existing row changes, and hosts' statuses are untouched (an apply never
changes one; the re-scan's report does).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-10 12:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('host_applies',
    sa.Column('host_pk', sa.Integer(), nullable=False),
    sa.Column('apply_id', sa.String(length=100), nullable=False),
    sa.Column('agency_id', sa.Integer(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('outcome', sa.String(length=24), nullable=False),
    sa.Column('by_user', sa.String(length=200), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('doc', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['host_pk'], ['hosts.id'], ),
    sa.PrimaryKeyConstraint('host_pk', 'apply_id')
    )
    with op.batch_alter_table('host_applies', schema=None) as batch_op:
        batch_op.create_index('ix_host_applies_host_started', ['host_pk', 'started_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('host_applies', schema=None) as batch_op:
        batch_op.drop_index('ix_host_applies_host_started')
    op.drop_table('host_applies')

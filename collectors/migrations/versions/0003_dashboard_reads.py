"""host tags; indexes for the dashboard's per-host history and overdue lists

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 14:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


FAILING_FINDING = "status = 'fail' AND key LIKE '%#%'"
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('hosts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tags', sa.Text(), server_default='', nullable=False))
    op.create_table('host_tags',
    sa.Column('host_pk', sa.Integer(), nullable=False),
    sa.Column('tag', sa.String(length=100), nullable=False),
    sa.Column('agency_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['host_pk'], ['hosts.id'], ),
    sa.PrimaryKeyConstraint('host_pk', 'tag')
    )
    with op.batch_alter_table('host_tags', schema=None) as batch_op:
        batch_op.create_index('ix_host_tags_agency_tag', ['agency_id', 'tag', 'host_pk'], unique=False)
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index('ix_events_host_at', ['host_pk', 'at'], unique=False)
    with op.batch_alter_table('results', schema=None) as batch_op:
        batch_op.create_index('ix_results_failing_findings', ['due', 'host_pk', 'key'], unique=False,
                              sqlite_where=sa.text(FAILING_FINDING), postgresql_where=sa.text(FAILING_FINDING))


def downgrade() -> None:
    with op.batch_alter_table('results', schema=None) as batch_op:
        batch_op.drop_index('ix_results_failing_findings')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('ix_events_host_at')
    with op.batch_alter_table('host_tags', schema=None) as batch_op:
        batch_op.drop_index('ix_host_tags_agency_tag')
    op.drop_table('host_tags')
    with op.batch_alter_table('hosts', schema=None) as batch_op:
        batch_op.drop_column('tags')

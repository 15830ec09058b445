"""initial schema

Revision ID: 0001
Revises: none
Create Date: 2026-11-26 13:35:39.442148
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('agencies',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('code', sa.String(length=50), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    op.create_table('agg_directives',
    sa.Column('agency_id', sa.Integer(), nullable=False),
    sa.Column('directive', sa.String(length=100), nullable=False),
    sa.Column('shard', sa.SmallInteger(), nullable=False),
    sa.Column('hosts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('compliant_hosts', sa.Integer(), server_default='0', nullable=False),
    sa.PrimaryKeyConstraint('agency_id', 'directive', 'shard')
    )
    op.create_table('agg_requirements',
    sa.Column('agency_id', sa.Integer(), nullable=False),
    sa.Column('directive', sa.String(length=100), nullable=False),
    sa.Column('requirement', sa.String(length=200), nullable=False),
    sa.Column('due', sa.String(length=10), nullable=False),
    sa.Column('shard', sa.SmallInteger(), nullable=False),
    sa.Column('n_pass', sa.Integer(), server_default='0', nullable=False),
    sa.Column('n_fail', sa.Integer(), server_default='0', nullable=False),
    sa.Column('n_error', sa.Integer(), server_default='0', nullable=False),
    sa.Column('n_not_applicable', sa.Integer(), server_default='0', nullable=False),
    sa.Column('n_waived', sa.Integer(), server_default='0', nullable=False),
    sa.Column('n_manual', sa.Integer(), server_default='0', nullable=False),
    sa.PrimaryKeyConstraint('agency_id', 'directive', 'requirement', 'due', 'shard')
    )
    op.create_table('events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('agency_id', sa.Integer(), nullable=False),
    sa.Column('host_pk', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=300), nullable=False),
    sa.Column('directive', sa.String(length=100), nullable=False),
    sa.Column('requirement', sa.String(length=200), nullable=False),
    sa.Column('old_status', sa.String(length=16), nullable=True),
    sa.Column('new_status', sa.String(length=16), nullable=True),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('report_id', sa.String(length=100), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index('ix_events_agency_at', ['agency_id', 'at'], unique=False)

    op.create_table('history_directives',
    sa.Column('day', sa.String(length=10), nullable=False),
    sa.Column('agency_id', sa.Integer(), nullable=False),
    sa.Column('directive', sa.String(length=100), nullable=False),
    sa.Column('hosts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('compliant_hosts', sa.Integer(), server_default='0', nullable=False),
    sa.PrimaryKeyConstraint('day', 'agency_id', 'directive')
    )
    op.create_table('history_requirements',
    sa.Column('day', sa.String(length=10), nullable=False),
    sa.Column('agency_id', sa.Integer(), nullable=False),
    sa.Column('directive', sa.String(length=100), nullable=False),
    sa.Column('requirement', sa.String(length=200), nullable=False),
    sa.Column('n_pass', sa.Integer(), server_default='0', nullable=False),
    sa.Column('n_fail', sa.Integer(), server_default='0', nullable=False),
    sa.Column('n_error', sa.Integer(), server_default='0', nullable=False),
    sa.Column('n_not_applicable', sa.Integer(), server_default='0', nullable=False),
    sa.Column('n_waived', sa.Integer(), server_default='0', nullable=False),
    sa.Column('n_manual', sa.Integer(), server_default='0', nullable=False),
    sa.Column('n_overdue', sa.Integer(), server_default='0', nullable=False),
    sa.Column('due', sa.String(length=10), server_default='', nullable=False),
    sa.PrimaryKeyConstraint('day', 'agency_id', 'directive', 'requirement')
    )
    op.create_table('settings',
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('hosts',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('host_id', sa.String(length=200), nullable=False),
    sa.Column('agency_id', sa.Integer(), nullable=False),
    sa.Column('hostname', sa.String(length=255), server_default='', nullable=False),
    sa.Column('target', sa.String(length=1000), server_default='', nullable=False),
    sa.Column('os', sa.String(length=200), server_default='', nullable=False),
    sa.Column('agent_version', sa.String(length=50), server_default='', nullable=False),
    sa.Column('enrolled_at', sa.DateTime(), nullable=False),
    sa.Column('last_seen', sa.DateTime(), nullable=True),
    sa.Column('last_scan', sa.DateTime(), nullable=True),
    sa.Column('last_report_id', sa.String(length=100), nullable=True),
    sa.Column('last_sequence', sa.BigInteger(), nullable=True),
    sa.Column('state_digest', sa.String(length=71), nullable=True),
    sa.Column('directives_digest', sa.String(length=71), nullable=True),
    sa.Column('shard', sa.SmallInteger(), nullable=False),
    sa.Column('total', sa.Integer(), server_default='0', nullable=False),
    sa.Column('n_pass', sa.Integer(), server_default='0', nullable=False),
    sa.Column('n_fail', sa.Integer(), server_default='0', nullable=False),
    sa.Column('n_error', sa.Integer(), server_default='0', nullable=False),
    sa.Column('n_not_applicable', sa.Integer(), server_default='0', nullable=False),
    sa.Column('n_waived', sa.Integer(), server_default='0', nullable=False),
    sa.Column('n_manual', sa.Integer(), server_default='0', nullable=False),
    sa.Column('fail_min_due', sa.String(length=10), server_default='', nullable=False),
    sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('host_id')
    )
    with op.batch_alter_table('hosts', schema=None) as batch_op:
        batch_op.create_index('ix_hosts_agency', ['agency_id', 'hostname'], unique=False)

    op.create_table('host_directives',
    sa.Column('host_pk', sa.Integer(), nullable=False),
    sa.Column('directive', sa.String(length=100), nullable=False),
    sa.Column('agency_id', sa.Integer(), nullable=False),
    sa.Column('n_pass', sa.Integer(), server_default='0', nullable=False),
    sa.Column('n_fail', sa.Integer(), server_default='0', nullable=False),
    sa.Column('n_error', sa.Integer(), server_default='0', nullable=False),
    sa.Column('n_not_applicable', sa.Integer(), server_default='0', nullable=False),
    sa.Column('n_waived', sa.Integer(), server_default='0', nullable=False),
    sa.Column('n_manual', sa.Integer(), server_default='0', nullable=False),
    sa.Column('fail_min_due', sa.String(length=10), server_default='', nullable=False),
    sa.ForeignKeyConstraint(['host_pk'], ['hosts.id'], ),
    sa.PrimaryKeyConstraint('host_pk', 'directive')
    )
    with op.batch_alter_table('host_directives', schema=None) as batch_op:
        batch_op.create_index('ix_host_directives_agency', ['agency_id', 'directive'], unique=False)

    op.create_table('reports',
    sa.Column('report_id', sa.String(length=100), nullable=False),
    sa.Column('host_pk', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('sequence', sa.BigInteger(), nullable=False),
    sa.Column('state_digest', sa.String(length=71), nullable=False),
    sa.Column('generated_at', sa.DateTime(), nullable=False),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.Column('changed', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['host_pk'], ['hosts.id'], ),
    sa.PrimaryKeyConstraint('report_id')
    )
    op.create_table('results',
    sa.Column('host_pk', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=300), nullable=False),
    sa.Column('directive', sa.String(length=100), nullable=False),
    sa.Column('requirement', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('due', sa.String(length=10), server_default='', nullable=False),
    sa.Column('failing_since', sa.DateTime(), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('doc', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['host_pk'], ['hosts.id'], ),
    sa.PrimaryKeyConstraint('host_pk', 'key')
    )
    op.create_table('tokens',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('agency_id', sa.Integer(), nullable=True),
    sa.Column('host_pk', sa.Integer(), nullable=True),
    sa.Column('name', sa.String(length=200), server_default='', nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('revoked_at', sa.DateTime(), nullable=True),
    sa.ForeignKeyConstraint(['agency_id'], ['agencies.id'], ),
    sa.ForeignKeyConstraint(['host_pk'], ['hosts.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('hash')
    )


def downgrade() -> None:
    op.drop_table('tokens')
    op.drop_table('results')
    op.drop_table('reports')
    with op.batch_alter_table('host_directives', schema=None) as batch_op:
        batch_op.drop_index('ix_host_directives_agency')

    op.drop_table('host_directives')
    with op.batch_alter_table('hosts', schema=None) as batch_op:
        batch_op.drop_index('ix_hosts_agency')

    op.drop_table('hosts')
    op.drop_table('settings')
    op.drop_table('history_requirements')
    op.drop_table('history_directives')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('ix_events_agency_at')

    op.drop_table('events')
    op.drop_table('agg_requirements')
    op.drop_table('agg_directives')
    op.drop_table('agencies')

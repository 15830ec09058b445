"""host_headers and host_directive_versions: the header a compact delta (report schema 1.1)
patches, and which version of each directive every host evaluated

Existing hosts start with no stored header: their agents' next full report, or delta of
schema 1.0, stores it; a compact delta before that is answered ``resync`` (``no_header``)
once. Their directive versions are recorded by their next report.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 12:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('host_headers',
    sa.Column('host_pk', sa.Integer(), nullable=False),
    sa.Column('digest', sa.String(length=71), nullable=False),
    sa.Column('doc', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['host_pk'], ['hosts.id'], ),
    sa.PrimaryKeyConstraint('host_pk')
    )
    op.create_table('host_directive_versions',
    sa.Column('host_pk', sa.Integer(), nullable=False),
    sa.Column('directive', sa.String(length=100), nullable=False),
    sa.Column('agency_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.String(length=50), server_default='', nullable=False),
    sa.Column('digest', sa.String(length=71), nullable=False),
    sa.Column('since', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['host_pk'], ['hosts.id'], ),
    sa.PrimaryKeyConstraint('host_pk', 'directive')
    )
    with op.batch_alter_table('host_directive_versions', schema=None) as batch_op:
        batch_op.create_index('ix_host_directive_versions_agency', ['agency_id', 'directive', 'version', 'host_pk'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('host_directive_versions', schema=None) as batch_op:
        batch_op.drop_index('ix_host_directive_versions_agency')
    op.drop_table('host_directive_versions')
    op.drop_table('host_headers')

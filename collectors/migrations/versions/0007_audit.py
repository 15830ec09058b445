"""audit: administrative actions on hosts and tokens (host reset and release, token revoke);
hosts enrolled without an install handle get one nobody knows, so only a release frees them

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 17:00:00
"""
from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('actor', sa.String(length=200), nullable=False),
    sa.Column('action', sa.String(length=50), nullable=False),
    sa.Column('subject', sa.String(length=200), nullable=False),
    sa.Column('detail', sa.Text(), server_default='', nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('audit', schema=None) as batch_op:
        batch_op.create_index('ix_audit_at', ['at'], unique=False)
    # A host whose enrollment named no instance was open to any later enrollment with the
    # agency's secret; now such a host is held like any other, until released or reset.
    hosts = sa.table('hosts', sa.column('id', sa.Integer()), sa.column('instance', sa.String(64)))
    conn = op.get_bind()
    for (pk,) in conn.execute(sa.select(hosts.c.id).where(hosts.c.instance.is_(None))).all():
        conn.execute(hosts.update().where(hosts.c.id == pk).values(instance=f"unnamed:{secrets.token_hex(16)}"))


def downgrade() -> None:
    with op.batch_alter_table('audit', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_at')
    op.drop_table('audit')

"""Alembic environment: runs migrations on the connection collectors.storage hands over."""
from __future__ import annotations

from alembic import context

from collectors.models import metadata

config = context.config


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is None:  # pragma: no cover - the collector always passes its connection
        raise RuntimeError("run migrations through `fedharden collector migrate`")
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True,
                      compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


run()

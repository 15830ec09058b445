"""Alembic migrations of the collector's schema (``fedharden collector migrate``)."""

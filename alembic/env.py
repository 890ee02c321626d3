"""Alembic environment: the URL from the caller (masreg) or MASREG_DB; metadata from registry.db."""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import Connection

import registry.models  # noqa: F401  (registers every table on Base.metadata)
from registry.db import DEFAULT_URL, Base, make_engine

config = context.config
target_metadata = Base.metadata


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        compare_server_default=True,
        render_as_batch=connection.dialect.name == "sqlite",
    )


def run_migrations_online() -> None:
    """Run against a live connection: one handed over by masreg, or one we open."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = config.get_main_option("sqlalchemy.url") or os.environ.get("MASREG_DB") or DEFAULT_URL
    engine = make_engine(url)
    with engine.connect() as conn:
        _configure(conn)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported; run against a database")
run_migrations_online()

"""Migrations: upgrade, downgrade and upgrade again; the models match the head (alembic check)."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect

from alembic import command
from registry import migrate
from registry.db import Base, make_engine
from registry.errors import SchemaOutOfDate


def _check(engine) -> None:
    config = migrate.alembic_config(engine)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.check(config)


def test_migrations_round_trip_and_match_models(engine):
    """Verify that head has every table, downgrade empties the schema, and check is clean."""
    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    _check(engine)
    migrate.downgrade(engine, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.head_revision()
    _check(engine)


def test_require_head_refuses_unmigrated_database(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    with pytest.raises(SchemaOutOfDate, match="masreg db upgrade"):
        migrate.require_head(engine)
    engine.dispose()


def test_require_head_refuses_older_and_unknown_revisions(engine):
    migrate.downgrade(engine, "base")
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE IF NOT EXISTS alembic_version (version_num VARCHAR(32) NOT NULL)"
        )
        conn.exec_driver_sql("DELETE FROM alembic_version")
        conn.exec_driver_sql("INSERT INTO alembic_version VALUES ('ffff')")
    with pytest.raises(SchemaOutOfDate, match="newer version"):
        migrate.require_head(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM alembic_version")
    migrate.upgrade(engine)
    migrate.require_head(engine)

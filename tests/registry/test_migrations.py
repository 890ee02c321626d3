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


def _observation_indexes(engine) -> set[str]:
    return {ix["name"] for ix in inspect(engine).get_indexes("observation") if ix["name"]}


def test_0002_report_indexes_down_and_up(engine):
    """Verify 0002 swaps the report's observation indexes both ways (indexes only, rows kept)."""
    assert {"ix_observation_patient_values", "ix_observation_date_only"} <= _observation_indexes(
        engine
    )
    migrate.downgrade(engine, "0001")
    after_down = _observation_indexes(engine)
    assert not {"ix_observation_patient_values", "ix_observation_date_only"} & after_down
    columns = [ix["column_names"] for ix in inspect(engine).get_indexes("observation")]
    assert ["site", "patient_source_id", "analyte", "effective_at"] in columns  # 0001's index
    migrate.upgrade(engine)
    assert {"ix_observation_patient_values", "ix_observation_date_only"} <= _observation_indexes(
        engine
    )
    _check(engine)

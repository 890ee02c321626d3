"""SQL helpers of the outcome queries that depend on the database's version."""

from __future__ import annotations

import sqlite3

from sqlalchemy import column, select, table
from sqlalchemy.dialects import postgresql, sqlite

from registry.outcomes import sqltime


def _compiled(dialect) -> str:
    rows = table("observation", column("id"))
    cte = sqltime.materialized(select(rows.c.id).cte("picked"))
    return str(select(cte.c.id).compile(dialect=dialect))


def test_materialized_hint_only_where_the_database_knows_it(monkeypatch):
    """`AS MATERIALIZED` on PostgreSQL and SQLite 3.35+, a plain CTE on an older SQLite."""
    assert "picked AS MATERIALIZED" in _compiled(postgresql.dialect())
    monkeypatch.setattr(sqlite3, "sqlite_version_info", (3, 40, 1))
    assert "picked AS MATERIALIZED" in _compiled(sqlite.dialect())
    monkeypatch.setattr(sqlite3, "sqlite_version_info", (3, 31, 1))
    old = _compiled(sqlite.dialect())
    assert "MATERIALIZED" not in old
    assert "WITH picked AS" in old

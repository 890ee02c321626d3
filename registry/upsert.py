"""Dialect-aware INSERT ... ON CONFLICT for SQLite and PostgreSQL (sqlite-utils semantics)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite


def _insert(conn: Connection, table: Table) -> Any:
    """Return the dialect's insert construct (both support on_conflict_*)."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    if conn.dialect.name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"upsert is not implemented for {conn.dialect.name}")


def upsert(
    conn: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    keys: Sequence[str],
    update: Mapping[str, Any] | None = None,
) -> None:
    """Insert rows; on a key conflict apply `update` (or do nothing when it is None)."""
    if not rows:
        return
    stmt = _insert(conn, table)
    if update is None:
        stmt = stmt.on_conflict_do_nothing(index_elements=list(keys))
    else:
        stmt = stmt.on_conflict_do_update(index_elements=list(keys), set_=dict(update))
    conn.execute(stmt, list(rows))


def insert_ignore(
    conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]], keys: Sequence[str]
) -> None:
    """Insert rows, skipping those whose key already exists."""
    upsert(conn, table, rows, keys=keys, update=None)

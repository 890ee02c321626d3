"""Operations on stored source records shared by loading and post-load checks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, select

from registry import rowsql, tables
from registry.upsert import insert_ignore

SR = tables.SOURCE_RECORD
HISTORY = tables.HISTORY
HISTORY_KEY = ("site", "resource_type", "resource_id", "content_hash", "is_deleted")


def archive_current(conn: Connection, ids: list[int], *, run_id: int, reason: str) -> None:
    """Copy current source records into history before they change."""
    columns = [c.name for c in HISTORY.c if c.name not in ("id", "archived_run_id", "reason")]
    rows: list[dict[str, Any]] = []
    for chunk in chunks(ids, 500):
        stmt = select(*(SR.c[c] for c in columns)).where(SR.c.id.in_(chunk))
        rows.extend(
            dict(r._mapping) | {"archived_run_id": run_id, "reason": reason}
            for r in conn.execute(stmt)
        )
    insert_ignore(conn, HISTORY, rows, HISTORY_KEY)


def delete_concepts(conn: Connection, ids: list[int]) -> None:
    """Delete every concept row of these source records (children first)."""
    for table in rowsql.CONCEPT_TABLES:
        link = table.c[rowsql.LINK_COLUMN.get(table.name, "id")]
        for chunk in chunks(ids, 500):
            conn.execute(table.delete().where(link.in_(chunk)))


def chunks(values: list[Any], size: int) -> Iterator[list[Any]]:
    """Split a list into chunks (bound-parameter limits)."""
    for start in range(0, len(values), size):
        yield values[start : start + size]

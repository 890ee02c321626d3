"""Bulk inserts on the import's hot path: DBAPI executemany on SQLite, COPY on PostgreSQL.

Core `insert()` with many rows runs every value through its type's bind processor and builds
a parameter dict per row; at hundreds of thousands of rows per run that is most of the cost of
writing. Here rows are plain tuples whose values are already what the driver takes
(`registry.rowsql.flatten` writes SQLite's datetime text), sent in one call per table and batch,
inside the caller's transaction (the Core connection's own DBAPI connection).

New source records get their ids here before they are inserted, so their concept rows can be
linked without reading them back: PostgreSQL hands out sequence values (safe with concurrent
writers); SQLite counts on from the highest id once the transaction holds the write lock.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection

from registry.versions import Head


def _dbapi(conn: Connection) -> Any:
    """The DBAPI connection under a Core connection (same transaction)."""
    return conn.connection.dbapi_connection


def insert_rows(conn: Connection, table: str, columns: Sequence[str], rows: Sequence[Any]) -> None:
    """Insert `rows` into `table`: value tuples in `columns` order, or COPY text lines."""
    if not rows:
        return
    names = ", ".join(columns)
    if isinstance(rows[0], bytes):  # COPY text lines, written by `registry.copytext`
        with (
            _dbapi(conn).cursor() as cursor,
            cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy,
        ):
            copy.write(b"".join(rows))
        return
    if conn.dialect.name == "postgresql":
        with (
            _dbapi(conn).cursor() as cursor,
            cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
        return
    marks = ", ".join("?" * len(columns))
    cursor = _dbapi(conn).cursor()
    try:
        cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)  # noqa: S608
    finally:
        cursor.close()


def reserve_ids(
    conn: Connection, table: str, count: int, *, lock_table: str, lock_column: str, lock_id: int
) -> list[int]:
    """Return `count` unused ids of `table` for rows this transaction is about to insert.

    On SQLite the transaction first takes the database's write lock (a no-op update of
    `lock_column` in row `lock_id` of `lock_table`, e.g. the run's own status), so no other
    writer can take the same ids before this transaction commits. The column must not be a key
    that other tables reference: rewriting a referenced key makes SQLite check every row that
    references it (a run's own source records, so each batch would cost more than the last).
    """
    if count <= 0:
        return []
    if conn.dialect.name == "postgresql":
        result = conn.exec_driver_sql(
            f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) "  # noqa: S608
            "FROM generate_series(1, %(n)s)",
            {"n": count},
        )
        return [row[0] for row in result]
    conn.exec_driver_sql(
        f"UPDATE {lock_table} SET {lock_column} = {lock_column} WHERE id = ?",  # noqa: S608
        (lock_id,),
    )
    highest = conn.exec_driver_sql(f"SELECT max(id) FROM {table}").scalar()  # noqa: S608
    start = (highest or 0) + 1
    return list(range(start, start + count))


def find_heads(
    conn: Connection, site: str, resource_type: str, ids: Sequence[str]
) -> list[tuple[str, Head]]:
    """(resource id, stored current version) of those of `ids` stored (a few hundred ids)."""
    columns = "id, resource_id, version_id, last_updated, content_hash, is_deleted"
    where = "FROM source_record WHERE site = {0} AND resource_type = {0} AND resource_id"
    if conn.dialect.name == "postgresql":
        sql = f"SELECT {columns} {where.format('%s')} = ANY(%s)"
        rows = conn.exec_driver_sql(sql, (site, resource_type, list(ids)))
    else:
        marks = ", ".join("?" * len(ids))
        sql = f"SELECT {columns} {where.format('?')} IN ({marks})"
        rows = conn.exec_driver_sql(sql, (site, resource_type, *ids))
    return [(row[1], Head(row[0], row[2], _utc(row[3]), row[4], bool(row[5]))) for row in rows]


def _utc(value: datetime | str | None) -> datetime | None:
    """A stored `UTCDateTime` as an aware UTC datetime (SQLite keeps naive UTC text)."""
    if value is None:
        return None
    if isinstance(value, str):
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

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
from typing import Any

from sqlalchemy import Connection


def _dbapi(conn: Connection) -> Any:
    """The DBAPI connection under a Core connection (same transaction)."""
    return conn.connection.dbapi_connection


def insert_rows(
    conn: Connection, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    """Insert `rows` (values in `columns` order) into `table`."""
    if not rows:
        return
    names = ", ".join(columns)
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
    conn: Connection, table: str, count: int, *, lock_table: str, lock_id: int
) -> list[int]:
    """Return `count` unused ids of `table` for rows this transaction is about to insert.

    On SQLite the transaction first takes the database's write lock (a no-op update of row
    `lock_id` of `lock_table`, e.g. the run's own row), so no other writer can take the same
    ids before this transaction commits.
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
        f"UPDATE {lock_table} SET id = id WHERE id = ?",  # noqa: S608 - a model's name
        (lock_id,),
    )
    highest = conn.exec_driver_sql(f"SELECT max(id) FROM {table}").scalar()  # noqa: S608
    start = (highest or 0) + 1
    return list(range(start, start + count))

"""One snapshot of the registry for a whole report: a concurrent import cannot mix its states.

A report runs dozens of queries. Under PostgreSQL's default READ COMMITTED each sees the data
committed when it starts, and Python's sqlite3 opens no transaction for a SELECT, so a pull
committing batches meanwhile could give the index events of one state and the lab values of
another. The report therefore reads in one REPEATABLE READ transaction on PostgreSQL and in one
explicit read transaction on SQLite (WAL: the snapshot of its first read).
"""

from __future__ import annotations

from sqlalchemy import Connection

from registry.errors import RegistryError

_CONSISTENT = frozenset({"repeatable read", "serializable"})


def read_one_snapshot(conn: Connection) -> None:
    """Make every later query of this transaction read the same snapshot.

    Raises:
        RegistryError: on PostgreSQL, the transaction already ran a query at a weaker isolation
            level (it cannot be raised any more): build the report first in its transaction.
    """
    if conn.dialect.name == "postgresql":
        _postgresql(conn)
    elif conn.dialect.name == "sqlite":
        _sqlite(conn)


def _postgresql(conn: Connection) -> None:
    raw = conn.connection.dbapi_connection
    status = getattr(getattr(raw, "info", None), "transaction_status", None)
    if status is not None and status.name == "IDLE":  # nothing sent yet: this is the first
        conn.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        return
    level = str(conn.exec_driver_sql("SHOW transaction_isolation").scalar())
    if level not in _CONSISTENT:
        raise RegistryError(
            f"the report needs one snapshot of the registry but its transaction already read at "
            f"{level}: compute the report first in its transaction (or open the connection with "
            "isolation_level='REPEATABLE READ')"
        )


def _sqlite(conn: Connection) -> None:
    raw = conn.connection.dbapi_connection
    if raw is not None and not getattr(raw, "in_transaction", True):
        conn.exec_driver_sql("BEGIN")
    conn.exec_driver_sql("SELECT count(*) FROM ingest_run").scalar()  # the snapshot starts here

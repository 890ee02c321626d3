"""Values as SQLAlchemy's SQLite types store them, for rows inserted without Core.

SQLite has no datetime type: SQLAlchemy's `DateTime` and `Date` store text, and `UTCDateTime`
stores UTC without an offset. Rows written by `registry.bulkwrite` must store the same text,
so that they read back, compare and sort like rows inserted through Core.
"""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime


@functools.lru_cache(maxsize=8192)
def sqlite_datetime(value: datetime | None) -> str | None:
    """An aware datetime as SQLAlchemy's SQLite DATETIME stores a `UTCDateTime` (naive UTC).

    Raises:
        ValueError: a naive datetime (as `UTCDateTime` refuses it).
    """
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("UTCDateTime needs an aware datetime")
    # "YYYY-MM-DD HH:MM:SS.ffffff", microseconds always written.
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def sqlite_date(value: date | None) -> str | None:
    """A date as SQLAlchemy's SQLite DATE stores it."""
    return None if value is None else f"{value.year:04d}-{value.month:02d}-{value.day:02d}"

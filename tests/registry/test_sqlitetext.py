"""SQLite text written by registry.sqlitetext equals what SQLAlchemy's types write."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from sqlalchemy import Date
from sqlalchemy.dialects import sqlite

from registry.sqlitetext import sqlite_date, sqlite_datetime
from registry.types import UTCDateTime

DIALECT = sqlite.dialect()


def _sqlalchemy(type_, value):
    impl = type_.dialect_impl(DIALECT)
    processor = impl.bind_processor(DIALECT)
    return processor(value) if processor else value


@pytest.mark.parametrize(
    "value",
    [
        datetime(2024, 3, 1, 0, 37, tzinfo=UTC),
        datetime(2024, 3, 1, 8, 0, 0, 120, tzinfo=timezone(timedelta(hours=8))),
        datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-5))),
        datetime(5, 1, 2, 3, 4, 5, tzinfo=UTC),
        None,
    ],
    ids=["utc", "offset-micro", "negative-offset", "year-5", "none"],
)
def test_datetime_text_is_sqlalchemys(value):
    assert sqlite_datetime(value) == _sqlalchemy(UTCDateTime(), value)


@pytest.mark.parametrize("value", [date(1988, 5, 1), date(5, 1, 2), None], ids=str)
def test_date_text_is_sqlalchemys(value):
    assert sqlite_date(value) == _sqlalchemy(Date(), value)


def test_naive_datetime_is_refused():
    with pytest.raises(ValueError, match="aware"):
        sqlite_datetime(datetime(2024, 1, 1))

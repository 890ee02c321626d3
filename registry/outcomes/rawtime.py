"""Stored times as the report shows them, from raw driver values (no per-row type processing).

The outcome queries read datetime columns untyped on their hot paths, as the text SQLite stores
(naive UTC, `YYYY-MM-DD HH:MM:SS.ffffff`): SQLite hands it back as it is, PostgreSQL formats
its `timestamptz` the same way in SQL (`to_char` of the UTC time), which costs the server less
than building and converting an aware datetime per value costs Python. These helpers turn that
text (or a datetime) into the ISO 8601 text `datetime.isoformat()` gives for the UTC instant
(`2024-03-10T02:00:00+00:00`, microseconds only when not zero), or the date alone.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import NullType

DATE_ONLY = frozenset({"year", "month", "day"})


class _StoredText(FunctionElement[Any]):
    """A datetime column as the stored UTC text, with no result processing."""

    type = NullType()
    inherit_cache = True
    name = "stored_text"


@compiles(_StoredText)
def _as_stored(element: _StoredText, compiler: SQLCompiler, **kw: Any) -> str:
    return str(compiler.process(element.clauses, **kw))


@compiles(_StoredText, "postgresql")
def _as_text(element: _StoredText, compiler: SQLCompiler, **kw: Any) -> str:
    column = compiler.process(element.clauses, **kw)
    return f"to_char(({column}) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')"


def untyped(column: ColumnElement[Any]) -> ColumnElement[Any]:
    """The column as SQLite's stored UTC text (`YYYY-MM-DD HH:MM:SS.ffffff`) on any database."""
    return _StoredText(column)


def to_datetime(raw: Any) -> datetime | None:
    """An aware UTC datetime from a raw stored value."""
    if raw is None:
        return None
    if isinstance(raw, datetime):
        return raw.astimezone(UTC) if raw.tzinfo else raw.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(raw)).replace(tzinfo=UTC)


def iso_instant(raw: Any) -> str | None:
    """ISO text of a raw stored time, as `datetime.isoformat()` of its UTC instant."""
    if raw is None:
        return None
    if isinstance(raw, str) and len(raw) == 26 and raw[10] == " " and raw[19] == ".":
        # SQLite's stored form: rearranged rather than parsed (the hot path of large reports).
        fraction = "" if raw.endswith("000000") else raw[19:]
        return f"{raw[:10]}T{raw[11:19]}{fraction}+00:00"
    moment = to_datetime(raw)
    return None if moment is None else moment.isoformat()


def iso_date(raw: Any) -> str | None:
    """The stored date of a date-only value (stored at 00:00 UTC of its local date)."""
    if raw is None:
        return None
    if isinstance(raw, str) and len(raw) >= 10 and raw[4] == "-":
        return raw[:10]
    moment = to_datetime(raw)
    return None if moment is None else moment.date().isoformat()


def iso_effective(raw: Any, precision: str | None) -> str | None:
    """A value's time as evidence shows it: the date of a date-only value, else the instant."""
    return iso_date(raw) if precision in DATE_ONLY else iso_instant(raw)


def iso(moment: datetime | date | None) -> str | None:
    """ISO text of a datetime or date (None passes through)."""
    return None if moment is None else moment.isoformat()

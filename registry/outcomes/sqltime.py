"""Portable SQL time arithmetic (SQLite and PostgreSQL): epoch seconds, floor division, local days.

Registry times are UTC instants; a value known only to the day (or month, year) is stored at
00:00 UTC of that date and means a *floating local date*. In SQL every time becomes an integer
"instant" in epoch seconds: timed values as stored, date-only values at local midnight (the
stored value minus the site's UTC offset). Study days then follow CLINICAL-SPEC 2.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy import CTE, BigInteger, ColumnElement, Integer, case, literal
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from registry.outcomes.protocol import Protocol

DAY = 86400
DATE_ONLY = ("year", "month", "day")


class Epoch(FunctionElement[int]):
    """Whole epoch seconds of a stored UTC datetime."""

    type = BigInteger()
    name = "masreg_epoch"
    inherit_cache = True


@compiles(Epoch, "sqlite")
def _epoch_sqlite(element: Epoch, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite stores naive UTC text, read as UTC; unixepoch() (3.38+) is twice as fast as
    # strftime('%s') and gives the same whole seconds.
    arg = compiler.process(element.clauses, **kw)
    version = getattr(compiler.dialect.dbapi, "sqlite_version_info", (0,))
    if tuple(version) >= (3, 38):
        return f"unixepoch({arg})"
    return f"CAST(strftime('%s', {arg}) AS INTEGER)"


@compiles(Epoch, "postgresql")
def _epoch_pg(element: Epoch, compiler: SQLCompiler, **kw: Any) -> str:
    # date_part() is double precision (exact to the microsecond for these years), much cheaper
    # per row than EXTRACT's numeric.
    return f"CAST(FLOOR(date_part('epoch', {compiler.process(element.clauses, **kw)})) AS BIGINT)"


def epoch(column: ColumnElement[Any]) -> ColumnElement[int]:
    """Epoch seconds of a datetime column."""
    return Epoch(column)


def floor_div(value: ColumnElement[int], divisor: int) -> ColumnElement[int]:
    """Floor division of an integer expression (SQL integer division truncates towards zero)."""
    return case(
        (value >= 0, value // divisor),
        else_=-((divisor - 1 - value) // divisor),
    )


def site_offset(site: ColumnElement[str], protocol: Protocol) -> ColumnElement[int]:
    """The UTC offset (seconds) of a row's site."""
    if not protocol.site_offsets:
        return literal(protocol.utc_offset_seconds, Integer)
    whens = [(site == name, offset) for name, offset in protocol.site_offsets.items()]
    return case(*whens, else_=protocol.utc_offset_seconds)


def is_date_only(precision: ColumnElement[Any]) -> ColumnElement[bool]:
    """True for values with no time of day."""
    return precision.in_(DATE_ONLY)


def instant(
    column: ColumnElement[Any], precision: ColumnElement[Any], offset: ColumnElement[int]
) -> ColumnElement[int]:
    """Epoch seconds of a time; a date-only value sits at local midnight of its date."""
    return epoch(column) - case((is_date_only(precision), offset), else_=0)


def instant_end(
    column: ColumnElement[Any], precision: ColumnElement[Any], offset: ColumnElement[int]
) -> ColumnElement[int]:
    """Like `instant`, but a date-only value counts as the last second of its local day."""
    return epoch(column) + case((is_date_only(precision), DAY - 1 - offset), else_=0)


def local_day(at: ColumnElement[int], offset: ColumnElement[int]) -> ColumnElement[int]:
    """Local day number (days since 1970-01-01 local) of an instant."""
    return floor_div(at + offset, DAY)


def study_day(
    at: ColumnElement[int],
    precision: ColumnElement[Any],
    offset: ColumnElement[int],
    t0: ColumnElement[int],
    t0_day: ColumnElement[int],
) -> ColumnElement[int]:
    """CLINICAL-SPEC 2 study day.

    Timed values: floor((t - T0) / 24 h). Date-only values: local date minus the local date of
    T0, so a value dated on the T0 date is day 0.
    """
    return case(
        (is_date_only(precision), local_day(at, offset) - t0_day),
        else_=floor_div(at - t0, DAY),
    )


def materialized(cte: CTE) -> CTE:
    """Ask for a CTE to be computed once, where the database knows the hint.

    PostgreSQL 12+ and SQLite 3.35+ take `AS MATERIALIZED`; an older SQLite library (Python's
    own, on an old system) would refuse the statement, so it gets the plain CTE.
    """
    cte = cte.prefix_with("MATERIALIZED", dialect="postgresql")
    if sqlite3.sqlite_version_info >= (3, 35):
        cte = cte.prefix_with("MATERIALIZED", dialect="sqlite")
    return cte

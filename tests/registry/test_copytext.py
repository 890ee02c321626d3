"""COPY text lines written by registry.copytext read back as the values they were made from."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from sqlalchemy import text

from registry import copytext

VALUES = [
    ("plain", "ferritin", "text"),
    ("escapes", 'a\tb\nc\rd\\e "q" \\N', "text"),
    ("null-marker-text", "\\N", "text"),
    ("unicode", "铁蛋白 ×10⁹/L", "text"),
    ("none", None, "text"),
    ("true", True, "boolean"),
    ("false", False, "boolean"),
    ("int", -12, "integer"),
    ("float", 0.1 + 0.2, "double precision"),
    ("float-small", 1e-05, "double precision"),
    ("utc", datetime(2024, 3, 1, 0, 37, 0, 120, tzinfo=UTC), "timestamptz"),
    ("offset", datetime(2024, 3, 1, 8, 0, tzinfo=timezone(timedelta(hours=8))), "timestamptz"),
    ("date", date(1988, 5, 1), "date"),
    ("bytes", bytes(range(256)), "bytea"),
]


@pytest.mark.parametrize(("name", "value", "sql_type"), VALUES, ids=[v[0] for v in VALUES])
def test_copy_text_reads_back_as_the_value(engine, name, value, sql_type):
    if engine.dialect.name != "postgresql":
        pytest.skip("COPY is PostgreSQL's")
    with engine.begin() as conn:
        conn.execute(text(f"CREATE TEMP TABLE t (k text, v {sql_type}) ON COMMIT DROP"))
        raw = conn.connection.dbapi_connection
        with raw.cursor() as cursor, cursor.copy("COPY t (k, v) FROM STDIN") as copy:
            copy.write(copytext.line([name, value]) + b"\n")
        stored = conn.execute(text("SELECT k, v FROM t")).one()
    assert stored == (name, value)


def test_naive_datetimes_and_unknown_types_are_refused():
    with pytest.raises(TypeError):
        copytext.field(datetime(2024, 1, 1))
    with pytest.raises(TypeError):
        copytext.field(object())

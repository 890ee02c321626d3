r"""Rows as PostgreSQL COPY text lines, written where rows are made (the import's workers).

COPY's text format (PostgreSQL docs, "COPY", File Formats / Text Format): columns separated by
tabs, NULL as ``\N``, and in values a backslash, tab, newline or carriage return written as
``\\``, ``\t``, ``\n``, ``\r``. Values are written as PostgreSQL reads them back: booleans
``t``/``f``, floats by their shortest round-trip text, aware datetimes in ISO 8601 with their
offset, bytea in hex (``\x...``, its backslash doubled). Writing the lines in the worker
processes leaves the main process of an import only the concatenation of bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import Any

_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _text(value: str) -> str:
    # Most values hold nothing to escape: two scans in C instead of a new string.
    if value.isprintable() and "\\" not in value:
        return value
    return value.translate(_ESCAPES)


def _datetime(value: datetime) -> str:
    if value.tzinfo is None:
        raise TypeError("a naive datetime has no place in a UTC column")
    return value.isoformat()


def _bytes(value: bytes) -> str:
    return "\\\\x" + value.hex()


_WRITERS: dict[type, Callable[[Any], str]] = {
    str: _text,
    type(None): lambda _value: "\\N",
    bool: lambda value: "t" if value else "f",
    int: repr,
    float: repr,
    datetime: _datetime,
    date: date.isoformat,
    bytes: _bytes,
}


def field(value: Any) -> str:
    """One value as a COPY text field.

    Raises:
        TypeError: a value of a type no registry column takes.
    """
    writer = _WRITERS.get(type(value))
    if writer is None:
        raise TypeError(f"{type(value).__name__} is not a column value")
    return writer(value)


def line(values: Iterable[Any]) -> bytes:
    """The fields of one row, tab-separated, without the line's end.

    Raises:
        TypeError: a value of a type no registry column takes.
    """
    writers = _WRITERS
    return "\t".join([(writers.get(type(v)) or field)(v) for v in values]).encode()

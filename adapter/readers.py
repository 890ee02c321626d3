"""Reading one file, or one run of NDJSON lines, into source items and problems.

`adapter.reading` walks the paths and decides how each file is read; the reading itself lives
here. NDJSON lines and whole (not streamed) JSON files are handed out as `Work` units: plain,
picklable descriptions that `run_work` turns into results anywhere, in this process or in a
worker process of the import (parsing is most of the cost of an import, and it parallelises).
`run_work` gives the same results, in the same order, as reading the file line by line here.
"""

from __future__ import annotations

import gzip
import json
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import IO, cast

from adapter.bundles import BUNDLE, Result, ValueReader
from adapter.items import ReadProblem, ReadStats, SourceItem, make_problem
from adapter.jsontext import MAX_RAW_BYTES, parse_canonical
from adapter.streaming import index_bundle, stream_entries

READ_ERRORS = (OSError, EOFError, zlib.error)


@dataclass(frozen=True, slots=True)
class Work:
    """NDJSON lines of a file (blank ones included, numbered from `first_line`) or a JSON file."""

    origin: str  # the file as given
    configured: str | None  # the configured FHIR version
    lines: tuple[bytes, ...] | None = None
    first_line: int = 1
    path: str | None = None  # a whole JSON file (when `lines` is None)
    gz: bool = False


def run_work(work: Work) -> tuple[list[Result], ReadStats]:
    """Read a unit of work; return its results and the counts they add to the run's."""
    stats = ReadStats()
    reader = ValueReader(work.origin, work.configured, stats)
    if work.lines is not None:
        results = list(_read_lines(work.lines, work.first_line, reader))
    else:
        results = list(read_json(Path(work.path or ""), work.gz, reader))
    for result in results:
        count(stats, result)
    return results, stats


def count(stats: ReadStats, result: Result) -> None:
    """Count a yielded result (item or problem)."""
    if isinstance(result, SourceItem):
        stats.count_item(result)
    else:
        stats.problems += 1


def merge_stats(into: ReadStats, found: ReadStats) -> None:
    """Add the counts of one unit of work to the run's."""
    for spec in fields(found):
        value = getattr(found, spec.name)
        if isinstance(value, int):
            setattr(into, spec.name, getattr(into, spec.name) + value)
        elif isinstance(value, dict):
            target = getattr(into, spec.name)
            for key, n in value.items():
                target[key] = target.get(key, 0) + n
        elif isinstance(value, list):
            getattr(into, spec.name).extend(value)


def open_file(path: Path, gz: bool) -> IO[bytes]:
    """Open a file for reading bytes, decompressing gzip."""
    return cast("IO[bytes]", gzip.open(path, "rb")) if gz else path.open("rb")


def unreadable(origin: str, locator: str, exc: BaseException) -> ReadProblem:
    """The problem for a file that could not be read (from `locator` on)."""
    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    detail = f"the file could not be read ({reason})"
    if locator != "file":
        detail = f"the file could not be read from here on ({reason})"
    return make_problem(origin, locator, "unreadable-file", detail, b"")


def json_detail(exc: ValueError | RecursionError, *, one_line: bool) -> str:
    """Say why a text is not valid JSON, with the position but none of the content."""
    if isinstance(exc, RecursionError):
        return "the JSON is nested too deeply to read"
    if isinstance(exc, json.JSONDecodeError):
        at = f"column {exc.colno}" if one_line else f"line {exc.lineno}, column {exc.colno}"
        detail = f"the text is not valid JSON ({exc.msg} at {at})"
        if exc.msg == "Extra data" and not one_line:
            detail += "; a file with one resource per line must be named .ndjson"
        return detail
    if isinstance(exc, UnicodeDecodeError):
        return "the text is not valid UTF-8"
    return f"the text is not valid JSON ({exc})"


def read_json(path: Path, gz: bool, reader: ValueReader) -> Iterator[Result]:
    """Read a whole JSON file: one resource, or a Bundle opened in memory."""
    try:
        with open_file(path, gz) as stream:
            data = stream.read()
    except READ_ERRORS as exc:
        yield unreadable(reader.origin, "file", exc)
        return
    try:
        value, canonical = parse_canonical(data)
    except (ValueError, RecursionError) as exc:
        detail = json_detail(exc, one_line=False)
        yield make_problem(reader.origin, "file", "invalid-json", detail, data)
        return
    yield from reader.read_value(value, "file", data, canonical)


def _read_lines(lines: tuple[bytes, ...], first: int, reader: ValueReader) -> Iterator[Result]:
    for number, line in enumerate(lines, first):
        text = line.strip()
        if text:
            yield from read_line(text, number, reader)


def read_line(text: bytes, number: int, reader: ValueReader) -> Iterator[Result]:
    """Read one NDJSON line (a resource, or a Bundle opened in memory)."""
    locator = f"line {number}"
    try:
        value, canonical = parse_canonical(text)
    except (ValueError, RecursionError) as exc:
        detail = json_detail(exc, one_line=True)
        yield make_problem(reader.origin, locator, "invalid-json", detail, text)
        return
    if isinstance(value, dict) and value.get("resourceType") == BUNDLE:
        line_reader = ValueReader(reader.origin, reader.configured, reader.stats, f" ({locator})")
        yield from line_reader.read_value(value, locator, text, canonical)
    else:  # what read_value does with a resource; no line reader needed
        yield from reader.read_resource(value, locator, text, None, None, None, canonical)


def is_large(path: Path, gz: bool, threshold: int) -> bool:
    """True when the (uncompressed) file is larger than `threshold` bytes."""
    try:
        return content_size(path, gz) > threshold
    except OSError:
        return False  # reading the whole file will report the problem


def content_size(path: Path, gz: bool) -> int:
    """The size of a file's content: for gzip, from its trailer (at least the file's size).

    Raises:
        OSError: the file cannot be read.
    """
    size = path.stat().st_size
    if gz and size >= 4:
        with path.open("rb") as stream:
            stream.seek(-4, os.SEEK_END)
            # ISIZE: the uncompressed size modulo 2**32 (RFC 1952, section 2.3.1).
            size = max(size, int.from_bytes(stream.read(4), "little"))
    return size


def read_large_json(path: Path, gz: bool, reader: ValueReader) -> Iterator[Result]:
    """Stream a large Bundle entry by entry (a large single resource is read whole)."""
    try:
        with open_file(path, gz) as stream:
            index = index_bundle(stream)
    except READ_ERRORS as exc:
        yield unreadable(reader.origin, "file", exc)
        return
    except ValueError as exc:
        yield make_problem(reader.origin, "file", "invalid-json", str(exc), _head(path, gz))
        return
    if index is None:  # not a Bundle: a single (large) resource is read whole
        yield from read_json(path, gz, reader)
        return
    try:
        with open_file(path, gz) as stream:
            yield from stream_entries(stream, reader, index)
    except READ_ERRORS as exc:
        yield unreadable(reader.origin, "file", exc)
    except ValueError as exc:
        detail = f"the file changed while it was read: {exc}"
        yield make_problem(reader.origin, "file", "invalid-json", detail, b"")


def _head(path: Path, gz: bool) -> bytes:
    """The first bytes of a file, for the quarantine record of a broken large file."""
    try:
        with open_file(path, gz) as stream:
            return stream.read(MAX_RAW_BYTES)
    except READ_ERRORS:
        return b""

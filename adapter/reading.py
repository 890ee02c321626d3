"""Reading FHIR content from files and directories into a stream of source items.

`iter_items` reads, in the order given (directories recursively, in sorted order):

- ``*.json``: one resource, or a Bundle of any type (opened; see `adapter.bundles`);
- ``*.ndjson``: one resource or Bundle per line, read line by line (blank lines are skipped);
- ``*.json.gz`` / ``*.ndjson.gz``: the same, gzip-compressed (extensions are case-insensitive).

Any other file is reported as a `ReadProblem` ("unsupported-file"), never skipped silently;
documentation met while walking a folder (README*, LICENSE*, *.md, *.txt, *.rst) is listed in
`ReadStats.ignored_files` instead.
A JSON file larger than `STREAM_THRESHOLD` (for gzip, the uncompressed size from its trailer)
holding a Bundle is streamed entry by entry (`adapter.streaming`), with an index-only
`BundleContext`. A broken NDJSON line is one problem and reading goes on with the next line; a
broken JSON file is one problem. Numbers are exact (`adapter.jsontext`); ``SourceItem.raw`` is
the canonical JSON of the resource (compact, sorted keys), the same whatever the container.
"""

from __future__ import annotations

import gzip
import json
import os
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, cast

from adapter.bundles import Result, ValueReader
from adapter.errors import ReadError
from adapter.items import (
    READ_PROBLEM_REASONS,
    BundleContext,
    ReadProblem,
    ReadStats,
    SourceItem,
    make_problem,
)
from adapter.jsontext import MAX_RAW_BYTES, parse_canonical
from adapter.streaming import index_bundle, stream_entries
from adapter.versions import normalise_version

__all__ = [
    "READ_PROBLEM_REASONS",
    "STREAM_THRESHOLD",
    "BundleContext",
    "ReadProblem",
    "ReadStats",
    "SourceItem",
    "iter_items",
]

STREAM_THRESHOLD = 32 * 1024 * 1024

# (suffix, is NDJSON, is gzip); longest suffixes first.
_KINDS = (
    (".ndjson.gz", True, True),
    (".json.gz", False, True),
    (".ndjson", True, False),
    (".json", False, False),
)
_READ_ERRORS = (OSError, EOFError, zlib.error)


def iter_items(
    paths: Sequence[Path | str] | Path | str,
    *,
    fhir_version: str | None = None,
    stats: ReadStats | None = None,
    stream_threshold: int = STREAM_THRESHOLD,
) -> Iterator[SourceItem | ReadProblem]:
    """Stream every resource and deletion in the given files and directories.

    Args:
        paths: files and directories, read in this order.
        fhir_version: the configured FHIR version (``R4``, ``4.3.0``, ...); when None each
            resource's version is detected from its shape, else its Bundle's, else R4.
        stats: counters to add to, so the caller can account for every entry.
        stream_threshold: JSON files larger than this many bytes are streamed.

    Raises:
        ConfigError: `fhir_version` is not a FHIR version the registry reads.
        ReadError: a given path does not exist (raised at once, before anything is read).
    """
    given = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    configured = normalise_version(fhir_version) if fhir_version is not None else None
    missing = [str(path) for path in given if not Path(path).exists()]
    if missing:
        raise ReadError(f"no such file or directory: {', '.join(missing)}")
    return _iter_all(given, configured, stats or ReadStats(), stream_threshold)


def _iter_all(
    paths: list[Path | str], configured: str | None, stats: ReadStats, threshold: int
) -> Iterator[Result]:
    for given in paths:
        walked = Path(given).is_dir()
        for origin, failure in _files(os.fspath(given)):
            if walked and failure is None and _is_documentation(origin):
                stats.ignored_files.append(origin)  # listed in the run summary, not content
                continue
            stats.files += 1
            if failure is None:
                results = _read_file(Path(origin), origin, configured, stats, threshold)
            else:
                results = iter([make_problem(origin, "file", "unreadable-file", failure, b"")])
            for result in results:
                if isinstance(result, SourceItem):
                    stats.count_item(result)
                else:
                    stats.problems += 1
                yield result


def _files(root: str) -> Iterator[tuple[str, str | None]]:
    """Yield (file, None) in sorted order, or (folder, why) for a folder that cannot be listed.

    A file keeps the form it was given in; files found in a folder are named from it.
    """
    if not Path(root).is_dir():
        yield root, None
        return
    errors: list[OSError] = []
    seen: set[str] = set()
    for folder, subfolders, names in os.walk(root, onerror=errors.append, followlinks=True):
        yield from _listing_failures(errors, folder)
        real = os.path.realpath(folder)
        if real in seen:  # a symbolic link loop: each real folder is read once
            subfolders.clear()
            continue
        seen.add(real)
        subfolders.sort()
        for name in sorted(names):
            yield str(Path(folder, name)), None
    yield from _listing_failures(errors, root)


def _listing_failures(errors: list[OSError], folder: str) -> Iterator[tuple[str, str]]:
    for error in errors:
        where = os.fspath(error.filename) if error.filename else folder
        yield where, f"the folder could not be listed ({error.strerror or error})"
    errors.clear()


_DOC_SUFFIXES = (".md", ".txt", ".rst")


def _is_documentation(origin: str) -> bool:
    """A README or notes file met while walking a folder (a file given by name is always read)."""
    name = Path(origin).name.lower()
    return name.startswith(("readme", "license")) or name.endswith(_DOC_SUFFIXES)


def _kind(path: Path) -> tuple[bool, bool] | None:
    name = path.name.lower()
    for suffix, ndjson, gz in _KINDS:
        if name.endswith(suffix):
            return ndjson, gz
    return None


def _open(path: Path, gz: bool) -> IO[bytes]:
    return cast("IO[bytes]", gzip.open(path, "rb")) if gz else path.open("rb")


def _read_file(
    path: Path, origin: str, configured: str | None, stats: ReadStats, threshold: int
) -> Iterator[Result]:
    kind = _kind(path)
    # A FIFO or device named *.json is not read (it could block); a broken link is unreadable.
    if kind is None or (path.exists() and not path.is_file()):
        detail = (
            "this is not a file the registry reads (.json, .ndjson, .json.gz or .ndjson.gz), "
            "so nothing in it was imported"
        )
        yield make_problem(origin, "file", "unsupported-file", detail, b"")
        return
    ndjson, gz = kind
    reader = ValueReader(origin, configured, stats)
    if ndjson:
        yield from _read_ndjson(path, gz, reader)
    elif _is_large(path, gz, threshold):
        yield from _read_large_json(path, gz, reader)
    else:
        yield from _read_json(path, gz, reader)


def _unreadable(origin: str, locator: str, exc: BaseException) -> ReadProblem:
    reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    detail = f"the file could not be read ({reason})"
    if locator != "file":
        detail = f"the file could not be read from here on ({reason})"
    return make_problem(origin, locator, "unreadable-file", detail, b"")


def _json_detail(exc: ValueError | RecursionError, *, one_line: bool) -> str:
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


def _read_json(path: Path, gz: bool, reader: ValueReader) -> Iterator[Result]:
    try:
        with _open(path, gz) as stream:
            data = stream.read()
    except _READ_ERRORS as exc:
        yield _unreadable(reader.origin, "file", exc)
        return
    try:
        value, canonical = parse_canonical(data)
    except (ValueError, RecursionError) as exc:
        detail = _json_detail(exc, one_line=False)
        yield make_problem(reader.origin, "file", "invalid-json", detail, data)
        return
    yield from reader.read_value(value, "file", data, canonical)


def _read_ndjson(path: Path, gz: bool, reader: ValueReader) -> Iterator[Result]:
    number = 0
    try:
        with _open(path, gz) as stream:
            for number, line in enumerate(stream, 1):
                text = line.strip()
                if text:
                    yield from _read_line(text, number, reader)
    except _READ_ERRORS as exc:
        yield _unreadable(reader.origin, f"line {number + 1}" if number else "file", exc)


def _read_line(text: bytes, number: int, reader: ValueReader) -> Iterator[Result]:
    locator = f"line {number}"
    try:
        value, canonical = parse_canonical(text)
    except (ValueError, RecursionError) as exc:
        detail = _json_detail(exc, one_line=True)
        yield make_problem(reader.origin, locator, "invalid-json", detail, text)
        return
    line_reader = ValueReader(reader.origin, reader.configured, reader.stats, f" ({locator})")
    yield from line_reader.read_value(value, locator, text, canonical)


def _is_large(path: Path, gz: bool, threshold: int) -> bool:
    """True when the (uncompressed) file is larger than `threshold` bytes."""
    try:
        size = path.stat().st_size
        if gz and size >= 4:
            with path.open("rb") as stream:
                stream.seek(-4, os.SEEK_END)
                # ISIZE: the uncompressed size modulo 2**32 (RFC 1952, section 2.3.1).
                size = max(size, int.from_bytes(stream.read(4), "little"))
    except OSError:
        return False  # reading the whole file will report the problem
    return size > threshold


def _read_large_json(path: Path, gz: bool, reader: ValueReader) -> Iterator[Result]:
    try:
        with _open(path, gz) as stream:
            index = index_bundle(stream)
    except _READ_ERRORS as exc:
        yield _unreadable(reader.origin, "file", exc)
        return
    except ValueError as exc:
        yield make_problem(reader.origin, "file", "invalid-json", str(exc), _head(path, gz))
        return
    if index is None:  # not a Bundle: a single (large) resource is read whole
        yield from _read_json(path, gz, reader)
        return
    try:
        with _open(path, gz) as stream:
            yield from stream_entries(stream, reader, index)
    except _READ_ERRORS as exc:
        yield _unreadable(reader.origin, "file", exc)
    except ValueError as exc:
        detail = f"the file changed while it was read: {exc}"
        yield make_problem(reader.origin, "file", "invalid-json", detail, b"")


def _head(path: Path, gz: bool) -> bytes:
    """The first bytes of a file, for the quarantine record of a broken large file."""
    try:
        with _open(path, gz) as stream:
            return stream.read(MAX_RAW_BYTES)
    except _READ_ERRORS:
        return b""

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

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

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
from adapter.readers import (
    READ_ERRORS,
    Work,
    count,
    is_large,
    merge_stats,
    open_file,
    read_large_json,
    run_work,
    unreadable,
)
from adapter.versions import normalise_version

__all__ = [
    "READ_PROBLEM_REASONS",
    "STREAM_THRESHOLD",
    "BundleContext",
    "ReadProblem",
    "ReadStats",
    "SourceItem",
    "Work",
    "iter_items",
    "iter_work",
    "run_work",
]

STREAM_THRESHOLD = 32 * 1024 * 1024
# NDJSON lines per unit of work: at most this many lines and about this many bytes. Read here,
# units are small (memory stays flat); handed to worker processes, the caller asks for larger
# ones, so that a unit is worth its trip between processes.
CHUNK_LINES = 1000
CHUNK_BYTES = 32 * 1024

# (suffix, is NDJSON, is gzip); longest suffixes first.
_KINDS = (
    (".ndjson.gz", True, True),
    (".json.gz", False, True),
    (".ndjson", True, False),
    (".json", False, False),
)


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
    given, configured = _check(paths, fhir_version)
    return _iter_all(given, configured, stats or ReadStats(), stream_threshold)


def iter_work(
    paths: Sequence[Path | str] | Path | str,
    *,
    fhir_version: str | None = None,
    stats: ReadStats | None = None,
    stream_threshold: int = STREAM_THRESHOLD,
    chunk_lines: int = CHUNK_LINES,
    chunk_bytes: int = CHUNK_BYTES,
) -> Iterator[Work | Result]:
    """Like `iter_items`, with NDJSON lines and whole JSON files handed out as `Work`.

    `run_work` turns each unit into its results (in any process); merge its counts into `stats`
    with `adapter.readers.merge_stats`. Results that are not units (problems, the entries of
    a streamed Bundle) are counted in `stats` here. In order, the results are those of
    `iter_items`.

    Raises:
        ConfigError: `fhir_version` is not a FHIR version the registry reads.
        ReadError: a given path does not exist (raised at once, before anything is read).
    """
    given, configured = _check(paths, fhir_version)
    chunk = (chunk_lines, chunk_bytes)
    return _iter_units(given, configured, stats or ReadStats(), stream_threshold, chunk)


def _check(
    paths: Sequence[Path | str] | Path | str, fhir_version: str | None
) -> tuple[list[Path | str], str | None]:
    """The paths as a list and the configured version, checked before anything is read."""
    given = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    configured = normalise_version(fhir_version) if fhir_version is not None else None
    missing = [str(path) for path in given if not Path(path).exists()]
    if missing:
        raise ReadError(f"no such file or directory: {', '.join(missing)}")
    return given, configured


def _iter_all(
    paths: list[Path | str], configured: str | None, stats: ReadStats, threshold: int
) -> Iterator[Result]:
    for unit in _iter_units(paths, configured, stats, threshold, (CHUNK_LINES, CHUNK_BYTES)):
        if isinstance(unit, Work):
            results, found = run_work(unit)
            merge_stats(stats, found)
            yield from results
        else:
            yield unit


def _iter_units(
    paths: list[Path | str],
    configured: str | None,
    stats: ReadStats,
    threshold: int,
    chunk: tuple[int, int],
) -> Iterator[Work | Result]:
    for given in paths:
        walked = Path(given).is_dir()
        for origin, failure in _files(os.fspath(given)):
            if walked and failure is None and _is_documentation(origin):
                stats.ignored_files.append(origin)  # listed in the run summary, not content
                continue
            stats.files += 1
            if failure is None:
                units = _file_units(Path(origin), origin, configured, stats, threshold, chunk)
            else:
                units = iter([make_problem(origin, "file", "unreadable-file", failure, b"")])
            for unit in units:
                if not isinstance(unit, Work):
                    count(stats, unit)
                yield unit


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


def _file_units(
    path: Path,
    origin: str,
    configured: str | None,
    stats: ReadStats,
    threshold: int,
    chunk: tuple[int, int],
) -> Iterator[Work | Result]:
    """Plan the reading of one file: work units (NDJSON lines, a JSON file), or results."""
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
    if ndjson:
        yield from _ndjson_units(path, gz, origin, configured, chunk)
    elif is_large(path, gz, threshold):
        yield from read_large_json(path, gz, ValueReader(origin, configured, stats))
    else:
        yield Work(origin, configured, path=str(path), gz=gz)


def _ndjson_units(
    path: Path, gz: bool, origin: str, configured: str | None, chunk: tuple[int, int]
) -> Iterator[Work | Result]:
    """Hand out the lines of an NDJSON file a chunk at a time; a read failure ends the file."""
    most_lines, most_bytes = chunk
    number, first, lines, size = 0, 1, [], 0
    try:
        with open_file(path, gz) as stream:
            for number, line in enumerate(stream, 1):
                lines.append(line)
                size += len(line)
                if len(lines) >= most_lines or size >= most_bytes:
                    yield Work(origin, configured, tuple(lines), first)
                    first, lines, size = number + 1, [], 0
    except READ_ERRORS as exc:
        if lines:
            yield Work(origin, configured, tuple(lines), first)
        yield unreadable(origin, f"line {number + 1}" if number else "file", exc)
        return
    if lines:
        yield Work(origin, configured, tuple(lines), first)

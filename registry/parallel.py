"""Reading, parsing and mapping an import's files in worker processes, results kept in order.

Parsing JSON, hashing, compressing and mapping are most of an import's work and need no
database, so the files are cut into units (`adapter.reading.iter_work`: runs of NDJSON lines,
whole JSON files) that worker processes prepare (`registry.prepare.Preparer.run`) while this
process writes the previous batch. Results come back in input order, so batches, version
decisions and the database's end state are those of a run in one process.

At most `IN_FLIGHT` units per worker are submitted ahead of the one being consumed, so memory
stays flat whatever the input size. Workers are forked, and ignore Ctrl-C: the main process stops
the run and records it as interrupted.
"""

from __future__ import annotations

import dataclasses
import gc
import multiprocessing
import os
import signal
import sys
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any

from adapter.bundles import Result
from adapter.items import ReadStats
from adapter.readers import Work, content_size, merge_stats
from adapter.reading import iter_work
from registry.gcpolicy import BULK_THRESHOLDS
from registry.prepare import Prepared, Preparer, Ready

# Below this many bytes of input, starting worker processes costs more than it saves.
MIN_PARALLEL_BYTES = 8 * 1024 * 1024
IN_FLIGHT = 4
CHUNK_LINES = 2000
CHUNK_BYTES = 1024 * 1024

_PREPARER: Preparer | None = None


def auto_workers(size: int) -> int:
    """Worker processes worth starting for `size` bytes of input: 0 (prepare here) when small.

    Workers are forked (they inherit the run's terminology as it is, which need not pickle),
    so only where fork is the platform's safe default: Linux.
    """
    cpus = os.cpu_count() or 1
    if sys.platform != "linux" or cpus < 2 or size < MIN_PARALLEL_BYTES:
        return 0
    return min(cpus, 4)


def input_bytes(paths: Sequence[Path | str]) -> int:
    """The content size of the files under `paths`, gzip uncompressed (unreadable ones: 0)."""
    total = 0
    for given in paths:
        walked = os.walk(given) if Path(given).is_dir() else [("", [], [str(given)])]
        for folder, _subfolders, names in walked:
            for name in names:
                try:
                    total += content_size(Path(folder, name), name.lower().endswith(".gz"))
                except OSError:
                    continue
    return total


def prepared_items(
    paths: Sequence[Path | str],
    *,
    fhir_version: str | None,
    preparer: Preparer,
    stats: ReadStats,
    workers: int,
) -> Iterator[Prepared]:
    """The prepared results of the files, in order, prepared by `workers` processes.

    Raises:
        ConfigError: `fhir_version` is not a FHIR version the registry reads.
        ReadError: a given path does not exist (raised at once, before anything is read).
    """
    units = iter_work(
        paths,
        fhir_version=fhir_version,
        stats=stats,
        chunk_lines=CHUNK_LINES,
        chunk_bytes=CHUNK_BYTES,
    )
    return _stream(units, preparer, stats, workers)


def _stream(
    units: Iterator[Work | Result], preparer: Preparer, stats: ReadStats, workers: int
) -> Iterator[Prepared]:
    remote = dataclasses.replace(preparer, keep_resource=False)
    pool = ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("fork"),
        initializer=_start_worker,
        initargs=(remote,),
    )
    pending: deque[Future[tuple[list[Any], ReadStats]] | Result] = deque()
    try:
        for unit in units:
            pending.append(pool.submit(_prepare, unit) if isinstance(unit, Work) else unit)
            while len(pending) > IN_FLIGHT * workers:
                yield from _take(pending.popleft(), preparer, stats)
        while pending:
            yield from _take(pending.popleft(), preparer, stats)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _take(
    entry: Future[tuple[list[Any], ReadStats]] | Result, preparer: Preparer, stats: ReadStats
) -> Iterator[Prepared]:
    """The prepared results of one pending entry (a worker's unit, or a result read here)."""
    if isinstance(entry, Future):
        prepared, found = entry.result()
        merge_stats(stats, found)
        for item in prepared:
            yield Ready._make(item) if type(item) is tuple else item
    else:
        yield preparer.prepare(entry)  # read here (a problem, a streamed Bundle's entry)


def _start_worker(preparer: Preparer) -> None:
    """Worker set-up: keep the run's preparer; leave Ctrl-C to the main process.

    Everything inherited from the main process is frozen out of garbage collection: the worker
    must never finalise the main process's objects (a database connection's finaliser would
    close the main process's session).
    """
    global _PREPARER  # one preparer per worker process, set once
    gc.freeze()
    # Millions of short-lived, acyclic containers: collecting every 700 allocations costs a
    # worker 10-15% of its time (`registry.gcpolicy`).
    gc.set_threshold(*BULK_THRESHOLDS)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _PREPARER = preparer


def _prepare(work: Work) -> tuple[list[Any], ReadStats]:
    """Prepare one unit of work in a worker process."""
    if _PREPARER is None:  # pragma: no cover - the pool's initializer sets it
        raise RuntimeError("the worker has no preparer")
    prepared, stats = _PREPARER.run(work)
    # `Ready` goes as a plain tuple: half the cost to pickle and unpickle of a named tuple.
    return [tuple(item) if type(item) is Ready else item for item in prepared], stats

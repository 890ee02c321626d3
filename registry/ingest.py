"""Import runs end to end: start the run, load every batch, run post-load checks, close the run."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from adapter.items import ReadProblem, ReadStats, SourceItem
from adapter.mappers import MappingContext
from adapter.reading import iter_items, iter_work
from adapter.terminology import Terminology
from adapter.validation import Validator
from registry import reportindexes
from registry.counts import RunCounts
from registry.gcpolicy import bulk_allocation
from registry.load import DEFAULT_BATCH, Loader
from registry.parallel import auto_workers, input_bytes, prepared_items
from registry.postload import PostloadReport, run_postload
from registry.runs import finish_run, save_counts, start_run

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ImportOptions:
    """How to read and map (built by the CLI from flags, environment and config)."""

    site: str = "local"
    fhir_version: str | None = None  # None: detect per resource
    validate: str = "sample:100"
    batch_size: int = DEFAULT_BATCH
    assume_tz: tzinfo | None = None
    terminology: Terminology | None = None
    workers: int | None = None  # processes that read and map files; None: by input size
    # Set the report's indexes aside during the batches (`registry.reportindexes`); None: when
    # the files bring more observations than the registry holds.
    defer_indexes: bool | None = None


@dataclass(frozen=True, slots=True)
class ImportResult:
    """A finished run: its id, counts and what the post-load checks did."""

    run_id: int
    status: str
    counts: RunCounts
    postload: PostloadReport

    def summary(self) -> dict[str, Any]:
        """The summary `masreg import --json` prints."""
        return {
            "run_id": self.run_id,
            "status": self.status,
            **self.counts.as_dict(),
            "postload": {
                "medications_resolved": self.postload.medications_resolved,
                "doses_weighed": self.postload.doses_weighed,
                "derived_anc": self.postload.derived_anc,
                "quarantined": self.postload.flagged,
            },
        }


def import_items(
    engine: Engine,
    items: Iterable[SourceItem | ReadProblem],
    *,
    source: str,
    options: ImportOptions,
    kind: str = "import",
    on_batch: Callable[[RunCounts], None] | None = None,
    extra: dict[str, Any] | None = None,
    on_phase: Callable[[str], None] | None = None,
) -> ImportResult:
    """Run one ingest of a stream of items (files or a server pull) into the registry.

    The report's indexes are set aside only when `options.defer_indexes` says so (the size of a
    stream is not known ahead).
    """
    return _ingest(
        engine,
        lambda loader: loader.load(items),
        source=source,
        options=options,
        kind=kind,
        on_batch=on_batch,
        extra=extra,
        defer=bool(options.defer_indexes),
        on_phase=on_phase,
    )


def _ingest(
    engine: Engine,
    feed: Callable[[Loader], RunCounts],
    *,
    source: str,
    options: ImportOptions,
    kind: str,
    on_batch: Callable[[RunCounts], None] | None,
    extra: dict[str, Any] | None,
    defer: bool,
    on_phase: Callable[[str], None] | None = None,
) -> ImportResult:
    """Start a run, `feed` its loader, run the post-load checks and close the run.

    `defer`: set the report's indexes aside while the batches are written. `on_phase` hears of
    the steps after the batches, which show no progress of their own.
    """
    term = options.terminology or Terminology.default()
    context = MappingContext(term, assume_tz=options.assume_tz)
    run_options = {
        "fhir_version": options.fhir_version,
        "validate": options.validate,
        "batch_size": options.batch_size,
        "defer_indexes": defer,
    } | (extra or {})
    run_id = start_run(engine, kind=kind, site=options.site, source=source, options=run_options)
    loader = Loader(
        engine,
        site=options.site,
        run_id=run_id,
        context=context,
        validator=Validator(options.validate, zoneless_times_ok=options.assume_tz is not None),
        batch_size=options.batch_size,
        on_batch=on_batch,
    )
    try:
        with bulk_allocation():
            with reportindexes.deferred(engine, defer) as dropped:
                counts = feed(loader)
                if dropped and on_phase is not None:
                    on_phase("building the report's indexes")
            if on_phase is not None:
                on_phase("post-load checks")
            with engine.begin() as conn:
                report = run_postload(
                    conn, site=options.site, run_id=run_id, context=context, counts=counts
                )
                save_counts(conn, run_id, counts, postload=report.flagged)
    except KeyboardInterrupt:
        finish_run(engine, run_id, status="interrupted", message="interrupted by the user")
        raise
    except BaseException as exc:
        finish_run(engine, run_id, status="failed", message=f"{type(exc).__name__}: {exc}")
        raise
    finish_run(engine, run_id, status="completed")
    return ImportResult(run_id, "completed", counts, report)


def import_paths(
    engine: Engine,
    paths: Sequence[Path],
    *,
    options: ImportOptions,
    on_batch: Callable[[RunCounts], None] | None = None,
    on_phase: Callable[[str], None] | None = None,
) -> ImportResult:
    """Import files and directories of FHIR content.

    Large inputs are read and mapped in worker processes (`registry.parallel`;
    `ImportOptions.workers`), with the same result as reading them here.
    """
    stats = ReadStats()
    size = input_bytes(paths)
    workers = auto_workers(size) if options.workers is None else options.workers
    defer = options.defer_indexes
    if defer is None:
        defer = reportindexes.worth_deferring(engine, size)
    feed: Callable[[Loader], RunCounts]
    if workers > 0:
        iter_work(paths, fhir_version=options.fhir_version)  # bad paths fail before the run
        prepared = functools.partial(
            prepared_items, paths, fhir_version=options.fhir_version, stats=stats, workers=workers
        )
        feed = lambda loader: loader.load_prepared(prepared(preparer=loader.preparer))  # noqa: E731
    else:
        items = iter_items(paths, fhir_version=options.fhir_version, stats=stats)
        feed = lambda loader: loader.load(items)  # noqa: E731
    result = _ingest(
        engine,
        feed,
        source=" ".join(str(p) for p in paths),
        options=options,
        kind="import",
        on_batch=on_batch,
        extra=None,
        defer=defer,
        on_phase=on_phase,
    )
    result.counts.operation_outcomes = stats.operation_outcomes
    result.counts.ignored_files = list(stats.ignored_files)
    return result

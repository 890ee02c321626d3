"""One pull end to end: discover the server, select the cohort, fetch or export, import, record.

The fetched resources stream into `registry.ingest.import_items` (batched, idempotent), so a
pull interrupted at any point leaves a consistent registry and running it again completes it.
"""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import Engine, select, update

from adapter.capabilities import ServerCapabilities, parse_capabilities
from adapter.client import FHIR_JSON, FhirClient
from adapter.http import OnRetry
from adapter.manifest import ExportRequest
from adapter.terminology import Terminology
from registry import reportindexes, tables
from registry.counts import RunCounts
from registry.ingest import ImportOptions, ImportResult, import_items
from registry.parallel import input_bytes
from registry.pull import bulk, fetch
from registry.pull import resources as rt
from registry.pull.cohort import CohortSpec, query_text, select_patients
from registry.pull.config import PullSettings
from registry.pull.report import Incomplete, PullReport
from registry.pull.search import exact_json
from registry.pull.since import PULL_KIND, resolve_since, server_time
from registry.runs import finish_run

logger = logging.getLogger(__name__)
RUN = tables.INGEST_RUN
SOURCE = tables.SOURCE_RECORD


@dataclass(frozen=True)
class PullProgress:
    """Where a pull is: resources fetched per type, finished search pages, HTTP requests, retries.

    Counts only, never identifiers: the CLI shows it as it goes.
    """

    fetched: Mapping[str, int]
    pages: int
    requests: int
    retries: int
    waited_seconds: float


@dataclass(frozen=True)
class PullHooks:
    """Progress callbacks the CLI passes in (all optional).

    `on_progress` is called as resources arrive, at most every `progress_every` seconds, and
    once at the end of the fetch.
    """

    on_retry: OnRetry | None = None
    on_batch: Callable[[RunCounts], None] | None = None
    on_export: Callable[[str | None, float], None] | None = None
    on_progress: Callable[[PullProgress], None] | None = None
    progress_every: float = 0.5
    # The steps after the import's last batch (building indexes, post-load checks).
    on_phase: Callable[[str], None] | None = None


def with_progress(
    items: Iterator[fetch.Item],
    client: FhirClient,
    report: PullReport,
    hooks: PullHooks,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[fetch.Item]:
    """Pass the items through, telling `hooks.on_progress` how far the fetch has come."""
    show = hooks.on_progress
    if show is None:
        yield from items
        return
    fetched: Counter[str] = Counter()
    counters = client.counters

    def tell() -> None:
        show(PullProgress(dict(fetched), report.pages, counters.requests, counters.retries,
                          counters.waited_seconds))  # fmt: skip

    last = clock()
    for item in items:
        fetched[getattr(item, "resource_type", "unreadable")] += 1
        if clock() - last >= hooks.progress_every:
            tell()
            last = clock()
        yield item
    tell()


@dataclass(frozen=True)
class PullResult:
    """A finished pull: the ingest run, and what the pull itself found."""

    imported: ImportResult
    status: str  # completed | incomplete
    report: PullReport
    details: dict[str, Any]

    def summary(self) -> dict[str, Any]:
        """The summary `masreg pull --json` prints (no patient identifiers)."""
        return self.imported.summary() | {
            "status": self.status,
            "cohort_size": self.report.cohort_size,
            "dropped_other_patients": self.report.dropped,
            "incomplete_reasons": self.report.messages(),
            "notes": list(self.report.notes),
            "http": self.details["http"],
        }


def requested_types(settings: PullSettings, spec: CohortSpec) -> list[str]:
    """Every type the pull may request (SMART scopes are built from these)."""
    types = {*settings.types, rt.PATIENT, rt.MEDICATION}
    types |= set(spec.needs())
    return sorted(types)


def read_metadata(client: FhirClient) -> tuple[ServerCapabilities, str | None]:
    """The CapabilityStatement and the server's clock (its ``Date`` header) before the pull."""

    def consume(response: requests.Response) -> tuple[dict[str, Any], str | None]:
        return exact_json(response), server_time(response.headers.get("Date"))

    body, now = client.request("GET", "metadata", consume, headers={"Accept": FHIR_JSON})
    return parse_capabilities(body), now


def known_patients(engine: Engine, site: str) -> frozenset[str]:
    """Patient ids of this site already in the registry."""
    stmt = select(SOURCE.c.resource_id).where(
        SOURCE.c.site == site, SOURCE.c.resource_type == rt.PATIENT, SOURCE.c.is_deleted.is_(False)
    )
    with engine.connect() as conn:
        return frozenset(conn.scalars(stmt))


def pull(
    engine: Engine,
    settings: PullSettings,
    *,
    terminology: Terminology | None = None,
    assume_tz: tzinfo | None = None,
    hooks: PullHooks | None = None,
    client: FhirClient | None = None,
) -> PullResult:
    """Run one pull into the registry and record it as an ingest run of kind ``pull``.

    Args:
        engine: the registry.
        settings: server, cohort and pull options.
        terminology: code lists (default: the CLINICAL-SPEC defaults).
        assume_tz: the zone of times written without an offset.
        hooks: progress callbacks.
        client: a client to use (tests); by default one is built from `settings.server`.

    Raises:
        AdapterError: configuration, capability, auth or HTTP failures that stop the pull.
        RegistryError: database problems.
    """
    hooks, term, report = hooks or PullHooks(), terminology or Terminology.default(), PullReport()
    spec = CohortSpec.parse(settings.cohort)
    client = client or FhirClient(
        settings.server, resource_types=requested_types(settings, spec), on_retry=hooks.on_retry
    )
    with client:
        plan = _plan(engine, client, settings, spec, term, report, hooks)
        imported = import_items(
            engine,
            with_progress(plan.items, client, report, hooks),
            source=client.base_url,
            options=_import_options(engine, settings, plan, term, assume_tz),
            kind=PULL_KIND,
            on_batch=hooks.on_batch,
            extra={"pull": _options(settings, client, plan.since)},
            on_phase=hooks.on_phase,
        )
        details = _details(client, plan, settings, report)
    status = _record(engine, imported.run_id, details, report)
    if plan.directory is not None:
        bulk.remove_export(plan.directory)
    return PullResult(imported, status, report, details)


def _import_options(
    engine: Engine,
    settings: PullSettings,
    plan: _Plan,
    term: Terminology,
    assume_tz: tzinfo | None,
) -> ImportOptions:
    """How the pulled resources are imported.

    A bulk export is downloaded whole before its import, so its size decides, as for files,
    whether the report's indexes are set aside (`registry.reportindexes`); a REST pull's size is
    not known ahead: they are kept.
    """
    defer = plan.directory is not None and reportindexes.worth_deferring(
        engine, input_bytes([plan.directory])
    )
    return ImportOptions(
        site=settings.site,
        fhir_version=plan.caps.release,
        validate=settings.validate,
        batch_size=settings.batch_size,
        assume_tz=assume_tz,
        terminology=term,
        defer_indexes=defer,
    )


@dataclass
class _Plan:
    """What a pull found before importing: the server, the since value and the item stream."""

    caps: ServerCapabilities
    server_time: str | None
    since: str | None
    items: Iterator[fetch.Item]
    directory: Path | None = None


def _plan(
    engine: Engine,
    client: FhirClient,
    settings: PullSettings,
    spec: CohortSpec,
    term: Terminology,
    report: PullReport,
    hooks: PullHooks,
) -> _Plan:
    caps, now = read_metadata(client)
    caps.require(spec.needs())
    since = resolve_since(engine, settings.since, site=settings.site, source=client.base_url)
    ids = select_patients(client, spec, term, report)
    known = known_patients(engine, settings.site) if since else frozenset()
    if not settings.bulk:
        items = _rest_items(client, settings, caps, term, ids, since, known, report)
        return _Plan(caps, now, since, items)
    group_id = spec.value if spec.kind == "group" else None
    new = [pid for pid in ids if pid not in known]
    if since and new:
        report.add_incomplete(
            Incomplete(
                "export",
                f"{len(new)} patients are new to the registry but --since exports only "
                "what changed: pull once without --since",
            )
        )
    level = bulk.export_level(settings, caps, group_id)
    types = tuple(sorted({*settings.types, rt.MEDICATION}))
    filters = bulk.type_filters(settings, term, report)
    request = ExportRequest(
        level=level, group_id=group_id, types=types, type_filters=filters, since=since
    )
    directory = bulk.export_dir(settings)
    report.add_query(query_text(request.path(), request.params()))
    result = bulk.run_export(client, request, directory, hooks.on_export)
    items = bulk.export_items(
        client, result, cohort=frozenset(ids), release=caps.release, report=report
    )
    return _Plan(caps, result.transaction_time, since, items, directory)


def _rest_items(
    client: FhirClient,
    settings: PullSettings,
    caps: ServerCapabilities,
    term: Terminology,
    ids: list[str],
    since: str | None,
    known: frozenset[str],
    report: PullReport,
) -> Iterator[fetch.Item]:
    medications = fetch.MedicationReader(client, release=caps.release, report=report)
    queries = fetch.plan_queries(caps, settings, term, report)
    for query in queries:
        params = query.params("{id}", settings.page_size, since)
        report.add_query(query_text(query.resource_type, params))
    fetcher = fetch.PatientFetcher(
        client,
        queries,
        release=caps.release,
        report=report,
        page_size=settings.page_size,
        since=since,
        known_patients=known,
        medications=medications,
    )
    yield from fetch.fetch_cohort(fetcher, client, ids)
    yield from medications.items()


def _options(settings: PullSettings, client: FhirClient, since: str | None) -> dict[str, Any]:
    return {
        "server": client.base_url,
        "auth": client.auth_kind,
        "cohort": settings.cohort.split(":", 1)[0],
        "mode": "bulk" if settings.bulk else "rest",
        "since": since,
        "types": list(settings.types),
        "observations": settings.observations,
        "type_filters": list(settings.type_filters),
    }


def _details(
    client: FhirClient, plan: _Plan, settings: PullSettings, report: PullReport
) -> dict[str, Any]:
    counters = client.counters
    return {
        **_options(settings, client, plan.since),
        "software": plan.caps.software,
        "fhir_version": plan.caps.fhir_version,
        "release": plan.caps.release,
        "server_time": plan.server_time,
        "http": {
            "requests": counters.requests,
            "retries": counters.retries,
            "retries_by_reason": dict(counters.by_reason),
            "reauthorizations": counters.reauthorizations,
            "waited_seconds": round(counters.waited_seconds, 3),
        },
        **report.as_dict(),
    }


def _record(engine: Engine, run_id: int, details: dict[str, Any], report: PullReport) -> str:
    """Add the pull's findings to the run record; an incomplete pull gets status incomplete."""
    with engine.begin() as conn:
        stored = json.loads(conn.scalar(select(RUN.c.details).where(RUN.c.id == run_id)) or "{}")
        stored["pull"] = details
        conn.execute(
            update(RUN).where(RUN.c.id == run_id).values(details=json.dumps(stored, default=str))
        )
    if not report.is_incomplete:
        return "completed"
    messages = report.messages()
    message = f"incomplete: {len(messages)} problems, first: {messages[0]}"[:1000]
    finish_run(engine, run_id, status="incomplete", message=message)
    return "incomplete"

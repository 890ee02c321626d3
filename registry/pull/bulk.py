"""Bulk Data pulls: ``$export`` at Group, Patient or system level, then the files' import.

Only files the manifest lists are read (data and ``deleted`` files). Patient and system
exports hold every patient of the server, so each resource is checked against the cohort and
dropped when it belongs to another patient. Medications referenced but not exported are read one
by one. The export directory holds the export's state: a run killed during the download or the
import resumes the same export; it is removed once the files are imported.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlencode

from adapter.bulk import BulkExporter
from adapter.capabilities import ExportLevel, ServerCapabilities
from adapter.client import FhirClient
from adapter.errors import CapabilityError, ConfigError
from adapter.items import SourceItem
from adapter.manifest import ExportRequest, ExportResult
from adapter.reading import iter_items
from adapter.terminology import Terminology
from registry.pull import resources as rt
from registry.pull.config import PullSettings
from registry.pull.fetch import Item, MedicationReader, observation_filters
from registry.pull.report import Incomplete, PullReport

logger = logging.getLogger(__name__)


def export_dir(settings: PullSettings) -> Path:
    """Where this site's export goes: the configured directory or one per site and server."""
    if settings.export_dir is not None:
        return settings.export_dir
    digest = hashlib.sha256(settings.server.base_url.encode()).hexdigest()[:10]
    return Path(".masreg-export") / f"{settings.site}-{digest}"


def export_level(
    settings: PullSettings, caps: ServerCapabilities, group_id: str | None
) -> ExportLevel:
    """The ``$export`` level: the configured one, else group for a Group cohort, else patient.

    Raises:
        CapabilityError: the server does not declare the level needed.
        ConfigError: a group-level export without a Group cohort.
    """
    levels = caps.export_levels()
    wanted = settings.export_level
    if wanted == "auto":
        wanted = "group" if group_id else ("patient" if "patient" in levels else "system")
    if wanted == "group" and not group_id:
        raise ConfigError("a group-level export needs --cohort group:ID")
    if wanted not in levels:
        raise CapabilityError(f"the server does not declare a {wanted}-level $export")
    return wanted


def type_filters(settings: PullSettings, term: Terminology, report: PullReport) -> tuple[str, ...]:
    """The kick-off's ``_typeFilter`` queries: the Observation options, then the configured ones.

    Each is ``Type?query`` with the query's values URL-encoded (the Bulk Data form; the whole
    parameter is encoded once more when sent). Filters of one type are alternatives (OR), so
    the Observation filters are not sent when a configured filter names Observation too: the
    site's filter decides. A server that ignores ``_typeFilter`` exports more of the cohort's
    data, never less.
    """
    configured = tuple(settings.type_filters)
    own = {query.partition("?")[0] for query in configured}
    implied = [] if rt.OBSERVATION in own else [
        f"{rt.OBSERVATION}?{urlencode(filters)}"
        for filters in observation_filters(settings, term, report)
        if filters
    ]  # fmt: skip
    return (*implied, *configured)


def run_export(
    client: FhirClient,
    request: ExportRequest,
    directory: Path,
    on_progress: Callable[[str | None, float], None] | None = None,
) -> ExportResult:
    """Kick off (or resume) the export and download its files.

    Raises:
        BulkExportError, OriginError, HTTPError, AuthError: see `BulkExporter.run`.
    """
    return BulkExporter(client, directory, on_progress=on_progress).run(request)


def export_items(
    client: FhirClient,
    result: ExportResult,
    *,
    cohort: frozenset[str] | None,
    release: str,
    report: PullReport,
) -> Iterator[Item]:
    """Yield the exported resources (and deletions) of the cohort, then missing Medications.

    Args:
        client: an open client, for Medications the export did not hold.
        result: the finished export.
        cohort: the Patient ids allowed in (None: everything exported is the cohort's).
        release: the server's FHIR release.
        report: gets drop counts and the export's error issues.
    """
    for issue in result.error_issues:
        report.add_incomplete(Incomplete("export", f"{issue.severity}: {issue.text}"[:300]))
    medications = MedicationReader(client, release=release, report=report)
    files = [f for files in result.output.values() for f in files] + list(result.deleted)
    root = files[0].path.parent if files else Path()
    for item in iter_items([f.path for f in files], fhir_version=release):
        if not isinstance(item, SourceItem):
            yield item
            continue
        if not item.deleted and not _in_cohort(item, cohort, client.base_url, report):
            continue
        locator = _locator(item.origin, item.locator, root)
        if item.resource_type == rt.MEDICATION and not item.deleted:
            medications.offer(item.resource, locator)  # yielded once, below, with the read ones
            continue
        medications.want(item.resource)
        yield dataclasses.replace(item, origin=client.base_url, locator=locator)
    yield from medications.items()


def _in_cohort(
    item: SourceItem, cohort: frozenset[str] | None, base_url: str, report: PullReport
) -> bool:
    if cohort is None or not rt.is_patient_data(item.resource_type):
        return True
    if rt.patient_of(item.resource, base_url) in cohort:
        return True
    report.add_dropped(item.resource_type, 1)
    return False


def _locator(origin: str, locator: str, root: Path) -> str:
    path = Path(origin)
    name = path.name if path.parent == root else f"{path.parent.name}/{path.name}"
    return f"{name} {locator}"[:64]


def remove_export(directory: Path) -> None:
    """Remove an imported export's files and state, so the next pull starts a new export."""
    shutil.rmtree(directory, ignore_errors=True)
    logger.info("removed the imported export files")

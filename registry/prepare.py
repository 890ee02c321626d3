"""Everything the loader needs from one read result that does not need the database.

For a resource of a mapped type that is its identity, version, content hash, compressed raw JSON
and its rows, mapped ahead of knowing whether the registry already holds it (mapping is pure;
rows of an unchanged resource are dropped by the loader). This is most of an import's work, and
it runs in worker processes (`registry.parallel`) or in this one, with the same result.

Prepared results are plain tuples and dataclasses, cheap to send between processes; the parsed
resource itself stays behind unless asked for (`keep_resource`): the loader re-reads it from the
canonical raw JSON for the few resources it validates.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from adapter.errors import MappingError
from adapter.fhir import as_object, parse_time
from adapter.items import ReadProblem, ReadStats, SourceItem
from adapter.mappers import MAPPERS, MappingContext, map_resource
from adapter.mappers.context import cached_time
from adapter.readers import Work, run_work
from registry import rawjson, rowsql
from registry.quarantine import QuarantineEntry, located_reason

logger = logging.getLogger(__name__)

SOURCE_RECORD = "source_record"


class Failure(NamedTuple):
    """Why a resource could not be mapped (a `MappingError`, or a mapper defect)."""

    reason_code: str
    field_path: str | None
    message: str
    defect: str | None  # the exception type of a mapper defect; None for a MappingError


class Ready(NamedTuple):
    """A resource of a mapped type, prepared: identity, version, raw, rows or failure."""

    resource_type: str
    resource_id: str
    origin: str
    locator: str
    fhir_version: str
    content_hash: str
    version_id: str | None
    last_updated: datetime | None
    raw_z: bytes  # the canonical JSON, compressed as stored (`registry.rawjson`)
    rows: rowsql.TableRows | None  # with its new source record's row ("source_record")
    failure: Failure | None
    resource: dict[str, Any] | None  # the parsed resource, when kept


class Skipped(NamedTuple):
    """A resource of a type the registry does not map (counted, not stored)."""

    resource_type: str


class Rejected(NamedTuple):
    """A resource quarantined before it has a version (no id, a malformed lastUpdated)."""

    resource_type: str
    entry: QuarantineEntry


Prepared = Ready | Skipped | Rejected | ReadProblem | SourceItem  # SourceItem: a deletion


@dataclass(frozen=True, slots=True)
class Preparer:
    """Prepares the results of one run (site, database dialect, mapping context)."""

    context: MappingContext
    site: str
    dialect: str  # the database's: how `registry.rowsql.flatten` writes rows
    run_id: int
    keep_resource: bool = True

    def prepare(self, result: SourceItem | ReadProblem) -> Prepared:
        """Prepare one read result (problems and deletions pass through as they are)."""
        if isinstance(result, ReadProblem):
            return result
        if result.deleted:
            return result if result.bundle_context is None else _without_context(result)
        if result.resource_type not in MAPPERS:
            return Skipped(result.resource_type)
        return self._ready(result)

    def run(self, work: Work) -> tuple[list[Prepared], ReadStats]:
        """Read a unit of work and prepare its results (what a worker process does)."""
        results, stats = run_work(work)
        return [self.prepare(result) for result in results], stats

    def _ready(self, item: SourceItem) -> Ready | Rejected:
        rtype = item.resource_type
        resource_id = item.resource_id or item.resource.get("id")
        if not isinstance(resource_id, str) or not resource_id:
            message = f"{rtype} has no id, so it cannot be identified across imports"
            return _rejected(item, "missing-element", f"{rtype}.id", message)
        meta = as_object(item.resource.get("meta"))
        try:
            updated = _instant(meta["lastUpdated"]) if meta.get("lastUpdated") else None
        except ValueError as exc:
            return _rejected(item, "invalid-value", f"{rtype}.meta.lastUpdated", str(exc))
        version_id = meta.get("versionId") if isinstance(meta.get("versionId"), str) else None
        content_hash = hashlib.sha256(item.raw).hexdigest()
        raw_z = rawjson.compress(item.raw)
        rows, failure = self._map(item, resource_id)
        if rows is not None:
            record = (
                *(self.site, rtype, resource_id, version_id, updated, content_hash, item.origin),
                *(item.locator[:64], item.fhir_version, self.run_id, raw_z),
                *(False, None, self.run_id, "loaded"),
            )
            rows[SOURCE_RECORD] = [rowsql.encode(record, SOURCE_RECORD, self.dialect)]
        keep = item.resource if self.keep_resource else None
        return Ready(
            *(rtype, resource_id, item.origin, item.locator, item.fhir_version, content_hash),
            *(version_id, updated, raw_z, rows, failure, keep),
        )

    def _map(
        self, item: SourceItem, resource_id: str
    ) -> tuple[rowsql.TableRows | None, Failure | None]:
        """Map a resource into table tuples, or say why it cannot be mapped."""
        context = self.context.with_source(item.fhir_version, item.bundle_context)
        try:
            rows = map_resource(item.resource, context)
        except MappingError as exc:
            return None, Failure(exc.reason_code, exc.field_path, exc.message, None)
        except Exception as exc:  # a mapper defect must not stop a Friday-night run
            message = f"the registry could not map this resource ({type(exc).__name__}: {exc})"
            return None, Failure("mapping-failed", item.resource_type, message, type(exc).__name__)
        flat = rowsql.flatten(rows, site=self.site, source_id=resource_id, dialect=self.dialect)
        return flat, None


def _instant(value: Any) -> datetime:
    """The UTC instant of a meta.lastUpdated (cached: an export repeats them).

    Raises:
        ValueError: not a FHIR instant.
    """
    # The same arguments as the mappers pass, so that they share cache entries.
    return (cached_time(value, None) if isinstance(value, str) else parse_time(value)).value


def _rejected(item: SourceItem, reason: str, path: str, message: str) -> Rejected:
    """Quarantine entry for a resource that has no usable identity or version."""
    rid = item.resource.get("id")
    return Rejected(
        item.resource_type,
        QuarantineEntry(
            origin=item.origin,
            locator=item.locator,
            reason_code=reason,
            reason=located_reason(item.origin, item.locator, item.resource_type, rid, message),
            field_path=path,
            resource_type=item.resource_type,
            resource_id=rid if isinstance(rid, str) else None,
            raw=item.raw,
        ),
    )


def _without_context(item: SourceItem) -> SourceItem:
    """A deletion without its Bundle's context (not needed to apply it; heavy to send)."""
    return dataclasses.replace(item, bundle_context=None, deleted=True)

"""Batched, idempotent loading of source items into the registry.

Each batch is one transaction: its source records, concept rows, history, quarantine entries and
the run's counts commit together, so a run killed at any point leaves a consistent registry and
the same command run again completes it (issue 2, item 7). The ORM unit of work is avoided on
this path: rows go in with Core executemany.
"""

from __future__ import annotations

import hashlib
import logging
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, insert, select, update

from adapter.errors import MappingError
from adapter.fhir import as_object, parse_time
from adapter.items import ReadProblem, SourceItem
from adapter.mappers import MAPPERS, MappingContext, map_resource
from adapter.rows import Row
from adapter.validation import Validator
from registry import quarantine, rowsql, tables
from registry.counts import UNREADABLE, RunCounts
from registry.deletions import apply_deletions
from registry.quarantine import QuarantineEntry
from registry.records import HISTORY_KEY, archive_current, chunks, delete_concepts
from registry.runs import save_counts
from registry.upsert import insert_ignore
from registry.versions import Head, VersionKey, version_key

logger = logging.getLogger(__name__)

SR = tables.SOURCE_RECORD
HISTORY = tables.HISTORY
DEFAULT_BATCH = 5000


@dataclass(slots=True)
class Candidate:
    """A readable resource of a mapped type, with its identity and version key."""

    item: SourceItem
    key: tuple[str, str]
    content_hash: str
    version: VersionKey
    version_id: str | None
    last_updated: datetime | None


@dataclass(slots=True)
class Batch:
    """What one batch decided, before it is written."""

    quarantined: list[QuarantineEntry] = field(default_factory=list)
    new: list[tuple[Candidate, list[Row]]] = field(default_factory=list)
    replaced: list[tuple[Candidate, list[Row], Head]] = field(default_factory=list)
    older: list[Candidate] = field(default_factory=list)
    touched: list[tuple[int, str]] = field(default_factory=list)  # (record id, outcome)
    deletions: list[SourceItem] = field(default_factory=list)
    heads: dict[tuple[str, str], Head] = field(default_factory=dict)


class Loader:
    """Load a stream of source items for one site and run."""

    def __init__(
        self,
        engine: Engine,
        *,
        site: str,
        run_id: int,
        context: MappingContext,
        validator: Validator,
        counts: RunCounts | None = None,
        batch_size: int = DEFAULT_BATCH,
        on_batch: Callable[[RunCounts], None] | None = None,
    ) -> None:
        self.engine = engine
        self.site = site
        self.run_id = run_id
        self.context = context
        self.validator = validator
        self.counts = counts or RunCounts()
        self.batch_size = batch_size
        self.on_batch = on_batch
        self.started = datetime.now(UTC)
        self._validated = 0

    def load(self, items: Iterable[SourceItem | ReadProblem]) -> RunCounts:
        """Load every item, batch by batch; return the run's counts (post-load not included)."""
        iterator = iter(items)
        while batch := list(islice(iterator, self.batch_size)):
            decided = self._decide(batch)
            with self.engine.begin() as conn:
                self._write(conn, decided)
                save_counts(conn, self.run_id, self.counts)
            if self.on_batch is not None:
                self.on_batch(self.counts)
        return self.counts

    # -- deciding -------------------------------------------------------------------------

    def _decide(self, batch: list[SourceItem | ReadProblem]) -> Batch:
        """Classify every item of a batch: quarantine, skip, new, newer, unchanged or older."""
        out = Batch()
        best: dict[tuple[str, str], Candidate] = {}
        for entry in batch:
            candidate = self._candidate(entry, out)
            if candidate is None:
                continue
            other = best.get(candidate.key)
            if other is None:
                best[candidate.key] = candidate
                continue
            winner, loser = (
                (candidate, other) if candidate.version > other.version else (other, candidate)
            )
            best[candidate.key] = winner
            self._count(loser, "unchanged")
            if loser.content_hash != winner.content_hash:
                out.older.append(loser)
        deleted = [(d.resource_type, d.resource_id) for d in out.deletions if d.resource_id]
        out.heads = self._heads(list(best) + deleted)
        for key, candidate in best.items():
            self._against_head(candidate, out.heads.get(key), out)
        return out

    def _candidate(self, entry: SourceItem | ReadProblem, out: Batch) -> Candidate | None:
        """Turn an item into a Candidate, or account for it (problem, skip, deletion)."""
        if isinstance(entry, ReadProblem):
            out.quarantined.append(
                QuarantineEntry(
                    entry.origin, entry.locator, entry.reason_code, entry.message, raw=entry.raw
                )
            )
            self.counts.add(UNREADABLE, "quarantined")
            return None
        rtype = entry.resource_type
        if entry.deleted:
            out.deletions.append(entry)
            return None
        if rtype not in MAPPERS:
            self.counts.add(rtype, "skipped")
            return None
        resource_id = entry.resource_id or entry.resource.get("id")
        if not isinstance(resource_id, str) or not resource_id:
            self._quarantine(
                out,
                entry,
                "missing-element",
                f"{rtype}.id",
                f"{rtype} has no id, so it cannot be identified across imports",
            )
            return None
        meta = as_object(entry.resource.get("meta"))
        try:
            updated = parse_time(meta["lastUpdated"]).value if meta.get("lastUpdated") else None
        except ValueError as exc:
            self._quarantine(out, entry, "invalid-value", f"{rtype}.meta.lastUpdated", str(exc))
            return None
        version_id = meta.get("versionId") if isinstance(meta.get("versionId"), str) else None
        digest = hashlib.sha256(entry.raw).hexdigest()
        return Candidate(
            entry,
            (rtype, resource_id),
            digest,
            version_key(updated, version_id, digest),
            version_id,
            updated,
        )

    def _against_head(self, candidate: Candidate, head: Head | None, out: Batch) -> None:
        """Decide what a candidate does to the stored current version (issue 2, item 5)."""
        if head is None:
            rows = self._map(candidate, out)
            if rows is not None:
                out.new.append((candidate, rows))
            return
        if head.content_hash == candidate.content_hash and not head.is_deleted:
            out.touched.append((head.id, "unchanged"))
            self._count(candidate, "unchanged")
            return
        if head.same_version(candidate.last_updated, candidate.version_id) and not head.is_deleted:
            self._quarantine(
                out,
                candidate.item,
                "conflicting-version",
                f"{candidate.key[0]}.meta",
                f"{candidate.key[0]}/{candidate.key[1]} version {candidate.version_id or '?'} "
                "is already stored with different content; the stored one is kept",
                candidate,
            )
            return
        if candidate.version > head.version:
            rows = self._map(candidate, out)
            if rows is not None:
                out.replaced.append((candidate, rows, head))
            return
        out.older.append(candidate)
        self._count(candidate, "unchanged")

    def _map(self, candidate: Candidate, out: Batch) -> list[Row] | None:
        """Validate (sampled) and map a candidate; quarantine it on failure."""
        item = candidate.item
        index, self._validated = self._validated, self._validated + 1
        validated = self.validator.should_validate(index)
        if validated and (issues := self.validator.validate(item.resource, item.fhir_version)):
            detail = "; ".join(f"{i.path}: {i.message}" for i in issues[:3])
            self._quarantine(
                out,
                item,
                "validation-failed",
                issues[0].path,
                f"fails FHIR {item.fhir_version} validation: {detail}",
                candidate,
            )
            return None
        context = self.context.with_source(item.fhir_version, item.bundle_context)
        try:
            return map_resource(item.resource, context)
        except MappingError as exc:
            reason, path, message = exc.reason_code, exc.field_path, exc.message
        except Exception as exc:  # a mapper defect must not stop a Friday-night run
            logger.warning("mapper defect on a %s: %s", item.resource_type, type(exc).__name__)
            reason, path = "mapping-failed", item.resource_type
            message = f"the registry could not map this resource ({type(exc).__name__}: {exc})"
        if not validated and self.validator.mode != "off":
            issues = self.validator.validate(item.resource, item.fhir_version)
            if issues:
                message += "; it also fails validation: " + "; ".join(
                    f"{i.path}: {i.message}" for i in issues[:3]
                )
        self._quarantine(out, item, reason, path, message, candidate)
        return None

    def _quarantine(
        self,
        out: Batch,
        item: SourceItem,
        reason: str,
        path: str | None,
        message: str,
        candidate: Candidate | None = None,
    ) -> None:
        """Add a quarantine entry for an item and count it."""
        rid = candidate.key[1] if candidate else item.resource.get("id")
        out.quarantined.append(
            QuarantineEntry(
                origin=item.origin,
                locator=item.locator,
                reason_code=reason,
                reason=f"{item.origin}, {item.locator}: {item.resource_type}/{rid}: {message}",
                field_path=path,
                resource_type=item.resource_type,
                resource_id=rid if isinstance(rid, str) else None,
                version_id=candidate.version_id if candidate else None,
                content_hash=candidate.content_hash if candidate else None,
                raw=item.raw,
            )
        )
        self.counts.add(item.resource_type, "quarantined")

    def _count(self, candidate: Candidate, bucket: str) -> None:
        self.counts.add(candidate.key[0], bucket)

    def _heads(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], Head]:
        """Fetch the stored current version of each key."""
        by_type: dict[str, list[str]] = {}
        for rtype, rid in keys:
            by_type.setdefault(rtype, []).append(rid)
        heads: dict[tuple[str, str], Head] = {}
        cols = (
            SR.c.id,
            SR.c.resource_type,
            SR.c.resource_id,
            SR.c.version_id,
            SR.c.last_updated,
            SR.c.content_hash,
            SR.c.is_deleted,
        )
        with self.engine.connect() as conn:
            for rtype, ids in by_type.items():
                for chunk in chunks(ids, 500):
                    stmt = select(*cols).where(
                        SR.c.site == self.site,
                        SR.c.resource_type == rtype,
                        SR.c.resource_id.in_(chunk),
                    )
                    for row in conn.execute(stmt):
                        heads[(row.resource_type, row.resource_id)] = Head.of(row)
        return heads

    # -- writing --------------------------------------------------------------------------

    def _write(self, conn: Connection, batch: Batch) -> None:
        """Write one decided batch inside the caller's transaction."""
        quarantine.record(conn, batch.quarantined, site=self.site, run_id=self.run_id)
        records = rowsql.new_records()
        self._write_replaced(conn, batch, records)
        self._write_new(conn, batch, records)
        for table in rowsql.INSERT_ORDER:
            if records.get(table):
                conn.execute(insert(table), records[table])
        self._write_older(conn, batch.older)
        self._touch(conn, batch.touched)
        self._apply_deletions(conn, batch)
        loaded = [c.key for c, _ in batch.new] + [c.key for c, _, _ in batch.replaced]
        quarantine.resolve(
            conn, site=self.site, run_id=self.run_id, resources=loaded, reasons=_LOAD_REASONS
        )

    def _record(self, candidate: Candidate, outcome: str) -> dict[str, Any]:
        """Return the source_record columns of a candidate."""
        item = candidate.item
        return {
            "site": self.site,
            "resource_type": candidate.key[0],
            "resource_id": candidate.key[1],
            "version_id": candidate.version_id,
            "last_updated": candidate.last_updated,
            "content_hash": candidate.content_hash,
            "origin": item.origin,
            "locator": item.locator[:64],
            "fhir_version": item.fhir_version,
            "ingest_run_id": self.run_id,
            "raw": zlib.compress(item.raw, 1),
            "is_deleted": False,
            "deleted_at": None,
            "last_seen_run_id": self.run_id,
            "last_outcome": outcome,
        }

    def _write_new(self, conn: Connection, batch: Batch, records: rowsql.Records) -> None:
        """Insert new source records (ids back in order) and collect their concept rows."""
        if not batch.new:
            return
        stmt = insert(SR).returning(SR.c.id, sort_by_parameter_order=True)
        result = conn.execute(stmt, [self._record(c, "loaded") for c, _ in batch.new])
        for (candidate, rows), record_id in zip(batch.new, result.scalars(), strict=True):
            rowsql.add_records(
                records, rows, record_id=record_id, site=self.site, source_id=candidate.key[1]
            )
            self._count(candidate, "loaded")

    def _write_replaced(self, conn: Connection, batch: Batch, records: rowsql.Records) -> None:
        """Archive the old current versions, update them in place, drop their concept rows."""
        if not batch.replaced:
            return
        ids = [head.id for _, _, head in batch.replaced]
        archive_current(conn, ids, run_id=self.run_id, reason="superseded")
        delete_concepts(conn, ids)
        values = []
        for candidate, rows, head in batch.replaced:
            values.append(self._record(candidate, "updated") | {"_id": head.id})
            rowsql.add_records(
                records, rows, record_id=head.id, site=self.site, source_id=candidate.key[1]
            )
            self._count(candidate, "updated")
        columns: dict[str, Any] = {k: bindparam(k) for k in values[0] if k != "_id"}
        conn.execute(update(SR).where(SR.c.id == bindparam("_id")).values(columns), values)

    def _write_older(self, conn: Connection, older: list[Candidate]) -> None:
        """Keep versions older than the current one in history (nothing is lost)."""
        rows = []
        for candidate in older:
            record = self._record(candidate, "unchanged")
            for key in ("last_seen_run_id", "last_outcome", "deleted_at"):
                record.pop(key)
            rows.append(record | {"archived_run_id": self.run_id, "reason": "older-version"})
        insert_ignore(conn, HISTORY, rows, HISTORY_KEY)

    def _touch(self, conn: Connection, touched: list[tuple[int, str]]) -> None:
        """Mark unchanged records as seen by this run (for post-load accounting)."""
        ids = [record_id for record_id, _ in touched]
        for chunk in chunks(ids, 500):
            conn.execute(
                update(SR)
                .where(SR.c.id.in_(chunk))
                .values(last_seen_run_id=self.run_id, last_outcome="unchanged")
            )

    def _apply_deletions(self, conn: Connection, batch: Batch) -> None:
        """Apply deletion instructions as flags; unknown resources get a tombstone."""
        apply_deletions(
            conn,
            batch.deletions,
            heads=batch.heads,
            site=self.site,
            run_id=self.run_id,
            default_time=self.started,
            counts=self.counts,
        )


# Reasons that a successful load of the same resource makes obsolete.
_LOAD_REASONS = (
    "validation-failed",
    "missing-element",
    "invalid-value",
    "unknown-unit",
    "non-convertible-unit",
    "unmatched-code",
    "conflicting-version",
    "mapping-failed",
)

"""Writing one decided batch: source records, concept rows, history, touches, deletions.

The common case (new resources) goes through `registry.bulkwrite`: ids reserved up front,
source records and concept rows as tuples in one executemany or COPY per table. The rare cases
(a newer version replacing a stored one, older versions kept in history, deletions) use Core.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select, update

from adapter.items import SourceItem
from registry import bulkwrite, quarantine, rowsql, tables
from registry.counts import RunCounts
from registry.deletions import apply_deletions
from registry.prepare import Ready
from registry.quarantine import QuarantineEntry
from registry.records import HISTORY_KEY, archive_current, chunks, delete_concepts
from registry.upsert import insert_ignore
from registry.versions import Head, VersionKey

SR = tables.SOURCE_RECORD
HISTORY = tables.HISTORY
QUARANTINE = tables.QUARANTINE
# Reasons that a successful load of the same resource makes obsolete.
LOAD_REASONS = (
    "validation-failed",
    "missing-element",
    "invalid-value",
    "unknown-unit",
    "non-convertible-unit",
    "unmatched-code",
    "conflicting-version",
    "mapping-failed",
)


@dataclass(slots=True)
class Candidate:
    """A prepared resource of a mapped type, with its identity and version key."""

    ready: Ready
    key: tuple[str, str]
    version: VersionKey


@dataclass(slots=True)
class Batch:
    """What one batch decided, before it is written."""

    quarantined: list[QuarantineEntry] = field(default_factory=list)
    new: list[Candidate] = field(default_factory=list)
    replaced: list[tuple[Candidate, Head]] = field(default_factory=list)
    older: list[Candidate] = field(default_factory=list)
    touched: list[int] = field(default_factory=list)  # ids of unchanged records
    deletions: list[SourceItem] = field(default_factory=list)
    heads: dict[tuple[str, str], Head] = field(default_factory=dict)


@dataclass(slots=True)
class BatchWriter:
    """Writes decided batches of one run inside the caller's transaction."""

    site: str
    run_id: int
    started: datetime
    counts: RunCounts

    def write(self, conn: Connection, batch: Batch) -> None:
        """Write one decided batch."""
        quarantine.record(conn, batch.quarantined, site=self.site, run_id=self.run_id)
        concept: dict[str, list[Any]] = defaultdict(list)
        self._write_replaced(conn, batch, concept)
        self._write_new(conn, batch, concept)
        for table in rowsql.INSERT_ORDER:
            if rows := concept.get(table.name):
                bulkwrite.insert_rows(conn, table.name, rowsql.TABLE_COLUMNS[table.name], rows)
        self._write_older(conn, batch.older)
        self._touch(conn, batch.touched)
        apply_deletions(
            conn,
            batch.deletions,
            heads=batch.heads,
            site=self.site,
            run_id=self.run_id,
            default_time=self.started,
            counts=self.counts,
        )
        loaded = [c.key for c in batch.new] + [c.key for c, _ in batch.replaced]
        if loaded and self._open_load_problems(conn):
            quarantine.resolve(
                conn, site=self.site, run_id=self.run_id, resources=loaded, reasons=LOAD_REASONS
            )

    def _open_load_problems(self, conn: Connection) -> bool:
        """True when the site has open entries that a load resolves (usually none: skip)."""
        stmt = (
            select(QUARANTINE.c.id)
            .where(
                QUARANTINE.c.site == self.site,
                QUARANTINE.c.status == "open",
                QUARANTINE.c.reason_code.in_(LOAD_REASONS),
            )
            .limit(1)
        )
        return conn.execute(stmt).first() is not None

    def _write_new(self, conn: Connection, batch: Batch, concept: dict[str, list[Any]]) -> None:
        """Insert new source records under reserved ids and collect their concept rows."""
        if not batch.new:
            return
        ids = bulkwrite.reserve_ids(
            conn,
            SR.name,
            len(batch.new),
            lock_table=tables.INGEST_RUN.name,
            lock_column=tables.INGEST_RUN.c.status.name,
            lock_id=self.run_id,
        )
        for candidate, record_id in zip(batch.new, ids, strict=True):
            _link(concept, candidate.ready.rows, record_id, with_record=True)
            self.counts.add(candidate.key[0], "loaded")
        records = concept.pop(SR.name, [])
        bulkwrite.insert_rows(conn, SR.name, rowsql.SR_COLUMNS, records)

    def _write_replaced(
        self, conn: Connection, batch: Batch, concept: dict[str, list[Any]]
    ) -> None:
        """Archive the old current versions, update them in place, drop their concept rows."""
        if not batch.replaced:
            return
        ids = [head.id for _, head in batch.replaced]
        archive_current(conn, ids, run_id=self.run_id, reason="superseded")
        delete_concepts(conn, ids)
        values = []
        for candidate, head in batch.replaced:
            values.append(self._record(candidate.ready, "updated") | {"_id": head.id})
            _link(concept, candidate.ready.rows, head.id, with_record=False)
            self.counts.add(candidate.key[0], "updated")
        columns: dict[str, Any] = {k: bindparam(k) for k in values[0] if k != "_id"}
        conn.execute(update(SR).where(SR.c.id == bindparam("_id")).values(columns), values)

    def _record(self, ready: Ready, outcome: str) -> dict[str, Any]:
        """Return the source_record columns of a prepared resource (for Core statements)."""
        return {
            "site": self.site,
            "resource_type": ready.resource_type,
            "resource_id": ready.resource_id,
            "version_id": ready.version_id,
            "last_updated": ready.last_updated,
            "content_hash": ready.content_hash,
            "origin": ready.origin,
            "locator": ready.locator[:64],
            "fhir_version": ready.fhir_version,
            "ingest_run_id": self.run_id,
            "raw": ready.raw_z,
            "is_deleted": False,
            "deleted_at": None,
            "last_seen_run_id": self.run_id,
            "last_outcome": outcome,
        }

    def _write_older(self, conn: Connection, older: list[Candidate]) -> None:
        """Keep versions older than the current one in history (nothing is lost)."""
        rows = []
        for candidate in older:
            record = self._record(candidate.ready, "unchanged")
            for key in ("last_seen_run_id", "last_outcome", "deleted_at"):
                record.pop(key)
            rows.append(record | {"archived_run_id": self.run_id, "reason": "older-version"})
        insert_ignore(conn, HISTORY, rows, HISTORY_KEY)

    def _touch(self, conn: Connection, touched: list[int]) -> None:
        """Mark unchanged records as seen by this run (for post-load accounting)."""
        for chunk in chunks(touched, 500):
            conn.execute(
                update(SR)
                .where(SR.c.id.in_(chunk))
                .values(last_seen_run_id=self.run_id, last_outcome="unchanged")
            )


def _link(
    concept: dict[str, list[Any]],
    rows: rowsql.TableRows | None,
    record_id: int,
    *,
    with_record: bool,
) -> None:
    """Add a resource's rows, its source record's id in front, to the batch's.

    Rows are value tuples, or COPY text lines (bytes) for PostgreSQL (`registry.rowsql`).
    """
    for name, values in (rows or {}).items():
        if name == SR.name and not with_record:
            continue
        if values and isinstance(values[0], bytes):
            concept[name].extend(b"%d\t%s\n" % (record_id, line) for line in values)
        else:
            concept[name].extend((record_id, *value) for value in values)

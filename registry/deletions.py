"""Deletions (a bulk export's `deleted` list, Bundle DELETE entries) applied as flags, not loss.

A deleted resource keeps its source record and raw JSON, flagged `is_deleted`; its concept rows
get `exclusion = 'deleted'`, so outcomes ignore them and an auditor still sees them. A deletion
of a resource the registry has never seen leaves a tombstone, so that an older copy imported
later cannot bring it back (version order, `registry.versions`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import Connection, insert, update

from adapter.fhir import parse_time
from adapter.items import SourceItem
from adapter.mappers import MAPPERS
from registry import rowsql, tables
from registry.counts import RunCounts
from registry.versions import Head

SR = tables.SOURCE_RECORD


def _deleted_at(item: SourceItem, default: datetime) -> datetime:
    """When the deletion happened: entry.response.lastModified, else the run's start."""
    if item.last_modified:
        try:
            return parse_time(item.last_modified).value
        except ValueError:
            return default
    return default


def apply_deletions(
    conn: Connection,
    deletions: list[SourceItem],
    *,
    heads: Mapping[tuple[str, str], Head],
    site: str,
    run_id: int,
    default_time: datetime,
    counts: RunCounts,
) -> None:
    """Flag deleted resources; count each instruction as applied, stale, unknown or repeated."""
    for item in deletions:
        rtype, rid = item.resource_type, item.resource_id
        if rtype not in MAPPERS or not rid:
            counts.deletions["not-mapped"] += 1
            continue
        when = _deleted_at(item, default_time)
        head = heads.get((rtype, rid))
        if head is None:
            _tombstone(conn, item, site=site, run_id=run_id, when=when)
            counts.deletions["tombstone"] += 1
        elif head.is_deleted:
            counts.deletions["already-deleted"] += 1
        elif head.last_updated is not None and head.last_updated > when:
            counts.deletions["stale"] += 1  # the stored version is newer than the deletion
        else:
            conn.execute(
                update(SR)
                .where(SR.c.id == head.id)
                .values(is_deleted=True, deleted_at=when, last_seen_run_id=run_id)
            )
            for table in rowsql.CONCEPT_TABLES:
                if "exclusion" in table.c:
                    link = table.c[rowsql.LINK_COLUMN.get(table.name, "id")]
                    conn.execute(update(table).where(link == head.id).values(exclusion="deleted"))
            counts.deletions["applied"] += 1


def _tombstone(
    conn: Connection, item: SourceItem, *, site: str, run_id: int, when: datetime
) -> None:
    """Store a deletion of an unknown resource, dated, with no content."""
    marker = f"DELETE {item.resource_type}/{item.resource_id}".encode()
    conn.execute(
        insert(SR).values(
            site=site,
            resource_type=item.resource_type,
            resource_id=item.resource_id,
            version_id=None,
            last_updated=when,
            content_hash=hashlib.sha256(marker).hexdigest(),
            origin=item.origin,
            locator=item.locator[:64],
            fhir_version=item.fhir_version,
            ingest_run_id=run_id,
            raw=None,
            is_deleted=True,
            deleted_at=when,
            last_seen_run_id=run_id,
            last_outcome="deleted",
        )
    )

"""Helpers shared by the post-load checks: quarantine entries for stored records."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, select

from registry import quarantine, tables
from registry.quarantine import QuarantineEntry

SR = tables.SOURCE_RECORD
VALID_STATUSES = ("final", "amended", "corrected")


def entries_for(
    conn: Connection,
    record_ids: Iterable[int],
    reason_code: str,
    reason: dict[int, str],
    field_path: str,
) -> dict[int, QuarantineEntry]:
    """Build quarantine entries for stored source records, naming file, resource and field."""
    ids = list(record_ids)
    entries: dict[int, QuarantineEntry] = {}
    cols = (
        SR.c.id,
        SR.c.origin,
        SR.c.locator,
        SR.c.resource_type,
        SR.c.resource_id,
        SR.c.version_id,
        SR.c.content_hash,
    )
    for start in range(0, len(ids), 500):
        for row in conn.execute(select(*cols).where(SR.c.id.in_(ids[start : start + 500]))):
            where = f"{row.origin}, {row.locator}: {row.resource_type}/{row.resource_id}"
            message = f"{where}: {reason[row.id]}"
            entries[row.id] = QuarantineEntry(
                origin=row.origin,
                locator=row.locator,
                reason_code=reason_code,
                reason=message,
                field_path=field_path.format(type=row.resource_type),
                resource_type=row.resource_type,
                resource_id=row.resource_id,
                version_id=row.version_id,
                content_hash=row.content_hash,
            )
    return entries


def replace_open(
    conn: Connection,
    entries: dict[int, QuarantineEntry],
    *,
    site: str,
    run_id: int,
    reason_code: str,
    flagged: dict[int, QuarantineEntry],
) -> None:
    """Record this check's entries and resolve its open entries that no longer hold."""
    quarantine.record(conn, list(entries.values()), site=site, run_id=run_id)
    current = {e.fingerprint(site) for e in entries.values()}
    stale = quarantine.open_fingerprints(conn, site=site, reason_code=reason_code) - current
    quarantine.resolve_fingerprints(conn, stale, run_id=run_id)
    for record_id, entry in entries.items():
        flagged.setdefault(record_id, entry)

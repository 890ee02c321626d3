"""Quarantine: record what could not be mapped, once per problem, with the reason and the raw text.

An entry is identified by a fingerprint of (site, reason, field, resource and content, or file and
line), so a repeated run updates `last_run_id`/`times_seen` instead of adding a duplicate.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, select, update

from registry import rawjson, tables
from registry.upsert import upsert

QUARANTINE = tables.QUARANTINE

# Reasons decided after loading, from the registry as a whole; re-evaluated every run.
POSTLOAD_REASONS = frozenset(
    {"missing-patient", "missing-medication", "no-body-weight", "conflicting-duplicate"}
)


@dataclass(frozen=True, slots=True)
class QuarantineEntry:
    """One quarantined problem, as the loader or post-load checks found it."""

    origin: str
    locator: str
    reason_code: str
    reason: str
    field_path: str | None = None
    resource_type: str | None = None
    resource_id: str | None = None
    version_id: str | None = None
    content_hash: str | None = None
    raw: bytes | None = None

    def fingerprint(self, site: str) -> str:
        """Identify the problem independently of the run that found it."""
        if self.resource_id is not None:
            where = f"{self.resource_type}/{self.resource_id}#{self.content_hash}"
        else:
            digest = hashlib.sha256(self.raw or b"").hexdigest()
            where = f"{self.origin}:{self.locator}:{digest}"
        key = "\x1f".join((site, self.reason_code, self.field_path or "", where))
        return hashlib.sha256(key.encode()).hexdigest()


def located_reason(
    origin: str, locator: str, resource_type: str, resource_id: object, message: str
) -> str:
    """The reason a data manager reads: where (file and line), which resource, and what.

    >>> located_reason("a.ndjson", "line 3", "Observation", "o1", "unknown unit 'mg/dl'")
    "a.ndjson, line 3: Observation/o1: unknown unit 'mg/dl'"
    """
    return f"{origin}, {locator}: {resource_type}/{resource_id}: {message}"


def record(conn: Connection, entries: Sequence[QuarantineEntry], *, site: str, run_id: int) -> None:
    """Insert new entries and refresh the ones seen before (re-opening resolved ones)."""
    if not entries:
        return
    now = datetime.now(UTC)
    rows = {}
    for entry in entries:
        fingerprint = entry.fingerprint(site)
        rows[fingerprint] = {
            "fingerprint": fingerprint,
            "site": site,
            "first_run_id": run_id,
            "last_run_id": run_id,
            "times_seen": 1,
            "origin": entry.origin,
            "locator": entry.locator[:64],
            "resource_type": entry.resource_type,
            "resource_id": entry.resource_id,
            "version_id": entry.version_id,
            "content_hash": entry.content_hash,
            "field_path": (entry.field_path or "")[:255] or None,
            "reason_code": entry.reason_code,
            "reason": entry.reason,
            "raw": rawjson.compress(entry.raw[: 1 << 16]) if entry.raw else None,
            "status": "open",
            "resolved_run_id": None,
            "created_at": now,
            "updated_at": now,
        }
    upsert(
        conn,
        QUARANTINE,
        list(rows.values()),
        keys=("fingerprint",),
        update={
            "last_run_id": run_id,
            "times_seen": QUARANTINE.c.times_seen + 1,
            "status": "open",
            "resolved_run_id": None,
            "updated_at": now,
        },
    )


def resolve(
    conn: Connection,
    *,
    site: str,
    run_id: int,
    resources: Iterable[tuple[str, str]],
    reasons: Iterable[str] | None = None,
) -> int:
    """Mark open entries for these (type, id) resources resolved; return how many."""
    count = 0
    now = datetime.now(UTC)
    by_type: dict[str, list[str]] = {}
    for rtype, rid in resources:
        by_type.setdefault(rtype, []).append(rid)
    for rtype, ids in by_type.items():
        for start in range(0, len(ids), 500):
            stmt = (
                update(QUARANTINE)
                .where(
                    QUARANTINE.c.site == site,
                    QUARANTINE.c.status == "open",
                    QUARANTINE.c.resource_type == rtype,
                    QUARANTINE.c.resource_id.in_(ids[start : start + 500]),
                )
                .values(status="resolved", resolved_run_id=run_id, updated_at=now)
            )
            if reasons is not None:
                stmt = stmt.where(QUARANTINE.c.reason_code.in_(list(reasons)))
            count += conn.execute(stmt).rowcount
    return count


def open_fingerprints(conn: Connection, *, site: str, reason_code: str) -> set[str]:
    """Return the fingerprints of open entries with this reason at this site."""
    stmt = select(QUARANTINE.c.fingerprint).where(
        QUARANTINE.c.site == site,
        QUARANTINE.c.status == "open",
        QUARANTINE.c.reason_code == reason_code,
    )
    return set(conn.scalars(stmt))


def resolve_fingerprints(conn: Connection, fingerprints: Iterable[str], *, run_id: int) -> int:
    """Mark these open entries resolved (the problem no longer holds); return how many."""
    values = list(fingerprints)
    now = datetime.now(UTC)
    count = 0
    for start in range(0, len(values), 500):
        stmt = (
            update(QUARANTINE)
            .where(
                QUARANTINE.c.fingerprint.in_(values[start : start + 500]),
                QUARANTINE.c.status == "open",
            )
            .values(status="resolved", resolved_run_id=run_id, updated_at=now)
        )
        count += conn.execute(stmt).rowcount
    return count

"""What is in a registry: counts per table, recent runs, the quarantine (for `masreg status`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Connection, func, select

from registry import rawjson, reportindexes, tables
from registry.db import Base

RUN = tables.INGEST_RUN
QUARANTINE = tables.QUARANTINE
SR = tables.SOURCE_RECORD


@dataclass(frozen=True, slots=True)
class RunLine:
    """One run as `status` shows it."""

    id: int
    kind: str
    site: str
    status: str
    started_at: str
    finished_at: str | None
    read: int
    loaded: int
    updated: int
    unchanged: int
    quarantined: int
    skipped: int
    source: str


def table_counts(conn: Connection) -> dict[str, int]:
    """Rows per registry table, in schema order."""
    return {
        table.name: int(conn.scalar(select(func.count()).select_from(table)) or 0)
        for table in Base.metadata.sorted_tables
    }


def patients_by_site(conn: Connection) -> dict[str, int]:
    """Patients per site (deleted ones left out)."""
    patient = tables.PATIENT
    stmt = (
        select(patient.c.site, func.count())
        .where(patient.c.exclusion.is_(None))
        .group_by(patient.c.site)
        .order_by(patient.c.site)
    )
    return {site: int(n) for site, n in conn.execute(stmt)}


def recent_runs(conn: Connection, limit: int = 5) -> list[RunLine]:
    """The latest runs, newest first."""
    stmt = select(RUN).order_by(RUN.c.id.desc()).limit(limit)
    return [
        RunLine(
            id=r.id,
            kind=r.kind,
            site=r.site,
            status=r.status,
            started_at=r.started_at.isoformat(timespec="seconds"),
            finished_at=r.finished_at.isoformat(timespec="seconds") if r.finished_at else None,
            read=r.read,
            loaded=r.loaded,
            updated=r.updated,
            unchanged=r.unchanged,
            quarantined=r.quarantined,
            skipped=r.skipped,
            source=r.source,
        )
        for r in conn.execute(stmt)
    ]


def quarantine_summary(conn: Connection) -> dict[str, dict[str, int]]:
    """Quarantine entries per status and reason."""
    stmt = (
        select(QUARANTINE.c.status, QUARANTINE.c.reason_code, func.count())
        .group_by(QUARANTINE.c.status, QUARANTINE.c.reason_code)
        .order_by(QUARANTINE.c.status, QUARANTINE.c.reason_code)
    )
    summary: dict[str, dict[str, int]] = {}
    for status, reason, n in conn.execute(stmt):
        summary.setdefault(status, {})[reason] = int(n)
    return summary


def status_report(conn: Connection) -> dict[str, Any]:
    """Everything `masreg status` shows, as one JSON-ready dict."""
    return {
        "patients_by_site": patients_by_site(conn),
        "tables": table_counts(conn),
        "runs": [asdict(r) for r in recent_runs(conn)],
        "quarantine": quarantine_summary(conn),
        # Report indexes set aside by an import still running or killed before it built them again.
        "missing_indexes": reportindexes.missing(conn),
    }


QUARANTINE_COLUMNS = (
    "id",
    "status",
    "reason_code",
    "reason",
    "origin",
    "locator",
    "resource_type",
    "resource_id",
    "version_id",
    "field_path",
    "times_seen",
    "first_run_id",
    "last_run_id",
    "resolved_run_id",
)


def iter_quarantine(
    conn: Connection,
    *,
    status: str | None = "open",
    reason: str | None = None,
    with_raw: bool = False,
) -> Iterator[dict[str, Any]]:
    """Quarantine entries (optionally one status or reason), oldest first."""
    stmt = select(QUARANTINE).order_by(QUARANTINE.c.id)
    if status is not None:
        stmt = stmt.where(QUARANTINE.c.status == status)
    if reason is not None:
        stmt = stmt.where(QUARANTINE.c.reason_code == reason)
    for row in conn.execute(stmt):
        entry = {c: getattr(row, c) for c in QUARANTINE_COLUMNS}
        if with_raw:
            entry["raw"] = (
                rawjson.decompress(row.raw).decode("utf-8", "replace") if row.raw else None
            )
        yield entry


def run_details(conn: Connection, run_id: int) -> dict[str, Any]:
    """A run's stored details (counts per type, deletions, options)."""
    details = conn.scalar(select(RUN.c.details).where(RUN.c.id == run_id))
    return dict(json.loads(details or "{}"))

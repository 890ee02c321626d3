"""Duplicate results (CLINICAL-SPEC 2): same patient, analyte and instant.

Identical values: one is kept (the lowest resource id), the others get `exclusion = duplicate`.
Different values: all get `exclusion = conflicting-duplicate` and are quarantined, because the
registry cannot tell which one is right. Only results timed to the minute or second are compared:
two results dated only to the same day may be two real draws.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import Connection, Select, func, select, update

from registry import tables
from registry.postload.common import VALID_STATUSES, entries_for, replace_open
from registry.quarantine import QuarantineEntry

OBS = tables.OBSERVATION
SR = tables.SOURCE_RECORD
_FLAGS = ("duplicate", "conflicting-duplicate")


def flag_duplicates(
    conn: Connection, *, site: str, run_id: int, flagged: dict[int, QuarantineEntry]
) -> None:
    """Recompute duplicate flags for a site and quarantine conflicting results."""
    conn.execute(
        update(OBS).where(OBS.c.site == site, OBS.c.exclusion.in_(_FLAGS)).values(exclusion=None)
    )
    by_group: dict[tuple[Any, ...], list[Any]] = defaultdict(list)
    for row in conn.execute(_grouped_rows(site)):
        by_group[(row.patient_source_id, row.analyte, row.effective_at)].append(row)
    duplicate_ids: list[int] = []
    conflict_ids: list[int] = []
    reasons: dict[int, str] = {}
    for (_patient, analyte, when), rows in by_group.items():
        rows.sort(key=lambda r: (r.resource_id, r.component_index or -1))
        if len({(r.value, r.unit) for r in rows}) == 1:
            duplicate_ids.extend(r.id for r in rows[1:])
            continue
        conflict_ids.extend(r.id for r in rows)
        others = ", ".join(f"{r.resource_id}={r.value:g} {r.unit or ''}".strip() for r in rows)
        for r in rows:
            reasons[r.source_record_id] = (
                f"{analyte} at {when.isoformat()} has conflicting values in several results "
                f"({others}); all are excluded from outcomes until corrected"
            )
    for ids, flag in ((duplicate_ids, "duplicate"), (conflict_ids, "conflicting-duplicate")):
        for start in range(0, len(ids), 500):
            conn.execute(
                update(OBS).where(OBS.c.id.in_(ids[start : start + 500])).values(exclusion=flag)
            )
    entries = entries_for(conn, reasons, "conflicting-duplicate", reasons, "Observation.value[x]")
    replace_open(
        conn,
        entries,
        site=site,
        run_id=run_id,
        reason_code="conflicting-duplicate",
        flagged=flagged,
    )


def _grouped_rows(site: str) -> Select[Any]:
    """Eligible results that share patient, analyte and instant with another one.

    One pass with a window count per (patient, analyte, instant); only the rows of groups of two
    or more are joined to their source records.
    """
    eligible = (
        OBS.c.site == site,
        OBS.c.analyte.is_not(None),
        OBS.c.exclusion.is_(None),
        OBS.c.derivation.is_(None),
        OBS.c.status.in_(VALID_STATUSES),
        OBS.c.effective_precision.in_(("minute", "second")),
        OBS.c.value.is_not(None),
    )
    partition = (OBS.c.patient_source_id, OBS.c.analyte, OBS.c.effective_at)
    columns: tuple[str, ...] = ("id", "source_record_id", "value", "unit", "patient_source_id")
    columns += ("analyte", "effective_at", "component_index")
    counted = (
        select(
            *(OBS.c[name] for name in columns),
            func.count().over(partition_by=partition).label("n"),
        )
        .where(*eligible)
        .subquery()
    )
    selected = [counted.c[name] for name in columns]
    return (
        select(*selected, SR.c.resource_id)
        .join(SR, SR.c.id == counted.c.source_record_id)
        .where(counted.c.n > 1)
    )

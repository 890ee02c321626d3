"""Medication references and mg/kg doses, resolved once the registry holds what they need.

A referenced Medication may arrive in another file or run than the administration or order that
names it: such rows are re-mapped from their raw JSON when it does (`missing-medication` until
then). A mg/kg dose becomes mg with the latest body weight (LOINC 29463-7) within the 30 days
before the dose (CLINICAL-SPEC 4.3.3; `no-body-weight` until there is one).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from fractions import Fraction
from typing import Any

import orjson
from sqlalchemy import Connection, Table, bindparam, insert, select, update

from adapter.errors import MappingError
from adapter.jsontext import parse_json
from adapter.mappers import UNRESOLVED, MappingContext, map_resource
from registry import quarantine, rawjson, rowsql, tables
from registry.postload.common import entries_for, replace_open
from registry.postload.weights import WeightIndex
from registry.quarantine import QuarantineEntry, located_reason
from registry.records import delete_concepts

SR = tables.SOURCE_RECORD
MED = tables.MEDICATION
NO_WEIGHT = "no body weight within 30 d for mg/kg dose"
MA = tables.MEDICATION_ADMINISTRATION
ORDER = tables.MEDICATION_ORDER
DOSE = tables.MEDICATION_ORDER_DOSE


class _Resolver:
    """A one-entry Bundle stand-in: resolves `Medication/<id>` to the stored Medication."""

    medication_source = "reference"  # the row says: resolved from the registry, not a Bundle

    def __init__(self, reference: str, medication: Mapping[str, Any]) -> None:
        self.reference = reference
        self.medication = medication

    def resolve(self, reference: str) -> Mapping[str, Any] | None:
        return self.medication if reference.endswith(self.reference) else None

    def canonical_ref(self, reference: str) -> str | None:
        return self.reference if reference.endswith(self.reference) else None


def _raw(conn: Connection, record_id: int) -> dict[str, Any]:
    """Load a stored resource's JSON."""
    data = conn.scalar(select(SR.c.raw).where(SR.c.id == record_id))
    if data is None:  # pragma: no cover - only tombstones have no raw, and they have no rows
        raise ValueError(f"source record {record_id} has no stored content")
    return dict(parse_json(rawjson.decompress(data)))


def resolve_medications(
    conn: Connection,
    *,
    site: str,
    run_id: int,
    context: MappingContext,
    flagged: dict[int, QuarantineEntry],
) -> int:
    """Re-map rows whose Medication is now stored; quarantine those still missing."""
    resolved = 0
    missing: dict[int, str] = {}
    mapping_errors: list[QuarantineEntry] = []
    for table in (MA, ORDER):
        stmt = select(table.c.id, table.c.medication_ref).where(
            table.c.site == site, table.c.drug_class == UNRESOLVED
        )
        for record_id, reference in list(conn.execute(stmt)):
            med_id = conn.scalar(
                select(MED.c.id).where(
                    MED.c.site == site, MED.c.source_id == reference.split("/")[-1]
                )
            )
            if med_id is None:
                missing[record_id] = (
                    f"its medication {reference} is not in the registry for site {site!r}; "
                    "its drug and dose cannot be classified until that Medication is imported"
                )
                continue
            error = _remap(conn, record_id, reference, _raw(conn, med_id), site, context)
            if error is None:
                resolved += 1
            else:
                mapping_errors.append(error)
    entries = entries_for(conn, missing, "missing-medication", missing, "{type}.medication")
    replace_open(
        conn, entries, site=site, run_id=run_id, reason_code="missing-medication", flagged=flagged
    )
    quarantine.record(conn, mapping_errors, site=site, run_id=run_id)
    return resolved


def _remap(
    conn: Connection,
    record_id: int,
    reference: str,
    medication: Mapping[str, Any],
    site: str,
    context: MappingContext,
) -> QuarantineEntry | None:
    """Re-map one stored resource with its Medication available; replace its concept rows."""
    row = conn.execute(select(SR).where(SR.c.id == record_id)).one()
    resource = _raw(conn, record_id)
    ctx = context.with_source(row.fhir_version, _Resolver(reference, medication))
    try:
        rows = map_resource(resource, ctx)
    except MappingError as exc:
        delete_concepts(conn, [record_id])
        return QuarantineEntry(
            origin=row.origin,
            locator=row.locator,
            reason_code=exc.reason_code,
            reason=located_reason(
                row.origin, row.locator, row.resource_type, row.resource_id, exc.message
            ),
            field_path=exc.field_path,
            resource_type=row.resource_type,
            resource_id=row.resource_id,
            version_id=row.version_id,
            content_hash=row.content_hash,
            raw=orjson.dumps(resource, default=str),
        )
    delete_concepts(conn, [record_id])
    records = rowsql.new_records()
    rowsql.add_records(records, rows, record_id=record_id, site=site, source_id=row.resource_id)
    for table in rowsql.INSERT_ORDER:
        if records.get(table):
            conn.execute(insert(table), records[table])
    return None


def apply_body_weights(
    conn: Connection, *, site: str, run_id: int, flagged: dict[int, QuarantineEntry]
) -> int:
    """Turn mg/kg doses into mg with a body weight from the 30 days before the dose."""
    missing: dict[int, str] = {}
    columns = ("id", "patient_source_id", "effective_at", "dose_mg_per_kg", "prednisone_factor")
    pending = select(*(MA.c[name] for name in columns)).where(
        MA.c.site == site,
        MA.c.dose_mg_per_kg.is_not(None),
        MA.c.body_weight_observation_id.is_(None),
    )
    rows = list(conn.execute(pending))
    weights = WeightIndex(conn, site, (row.patient_source_id for row in rows))
    changes = []
    for row in rows:
        weight = weights.latest(row.patient_source_id, row.effective_at)
        if weight is None:
            missing[row.id] = NO_WEIGHT
            continue
        mg = _times(row.dose_mg_per_kg, weight.value)
        changes.append(
            {
                "_id": row.id,
                "dose_mg": mg,
                "body_weight_kg": weight.value,
                "body_weight_observation_id": weight.id,
                "prednisone_eq_mg": rowsql.prednisone_eq(mg, row.prednisone_factor),
            }
        )
    _update_by_id(conn, MA, changes)
    weighed = len(changes) + _weigh_order_doses(conn, site, missing)
    entries = entries_for(conn, missing, "no-body-weight", missing, "{type}.dosage")
    replace_open(
        conn, entries, site=site, run_id=run_id, reason_code="no-body-weight", flagged=flagged
    )
    return weighed


def _weigh_order_doses(conn: Connection, site: str, missing: dict[int, str]) -> int:
    """The same for mg/kg dosage instructions of requests and statements."""
    dose_columns = (DOSE.c.id, DOSE.c.order_id, DOSE.c.dose_mg_per_kg, DOSE.c.per_day)
    order_columns = (ORDER.c.patient_source_id, ORDER.c.authored_at, ORDER.c.effective_start)
    stmt = (
        select(*dose_columns, DOSE.c.bounds_start, *order_columns)
        .join(ORDER, ORDER.c.id == DOSE.c.order_id)
        .where(
            ORDER.c.site == site,
            DOSE.c.dose_mg_per_kg.is_not(None),
            DOSE.c.body_weight_observation_id.is_(None),
        )
    )
    rows = list(conn.execute(stmt))
    weights = WeightIndex(conn, site, (row.patient_source_id for row in rows))
    changes = []
    for row in rows:
        when = row.bounds_start or row.authored_at or row.effective_start
        weight = weights.latest(row.patient_source_id, when) if when else None
        if weight is None:
            missing[row.order_id] = NO_WEIGHT
            continue
        mg = _times(row.dose_mg_per_kg, weight.value)
        daily = float(Fraction(Decimal(repr(mg))) * Fraction(row.per_day)) if row.per_day else None
        changes.append(
            {
                "_id": row.id,
                "dose_mg": mg,
                "daily_dose_mg": daily,
                "body_weight_kg": weight.value,
                "body_weight_observation_id": weight.id,
            }
        )
    _update_by_id(conn, DOSE, changes)
    return len(changes)


def _update_by_id(conn: Connection, table: Table, changes: list[dict[str, Any]]) -> None:
    """Apply per-row changes (each with its row's `_id`) in one executemany."""
    if changes:
        columns: dict[str, Any] = {k: bindparam(k) for k in changes[0] if k != "_id"}
        conn.execute(update(table).where(table.c.id == bindparam("_id")).values(columns), changes)


def _times(per_kg: float, kg: float) -> float:
    """mg/kg x kg, exactly from the stored decimals."""
    return float(Fraction(Decimal(repr(per_kg))) * Fraction(Decimal(repr(kg))))

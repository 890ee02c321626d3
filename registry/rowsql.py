"""Turn mapper rows into table records: the one place that knows which row goes to which table."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import fields
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy import Table

from adapter.rows import (
    AdverseEventRow,
    ConditionRow,
    DiagnosticReportRow,
    DrugMatch,
    EncounterRow,
    GroupMemberRow,
    MedicationAdministrationRow,
    MedicationOrderRow,
    MedicationRow,
    ObservationRow,
    PatientRow,
    Row,
)
from registry import models, tables

PATIENT_ID = "patient_source_id"

# The tables a source record's concept rows live in, children before parents for deletion.
CONCEPT_TABLES: tuple[Table, ...] = tuple(
    tables.table_of(m)
    for m in (
        models.AdverseEventCriterion,
        models.AdverseEvent,
        models.MedicationOrderDose,
        models.MedicationOrder,
        models.MedicationAdministration,
        models.Medication,
        models.GroupMember,
        models.Observation,
        models.DiagnosticReport,
        models.Encounter,
        models.Condition,
        models.Patient,
    )
)

Records = dict[Table, list[dict[str, Any]]]

# The column that ties a concept table's rows to their source record (default: `id`).
LINK_COLUMN = {
    "observation": "source_record_id",
    "group_member": "group_id",
    "adverse_event_criterion": "adverse_event_id",
    "medication_order_dose": "order_id",
}


def prednisone_eq(dose_mg: float | None, factor: str | None) -> float | None:
    """Prednisone-equivalent mg = dose x exact factor (CLINICAL-SPEC 4.2), rounded for storage."""
    if dose_mg is None or factor is None:
        return None
    return float(Fraction(Decimal(repr(dose_mg))) * Fraction(factor))


def _drug(drug: DrugMatch) -> dict[str, Any]:
    """Flatten a DrugMatch into the shared drug columns."""
    return {
        "ingredient": drug.ingredient,
        "ingredient_match": drug.match_path,
        "drug_class": drug.drug_class,
        "drug_code_system": drug.code_system,
        "drug_code": drug.code,
        "drug_text": drug.text,
    }


def _plain(row: Any, *, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """Return a row's fields as a dict, renaming patient_id and leaving out `skip`."""
    data = {f.name: getattr(row, f.name) for f in fields(row) if f.name not in skip}
    if "patient_id" in data:
        data[PATIENT_ID] = data.pop("patient_id")
    return data


def add_records(
    out: Records, rows: Iterable[Row], *, record_id: int, site: str, source_id: str
) -> None:
    """Append the table records of one source record's rows to `out`."""
    base = {"site": site}
    for row in rows:
        if isinstance(row, ObservationRow):
            data = _plain(row) | base | {"source_record_id": record_id}
            out[tables.OBSERVATION].append(data)
        elif isinstance(row, GroupMemberRow):
            data = _plain(row) | base | {"group_id": record_id}
            out[tables.GROUP_MEMBER].append(data)
        elif isinstance(row, PatientRow):
            data = _plain(row) | base | {"id": record_id, "source_id": source_id}
            out[tables.PATIENT].append(data)
        elif isinstance(row, MedicationRow):
            data = _plain(row, skip=("drug",)) | _drug(row.drug)
            data |= base | {"id": record_id, "source_id": source_id}
            out[tables.MEDICATION].append(data)
        elif isinstance(row, MedicationAdministrationRow):
            data = _plain(row, skip=("drug",)) | _drug(row.drug) | base | {"id": record_id}
            data["prednisone_eq_mg"] = prednisone_eq(row.dose_mg, row.prednisone_factor)
            data["body_weight_kg"] = data["body_weight_observation_id"] = None
            out[tables.MEDICATION_ADMINISTRATION].append(data)
        elif isinstance(row, MedicationOrderRow):
            data = _plain(row, skip=("drug", "doses")) | _drug(row.drug) | base | {"id": record_id}
            out[tables.MEDICATION_ORDER].append(data)
            for dose in row.doses:
                dose_data = _plain(dose) | {"order_id": record_id}
                dose_data["body_weight_kg"] = dose_data["body_weight_observation_id"] = None
                out[tables.MEDICATION_ORDER_DOSE].append(dose_data)
        elif isinstance(row, AdverseEventRow):
            data = _plain(row, skip=("seriousness_criteria",)) | base | {"id": record_id}
            data["resulting_conditions"] = " ".join(row.resulting_conditions) or None
            out[tables.ADVERSE_EVENT].append(data)
            for criterion in row.seriousness_criteria:
                criterion_data = {"adverse_event_id": record_id, "criterion": criterion}
                out[tables.ADVERSE_EVENT_CRITERION].append(criterion_data)
        elif isinstance(row, ConditionRow | EncounterRow | DiagnosticReportRow):
            table = _SIMPLE[type(row)]
            out[table].append(_plain(row) | base | {"id": record_id})
        else:  # pragma: no cover - a new row type must be wired here
            raise TypeError(f"no table for {type(row).__name__}")


_SIMPLE: dict[type, Table] = {
    ConditionRow: tables.CONDITION,
    EncounterRow: tables.ENCOUNTER,
    DiagnosticReportRow: tables.DIAGNOSTIC_REPORT,
}


def new_records() -> Records:
    """Return an empty table -> records mapping."""
    return defaultdict(list)


# Insert order: parents before children (foreign keys).
INSERT_ORDER: tuple[Table, ...] = tuple(reversed(CONCEPT_TABLES))

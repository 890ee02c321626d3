"""Turn mapper rows into table records: the one place that knows which row goes to which table.

Each row type has a `TableSpec`: its table, the column that links its rows to their source
record (`link`, first), and the other columns in a fixed order. `flatten` turns one resource's
rows into plain tuples of the other columns, ready for an executemany or a COPY once the link
value (the source record's id) is put in front; it runs in the worker processes of an import.
For SQLite, datetimes and dates are written as SQLAlchemy's SQLite types store them (UTC text),
so rows inserted here and through Core read back alike; PostgreSQL takes them as they are.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from decimal import Decimal
from fractions import Fraction
from operator import attrgetter
from typing import Any

from sqlalchemy import Date, Table

from adapter.rows import (
    AdverseEventRow,
    ConditionRow,
    DiagnosticReportRow,
    EncounterRow,
    GroupMemberRow,
    MedicationAdministrationRow,
    MedicationOrderDoseRow,
    MedicationOrderRow,
    MedicationRow,
    ObservationRow,
    PatientRow,
    Row,
)
from registry import copytext, models, tables
from registry.sqlitetext import sqlite_date, sqlite_datetime
from registry.types import UTCDateTime

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
# Insert order: parents before children (foreign keys).
INSERT_ORDER: tuple[Table, ...] = tuple(reversed(CONCEPT_TABLES))

Records = dict[Table, list[dict[str, Any]]]
# Table name -> rows without the link column, as `flatten` writes them.
TableRows = dict[str, list[Any]]

# The column that ties a concept table's rows to their source record (default: `id`).
LINK_COLUMN = {
    "observation": "source_record_id",
    "group_member": "group_id",
    "adverse_event_criterion": "adverse_event_id",
    "medication_order_dose": "order_id",
}
_DRUG_COLUMNS = (
    "ingredient",
    "ingredient_match",
    "drug_class",
    "drug_code_system",
    "drug_code",
    "drug_text",
)
_drug_values = attrgetter("ingredient", "match_path", "drug_class", "code_system", "code", "text")


@functools.lru_cache(maxsize=4096)
def prednisone_eq(dose_mg: float | None, factor: str | None) -> float | None:
    """Prednisone-equivalent mg = dose x exact factor (CLINICAL-SPEC 4.2), rounded for storage."""
    if dose_mg is None or factor is None:
        return None
    return float(Fraction(Decimal(repr(dose_mg))) * Fraction(factor))


@dataclass(frozen=True, slots=True)
class TableSpec:
    """How one row type fills its table: link column first, then `columns`, from `values`."""

    table: Table
    link: str
    columns: tuple[str, ...]
    values: Callable[[Any, str, str], tuple[Any, ...]]  # (row, site, source_id) -> values

    @property
    def insert_columns(self) -> tuple[str, ...]:
        """Every column an insert names, the link first."""
        return (self.link, *self.columns)


def _spec(
    row_type: type,
    table: Table,
    *,
    head: tuple[str, ...] = ("site",),
    skip: tuple[str, ...] = (),
    tail: tuple[str, ...] = (),
    extra: Callable[[Any], tuple[Any, ...]] | None = None,
) -> TableSpec:
    """A spec whose columns are `head`, the row's fields (but `skip`), then `tail` from `extra`.

    `head` may name "site" and "source_id", filled from the arguments of `values`.
    """
    names = tuple(f.name for f in fields(row_type) if f.name not in skip)
    getter = attrgetter(*names)
    if head not in ((), ("site",), ("site", "source_id")):
        raise ValueError(f"unknown head columns {head}")

    def values(row: Any, site: str, source_id: str) -> tuple[Any, ...]:
        start = (site, source_id)[: len(head)]
        more = extra(row) if extra is not None else ()
        return (*start, *getter(row), *more)

    columns = (*head, *(PATIENT_ID if n == "patient_id" else n for n in names), *tail)
    return TableSpec(table, LINK_COLUMN.get(table.name, "id"), columns, values)


def _administration_extra(row: MedicationAdministrationRow) -> tuple[Any, ...]:
    eq = prednisone_eq(row.dose_mg, row.prednisone_factor)
    return (*_drug_values(row.drug), eq, None, None)


def _adverse_event_extra(row: AdverseEventRow) -> tuple[Any, ...]:
    return (" ".join(row.resulting_conditions) or None,)


def _drug_extra(row: Any) -> tuple[Any, ...]:
    return tuple(_drug_values(row.drug))


SPECS: dict[type, TableSpec] = {
    ObservationRow: _spec(ObservationRow, tables.OBSERVATION),
    GroupMemberRow: _spec(GroupMemberRow, tables.GROUP_MEMBER),
    PatientRow: _spec(PatientRow, tables.PATIENT, head=("site", "source_id")),
    MedicationRow: _spec(
        MedicationRow,
        tables.MEDICATION,
        head=("site", "source_id"),
        skip=("drug",),
        tail=_DRUG_COLUMNS,
        extra=_drug_extra,
    ),
    MedicationAdministrationRow: _spec(
        MedicationAdministrationRow,
        tables.MEDICATION_ADMINISTRATION,
        skip=("drug",),
        tail=(*_DRUG_COLUMNS, "prednisone_eq_mg", "body_weight_kg", "body_weight_observation_id"),
        extra=_administration_extra,
    ),
    MedicationOrderRow: _spec(
        MedicationOrderRow,
        tables.MEDICATION_ORDER,
        skip=("drug", "doses"),
        tail=_DRUG_COLUMNS,
        extra=_drug_extra,
    ),
    MedicationOrderDoseRow: _spec(
        MedicationOrderDoseRow,
        tables.MEDICATION_ORDER_DOSE,
        head=(),
        tail=("body_weight_kg", "body_weight_observation_id"),
        extra=lambda _row: (None, None),
    ),
    AdverseEventRow: _spec(
        AdverseEventRow,
        tables.ADVERSE_EVENT,
        skip=("seriousness_criteria", "resulting_conditions"),
        tail=("resulting_conditions",),
        extra=_adverse_event_extra,
    ),
    ConditionRow: _spec(ConditionRow, tables.CONDITION),
    EncounterRow: _spec(EncounterRow, tables.ENCOUNTER),
    DiagnosticReportRow: _spec(DiagnosticReportRow, tables.DIAGNOSTIC_REPORT),
}
CRITERION_COLUMNS = ("adverse_event_id", "criterion")
# The source_record columns of an insert, its id (the link of every concept row) first.
SR_COLUMNS = (
    "id",
    "site",
    "resource_type",
    "resource_id",
    "version_id",
    "last_updated",
    "content_hash",
    "origin",
    "locator",
    "fhir_version",
    "ingest_run_id",
    "raw",
    "is_deleted",
    "deleted_at",
    "last_seen_run_id",
    "last_outcome",
)
TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    spec.table.name: spec.insert_columns for spec in SPECS.values()
} | {tables.ADVERSE_EVENT_CRITERION.name: CRITERION_COLUMNS}


Converters = tuple[tuple[int, Callable[..., Any]], ...]


def _converters(columns: tuple[str, ...], table: Table) -> Converters:
    """(position, converter) of the datetime and date columns among `columns`."""
    found: list[tuple[int, Callable[..., Any]]] = []
    for position, name in enumerate(columns):
        column_type = table.c[name].type
        if isinstance(column_type, UTCDateTime):
            found.append((position, sqlite_datetime))
        elif isinstance(column_type, Date):
            found.append((position, sqlite_date))
    return tuple(found)


_SQLITE: dict[str, Converters] = {
    spec.table.name: _converters(spec.columns, spec.table) for spec in SPECS.values()
} | {tables.SOURCE_RECORD.name: _converters(SR_COLUMNS[1:], tables.SOURCE_RECORD)}


def flatten(rows: Iterable[Row], *, site: str, source_id: str, dialect: str | None) -> TableRows:
    """The table rows (link column left out) of one resource's mapper rows.

    `dialect` says how: "sqlite", value tuples with SQLite's datetime text; "postgresql", COPY
    text lines (`registry.copytext`); None, value tuples as they are (for Core statements).

    Raises:
        TypeError: a row type that no table takes (a new row type must be wired in `SPECS`).
    """
    out: TableRows = {}
    for row in rows:
        _add(out, row, site, source_id, dialect)
        if isinstance(row, MedicationOrderRow):
            for dose in row.doses:
                _add(out, dose, site, source_id, dialect)
        elif isinstance(row, AdverseEventRow):
            name = tables.ADVERSE_EVENT_CRITERION.name
            for criterion in row.seriousness_criteria:
                out.setdefault(name, []).append(encode((criterion,), name, dialect))
    return out


def _add(out: TableRows, row: Any, site: str, source_id: str, dialect: str | None) -> None:
    spec = SPECS.get(type(row))
    if spec is None:
        raise TypeError(f"no table for {type(row).__name__}")
    values = spec.values(row, site, source_id)
    out.setdefault(spec.table.name, []).append(encode(values, spec.table.name, dialect))


def encode(values: tuple[Any, ...], table: str, dialect: str | None) -> Any:
    """One row's values as `flatten` hands them out for `dialect` (see there)."""
    if dialect == "postgresql":
        return copytext.line(values)
    if dialect == "sqlite" and (converters := _SQLITE.get(table)):
        converted = list(values)
        for position, convert in converters:
            converted[position] = convert(converted[position])
        return tuple(converted)
    return values


def add_records(
    out: Records, rows: Iterable[Row], *, record_id: int, site: str, source_id: str
) -> None:
    """Append the table records (dicts, for Core inserts) of one source record's rows to `out`."""
    by_name = {table.name: table for table in CONCEPT_TABLES}
    for name, values in flatten(rows, site=site, source_id=source_id, dialect=None).items():
        columns = TABLE_COLUMNS[name]
        out[by_name[name]].extend(dict(zip(columns, (record_id, *v), strict=True)) for v in values)


def new_records() -> Records:
    """Return an empty table -> records mapping."""
    return defaultdict(list)

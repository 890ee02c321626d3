"""Clinical concept tables: patients, conditions, encounters, laboratory and vital observations."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from sqlalchemy import Date, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from registry.db import Base

str16 = Annotated[str, mapped_column(String(16))]
str64 = Annotated[str, mapped_column(String(64))]
str255 = Annotated[str, mapped_column(String(255))]


class FromSourceRecord:
    """A concept row that is one source resource: it shares the source record's id."""

    id: Mapped[int] = mapped_column(
        ForeignKey("source_record.id", ondelete="CASCADE"), primary_key=True
    )
    site: Mapped[str64]
    # entered-in-error | cancelled | not-done | deleted: kept, flagged, excluded from outcomes.
    exclusion: Mapped[str | None] = mapped_column(String(32))


class AboutPatient(FromSourceRecord):
    """A concept row about one patient of a site."""

    patient_source_id: Mapped[str64]

    @declared_attr.directive
    def __table_args__(cls) -> tuple[Index, ...]:
        """Index every patient-scoped table by (site, patient)."""
        return (Index(None, "site", "patient_source_id"),)


class Patient(FromSourceRecord, Base):
    """A patient: sex, birth date with its precision, deceased. No names or identifiers."""

    __tablename__ = "patient"
    __table_args__ = (Index(None, "site", "source_id", unique=True),)

    source_id: Mapped[str64]
    sex: Mapped[str16 | None]
    birth_date: Mapped[date | None] = mapped_column(Date)
    birth_date_precision: Mapped[str16 | None]
    deceased: Mapped[bool | None]
    deceased_at: Mapped[datetime | None]
    deceased_precision: Mapped[str16 | None]


class Condition(AboutPatient, Base):
    """A diagnosis: underlying disease, MAS/HLH, infection, or other (CLINICAL-SPEC 6.5-6.6)."""

    __tablename__ = "condition"

    category: Mapped[str] = mapped_column(String(32))
    concept: Mapped[str | None] = mapped_column(String(32), index=True)
    match_path: Mapped[str16 | None]
    code_system: Mapped[str255 | None]
    code: Mapped[str64 | None]
    code_display: Mapped[str | None] = mapped_column(Text)
    code_text: Mapped[str | None] = mapped_column(Text)
    clinical_status: Mapped[str | None] = mapped_column(String(32))
    verification_status: Mapped[str | None] = mapped_column(String(32))
    onset_at: Mapped[datetime | None]
    onset_precision: Mapped[str16 | None]
    abatement_at: Mapped[datetime | None]
    abatement_precision: Mapped[str16 | None]
    recorded_at: Mapped[datetime | None]


class Encounter(AboutPatient, Base):
    """An encounter; the end of its period can define the end of follow-up."""

    __tablename__ = "encounter"

    status: Mapped[str | None] = mapped_column(String(32))
    class_code: Mapped[str | None] = mapped_column(String(32))
    period_start: Mapped[datetime | None]
    period_start_precision: Mapped[str16 | None]
    period_end: Mapped[datetime | None]
    period_end_precision: Mapped[str16 | None]


class DiagnosticReport(AboutPatient, Base):
    """A report grouping results of one specimen."""

    __tablename__ = "diagnostic_report"

    status: Mapped[str] = mapped_column(String(32))
    code_system: Mapped[str255 | None]
    code: Mapped[str64 | None]
    code_text: Mapped[str | None] = mapped_column(Text)
    effective_at: Mapped[datetime | None]
    effective_precision: Mapped[str16 | None]
    issued_at: Mapped[datetime | None]


class GroupMember(Base):
    """A result grouped by a panel (hasMember) or a DiagnosticReport (result)."""

    __tablename__ = "group_member"

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(
        ForeignKey("source_record.id", ondelete="CASCADE"), index=True
    )
    site: Mapped[str64]
    member_type: Mapped[str64]
    member_id: Mapped[str64]


class Observation(Base):
    """One observed value in the analyte's canonical unit, with the original kept (6.1-6.4)."""

    __tablename__ = "observation"
    __table_args__ = (
        # Covering for the report's passes over every value of a patient (end of follow-up, the
        # per-window selection): read in (patient, analyte, time) order without the table rows.
        Index(
            "ix_observation_patient_values",
            "site",
            "patient_source_id",
            "analyte",
            "effective_at",
            "effective_precision",
            "status",
            "exclusion",
            "value",
        ),
        # The few date-only values, which the report reads apart (study days by local date).
        Index(
            "ix_observation_date_only",
            "site",
            "patient_source_id",
            "analyte",
            "effective_at",
            sqlite_where=text("effective_precision IN ('year', 'month', 'day')"),
            postgresql_where=text("effective_precision IN ('year', 'month', 'day')"),
        ),
        Index(None, "analyte", "effective_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source_record_id: Mapped[int] = mapped_column(
        ForeignKey("source_record.id", ondelete="CASCADE"), index=True
    )
    site: Mapped[str64]
    patient_source_id: Mapped[str64]
    component_index: Mapped[int | None]
    analyte: Mapped[str | None] = mapped_column(String(32))
    analyte_match: Mapped[str16 | None]
    code_system: Mapped[str255 | None]
    code: Mapped[str64 | None]
    code_display: Mapped[str | None] = mapped_column(Text)
    code_text: Mapped[str | None] = mapped_column(Text)
    category: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(32))
    value: Mapped[float | None]
    unit: Mapped[str | None] = mapped_column(String(32))
    value_original: Mapped[str | None] = mapped_column(String(64))
    unit_original: Mapped[str | None] = mapped_column(String(64))
    unit_code_original: Mapped[str | None] = mapped_column(String(64))
    unit_system_original: Mapped[str | None] = mapped_column(String(255))
    comparator: Mapped[str | None] = mapped_column(String(4))
    conversion: Mapped[str | None] = mapped_column(String(128))
    value_string: Mapped[str | None] = mapped_column(Text)
    value_code_system: Mapped[str255 | None]
    value_code: Mapped[str64 | None]
    value_code_display: Mapped[str | None] = mapped_column(Text)
    interpretation: Mapped[str | None] = mapped_column(String(64))
    reference_low: Mapped[float | None]
    reference_high: Mapped[float | None]
    reference_text: Mapped[str | None] = mapped_column(Text)
    specimen: Mapped[str | None] = mapped_column(Text)
    effective_at: Mapped[datetime | None]
    effective_precision: Mapped[str16 | None]
    effective_end_at: Mapped[datetime | None]
    issued_at: Mapped[datetime | None]
    exclusion: Mapped[str | None] = mapped_column(String(32))
    derivation: Mapped[str | None] = mapped_column(String(64))  # e.g. ANC = WBC x neutrophil% / 100
    derived_from_id: Mapped[int | None] = mapped_column(
        ForeignKey("observation.id", ondelete="CASCADE"), index=True
    )
    derived_from_other_id: Mapped[int | None] = mapped_column(
        ForeignKey("observation.id", ondelete="CASCADE"), index=True
    )

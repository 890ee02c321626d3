"""Medication tables: Medication resources, administrations, and requests/statements with doses."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from registry.db import Base
from registry.models.clinical import AboutPatient, FromSourceRecord

str16 = Annotated[str, mapped_column(String(16))]
str32 = Annotated[str, mapped_column(String(32))]
str64 = Annotated[str, mapped_column(String(64))]
str255 = Annotated[str, mapped_column(String(255))]


class DrugColumns:
    """How the drug was identified (CLINICAL-SPEC 4.4), shared by every medication table."""

    ingredient: Mapped[str | None] = mapped_column(String(64), index=True)
    ingredient_match: Mapped[str16 | None]  # rxnorm_in | rxnorm_table | atc | name
    drug_class: Mapped[
        str32
    ]  # emapalumab | glucocorticoid | other_mas_therapy | other | unresolved
    drug_code_system: Mapped[str255 | None]
    drug_code: Mapped[str64 | None]
    drug_text: Mapped[str | None] = mapped_column(Text)


class Medication(DrugColumns, FromSourceRecord, Base):
    """A Medication resource, resolved by the administrations and orders that reference it."""

    __tablename__ = "medication"
    __table_args__ = (Index(None, "site", "source_id", unique=True),)

    source_id: Mapped[str64]
    strength_mg_per_unit: Mapped[float | None]
    form: Mapped[str | None] = mapped_column(Text)


class MedicationAdministration(DrugColumns, AboutPatient, Base):
    """One administration; glucocorticoids carry their prednisone-equivalent mg (4.2-4.3)."""

    __tablename__ = "medication_administration"

    status: Mapped[str32]
    medication_source: Mapped[str16]  # concept | contained | bundle | reference
    medication_ref: Mapped[str | None] = mapped_column(String(80))
    dose_value_original: Mapped[str | None] = mapped_column(String(64))
    dose_unit_original: Mapped[str | None] = mapped_column(String(64))
    dose_mg: Mapped[float | None]
    dose_mg_per_kg: Mapped[float | None]
    body_weight_kg: Mapped[float | None]  # applied to a mg/kg dose
    body_weight_observation_id: Mapped[int | None] = mapped_column(
        ForeignKey("observation.id", ondelete="SET NULL")
    )
    route_code: Mapped[str64 | None]
    route_text: Mapped[str | None] = mapped_column(Text)
    route_class: Mapped[str16]
    effective_at: Mapped[datetime]
    effective_precision: Mapped[str16]
    effective_end_at: Mapped[datetime | None]
    prednisone_factor: Mapped[str16 | None]  # exact fraction, e.g. "20/3"
    prednisone_eq_mg: Mapped[float | None]


class MedicationOrder(DrugColumns, AboutPatient, Base):
    """A MedicationRequest (kind=request) or MedicationStatement (kind=statement)."""

    __tablename__ = "medication_order"

    kind: Mapped[str16]
    status: Mapped[str32]
    intent: Mapped[str32 | None]
    medication_source: Mapped[str16]
    medication_ref: Mapped[str | None] = mapped_column(String(80))
    authored_at: Mapped[datetime | None]
    effective_start: Mapped[datetime | None]
    effective_end: Mapped[datetime | None]
    effective_precision: Mapped[str16 | None]
    prednisone_factor: Mapped[str16 | None]


class MedicationOrderDose(Base):
    """One dosage instruction of an order; a taper has one per step with its bounds."""

    __tablename__ = "medication_order_dose"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(
        ForeignKey("medication_order.id", ondelete="CASCADE"), index=True
    )
    sequence: Mapped[int]
    text: Mapped[str | None] = mapped_column(Text)
    dose_value_original: Mapped[str | None] = mapped_column(String(64))
    dose_unit_original: Mapped[str | None] = mapped_column(String(64))
    dose_mg: Mapped[float | None]
    dose_mg_per_kg: Mapped[float | None]
    frequency: Mapped[int | None]
    period: Mapped[float | None]
    period_unit: Mapped[str | None] = mapped_column(String(8))
    per_day: Mapped[str16 | None]  # administrations per day, exact fraction
    daily_dose_mg: Mapped[float | None]
    body_weight_kg: Mapped[float | None]  # applied to a mg/kg dose
    body_weight_observation_id: Mapped[int | None] = mapped_column(
        ForeignKey("observation.id", ondelete="SET NULL")
    )
    as_needed: Mapped[bool]
    bounds_start: Mapped[datetime | None]
    bounds_end: Mapped[datetime | None]
    route_code: Mapped[str64 | None]
    route_text: Mapped[str | None] = mapped_column(Text)
    route_class: Mapped[str16]

"""Safety tables: adverse events and their seriousness criteria (CLINICAL-SPEC 5.2-5.4)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from registry.db import Base
from registry.models.clinical import AboutPatient

str16 = Annotated[str, mapped_column(String(16))]
str32 = Annotated[str, mapped_column(String(32))]
str64 = Annotated[str, mapped_column(String(64))]


class AdverseEvent(AboutPatient, Base):
    """An adverse event as recorded; `actuality = potential` rows are near misses, never counted."""

    __tablename__ = "adverse_event"

    actuality: Mapped[str16]
    status: Mapped[str32 | None]
    term_system: Mapped[str | None] = mapped_column(String(255))
    term_code: Mapped[str64 | None]
    term_display: Mapped[str | None] = mapped_column(Text)
    term_text: Mapped[str | None] = mapped_column(Text)
    infection_organism: Mapped[str32 | None]
    seriousness_code: Mapped[str64 | None]
    is_serious: Mapped[bool | None]
    severity: Mapped[str16 | None]
    ctcae_grade: Mapped[int | None]
    outcome: Mapped[str32 | None]
    occurred_at: Mapped[datetime | None]
    occurred_precision: Mapped[str16 | None]
    detected_at: Mapped[datetime | None]
    recorded_at: Mapped[datetime | None]
    resulting_conditions: Mapped[str | None] = mapped_column(Text)  # "Condition/1 Condition/2"


class AdverseEventCriterion(Base):
    """One seriousness criterion of an event (death, life-threatening, hospitalization, ...)."""

    __tablename__ = "adverse_event_criterion"

    id: Mapped[int] = mapped_column(primary_key=True)
    adverse_event_id: Mapped[int] = mapped_column(
        ForeignKey("adverse_event.id", ondelete="CASCADE"), index=True
    )
    criterion: Mapped[str64]

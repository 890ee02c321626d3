"""Result types shared by the outcome modules: selected values with their lineage, patients.

Everything here is a frozen dataclass built from query results; the rules never see a database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any, NamedTuple


@dataclass(frozen=True, slots=True)
class Source:
    """The source FHIR resource version a registry row came from (`record_id`: its registry id)."""

    resource_type: str
    resource_id: str
    version_id: str | None
    last_updated: str | None  # ISO 8601, UTC (rawtime.iso_instant)
    record_id: int | None = None

    @property
    def reference(self) -> str:
        """`Type/id/_history/version` (or `Type/id` when the source had no versionId)."""
        base = f"{self.resource_type}/{self.resource_id}"
        return f"{base}/_history/{self.version_id}" if self.version_id else base

    def as_dict(self) -> dict[str, Any]:
        """JSON form: the versioned reference and lastUpdated."""
        return {"reference": self.reference, "last_updated": self.last_updated}


class Citations:
    """Every source resource version the report cites, by registry source record id."""

    def __init__(self) -> None:
        """Start empty."""
        self.table: dict[int, Source] = {}

    def cite(self, source: Source) -> int | None:
        """Record a source; its record id (None for a source without one)."""
        record = source.record_id
        if record is not None and record not in self.table:
            self.table[record] = source
        return record

    def as_json(self) -> dict[str, Any]:
        """The report's `sources` table."""
        return {str(k): self.table[k].as_dict() for k in sorted(self.table)}


class Value(NamedTuple):
    """One selected observation value in its canonical unit, with the row and source behind it.

    A named tuple: a large report builds hundreds of thousands of them.
    """

    row_id: int
    analyte: str
    value: float | None
    unit: str | None
    comparator: str | None
    reference_low: float | None
    reference_high: float | None
    interpretation: str | None
    effective: str  # ISO 8601: the date of a date-only value, else the UTC instant
    study_day: int
    source: Source
    derived_from: tuple[Source, ...] = ()

    def evidence(self) -> dict[str, Any]:
        """JSON form: value, time, study day and the source record (an id of `sources`)."""
        out: dict[str, Any] = {
            "analyte": self.analyte,
            "value": self.value,
            "unit": self.unit,
            "comparator": self.comparator,
            "effective": self.effective,
            "study_day": self.study_day,
            "source": self.source.record_id,
        }
        if self.derived_from:
            out["derived_from"] = [s.record_id for s in self.derived_from]
        return out


@dataclass(frozen=True, slots=True)
class IndexEvent:
    """A patient's T0 and end of follow-up (CLINICAL-SPEC 2)."""

    site: str
    patient_id: str
    sex: str | None
    t0: datetime
    t0_precision: str
    t0_kind: str  # administration | order (flagged "index from order")
    t0_row_id: int
    t0_source: Source
    end_of_follow_up: datetime
    deceased_at: datetime | None
    utc_offset: int

    @property
    def key(self) -> tuple[str, str]:
        """(site, patient id)."""
        return (self.site, self.patient_id)

    @property
    def zone(self) -> timezone:
        """The site's fixed local zone."""
        return timezone(timedelta(seconds=self.utc_offset))

    def local_date_of(self, at: datetime, precision: str | None = None) -> date:
        """Local calendar date of a stored time (a date-only value is its own date)."""
        if precision in ("year", "month", "day"):
            return at.astimezone(UTC).date()
        return at.astimezone(self.zone).date()

    @property
    def t0_date(self) -> date:
        """Local date of T0."""
        return self.local_date_of(self.t0, self.t0_precision)

    @property
    def eof_day(self) -> int:
        """Study day of the end of follow-up (calendar difference of local dates)."""
        return int((self.local_date_of(self.end_of_follow_up) - self.t0_date).days)


@dataclass(frozen=True)
class PatientValues:
    """The selected values of one patient: baseline, each time point, end of follow-up."""

    baseline: dict[str, Value] = field(default_factory=dict)
    timepoints: dict[str, dict[str, Value]] = field(default_factory=dict)
    fever: dict[str, Value] = field(default_factory=dict)  # slot -> highest temperature

    def at(self, slot: str) -> dict[str, Value]:
        """The values of a slot ('baseline', a time point name, or 'end_of_follow_up')."""
        if slot == "baseline":
            return self.baseline
        return self.timepoints.get(slot, {})

"""Body weights for mg/kg doses (CLINICAL-SPEC 4.3.3), looked up in bulk.

The latest valid body weight (LOINC 29463-7) of the patient within the 30 days before the dose:
the same rule as one query per dose (latest by time, then by row id), answered from one query
per 500 patients and a binary search per dose, so the check costs little however many doses a
run brings.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import Connection, select

from registry import tables
from registry.postload.common import VALID_STATUSES
from registry.records import chunks

OBS = tables.OBSERVATION
WEIGHT_LOOKBACK = timedelta(days=30)


class Weight(NamedTuple):
    """A body weight result: its observation row and value in kg."""

    id: int
    value: float


class WeightIndex:
    """The valid body weights of some patients of a site, by patient and time."""

    def __init__(self, conn: Connection, site: str, patients: Iterable[str]) -> None:
        self._times: dict[str, list[tuple[datetime, int]]] = {}
        self._weights: dict[str, list[Weight]] = {}
        rows: list[tuple[str, datetime, int, float]] = []
        for chunk in chunks(sorted(set(patients)), 500):
            stmt = select(OBS.c.patient_source_id, OBS.c.effective_at, OBS.c.id, OBS.c.value).where(
                OBS.c.site == site,
                OBS.c.patient_source_id.in_(chunk),
                OBS.c.analyte == "body_weight",
                OBS.c.exclusion.is_(None),
                OBS.c.status.in_(VALID_STATUSES),
                OBS.c.value.is_not(None),
                OBS.c.effective_at.is_not(None),
            )
            rows.extend((r[0], r[1], r[2], r[3]) for r in conn.execute(stmt))
        rows.sort()
        for patient, at, row_id, value in rows:
            self._times.setdefault(patient, []).append((at, row_id))
            self._weights.setdefault(patient, []).append(Weight(row_id, value))

    def latest(self, patient: str, when: datetime) -> Weight | None:
        """The latest weight at or before `when` and no more than 30 days before it."""
        times = self._times.get(patient)
        if not times:
            return None
        # The last entry not after `when` (ties on time: the highest row id, as the query did).
        index = bisect_right(times, (when, float("inf"))) - 1
        if index < 0 or times[index][0] < when - WEIGHT_LOOKBACK:
            return None
        return self._weights[patient][index]

"""The highest body temperature before each assessment (CLINICAL-SPEC 3.2 rule 4, 3.3), in SQL.

For each slot the reference instant t is T0 (baseline), T0 + target day x 24 h (a time point)
or the end of follow-up; the reading chosen is the highest in [t - hours, t], later on a tie.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, Integer, String, and_, cast, func, literal, select, union_all

from registry import tables
from registry.outcomes import index_sql
from registry.outcomes import sqltime as st
from registry.outcomes.protocol import Protocol
from registry.outcomes.timeline import (
    EOF_SLOT,
    Key,
    ValueReader,
    patient_numbers,
    value_columns,
)
from registry.outcomes.values import PatientValues

OBS = tables.OBSERVATION
SR = tables.SOURCE_RECORD
TEMPERATURE = "temperature"


def fever_key(slot: str, hours: int) -> str:
    """Key of a slot's highest temperature in `PatientValues.fever`."""
    return f"{slot}@{hours}h"


def _readings(protocol: Protocol, timeline: Any) -> Any:
    """Valid temperature readings of patients with a T0, on the instant axis."""
    at = st.instant(OBS.c.effective_at, OBS.c.effective_precision, timeline.c.utc_offset)
    return st.materialized(
        select(
            OBS.c.id,
            OBS.c.site,
            OBS.c.patient_source_id.label("pid"),
            timeline.c.pno,
            OBS.c.value,
            at.label("at"),
            timeline.c.t0,
            timeline.c.t0_day,
            timeline.c.eof,
        )
        .join(
            timeline, and_(timeline.c.site == OBS.c.site, timeline.c.pid == OBS.c.patient_source_id)
        )
        .where(
            OBS.c.analyte == TEMPERATURE,
            OBS.c.status.in_(index_sql.VALID_STATUSES),
            OBS.c.exclusion.is_(None),
            OBS.c.value.is_not(None),
            *([OBS.c.effective_at <= protocol.data_cutoff] if protocol.data_cutoff else []),
        )
        .cte("temperature_readings")
    )


def fever_statement(protocol: Protocol, timeline: Any, hours: Iterable[int]) -> Any:
    """The highest reading per patient and (slot, hours), with lineage."""
    temps = _readings(protocol, timeline)
    refs: list[tuple[str, Any]] = [("baseline", temps.c.t0)]
    refs += [(t.name, temps.c.t0 + t.day * st.DAY) for t in protocol.timepoints]
    refs.append((EOF_SLOT, temps.c.eof))
    parts = [
        select(temps.c.id, temps.c.site, temps.c.pid, temps.c.pno, temps.c.value, temps.c.at)
        .add_columns(cast(literal(fever_key(slot, span)), String).label("slot"))
        .where(temps.c.at.between(ref - cast(literal(span * 3600), Integer), ref))
        for span in sorted(set(hours))
        for slot, ref in refs
    ]
    slots = union_all(*parts).subquery("fever_slots")
    rank = func.row_number().over(
        partition_by=(slots.c.site, slots.c.pid, slots.c.slot),
        order_by=(slots.c.value.desc(), slots.c.at.desc(), slots.c.id.desc()),
    )
    ranked = select(slots, rank.label("rn")).subquery("fever_ranked")
    return (
        select(ranked.c.slot, ranked.c.pno, *value_columns())
        .join(OBS, OBS.c.id == ranked.c.id)
        .join(SR, SR.c.id == OBS.c.source_record_id)
        .where(ranked.c.rn == 1)
    )


def select_fever(
    conn: Connection,
    protocol: Protocol,
    timeline: Any,
    hours: Iterable[int],
    into: dict[Key, PatientValues],
) -> None:
    """Add each patient's highest temperature per slot to `into` (patients created as needed)."""
    spans = sorted(set(hours))
    if not spans:
        return
    reader = ValueReader(patient_numbers(conn, timeline))
    for row in conn.execute(fever_statement(protocol, timeline, spans)):
        key, value, _derived = reader.read(row[1:])
        values = into.get(key)
        if values is None:
            values = into[key] = PatientValues()
        values.fever[row[0]] = value

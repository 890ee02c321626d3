"""Per-patient timeline (CLINICAL-SPEC 2): T0, end of follow-up, and the value chosen per window.

The selection runs in SQL with window functions on SQLite and PostgreSQL alike: candidate values
are placed on study days once, then `ROW_NUMBER() OVER (PARTITION BY patient, analyte, slot)`
picks per slot:
- baseline: the latest valid value with T0 - lookback <= t <= T0 (+ allowed post-dose hours); a
  date-only value dated on the T0 date counts (study day 0);
- each time point: the value nearest the target study day, ties to the later one;
- end of follow-up: the latest value in the lookback before the end of follow-up (after T0).
Only the chosen rows come back to Python, with their source resource and version.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import (
    Connection,
    Integer,
    Select,
    String,
    and_,
    case,
    cast,
    func,
    literal,
    or_,
    select,
    union_all,
)

from registry import tables
from registry.outcomes import index_sql
from registry.outcomes import sqltime as st
from registry.outcomes.protocol import Protocol
from registry.outcomes.values import IndexEvent, PatientValues, Source, Value

OBS = tables.OBSERVATION
SR = tables.SOURCE_RECORD
EOF_SLOT = "end_of_follow_up"
Key = tuple[str, str]


def load_index_events(conn: Connection, timeline: Any) -> list[IndexEvent]:
    """T0 and end of follow-up of every patient with an index event, ordered by site and id.

    `timeline` is `index_sql.patient_timeline(...)` (a temporary table) or
    `index_sql.timeline_subquery(...)`.
    """
    rows = conn.execute(
        select(timeline, SR.c.resource_type, SR.c.resource_id, SR.c.version_id, SR.c.last_updated)
        .outerjoin(SR, SR.c.id == timeline.c.t0_row_id)
        .order_by(timeline.c.site, timeline.c.pid)
    )
    return [_index_event(row) for row in rows]


def _index_event(row: Any) -> IndexEvent:
    """Build an IndexEvent from a timeline row (epoch seconds back to UTC datetimes)."""
    from datetime import UTC, datetime

    t0 = datetime.fromtimestamp(int(row.t0), UTC)
    return IndexEvent(
        site=row.site,
        patient_id=row.pid,
        sex=row.sex,
        t0=t0 + _date_only_shift(row.t0_precision, int(row.utc_offset)),
        t0_precision=row.t0_precision,
        t0_kind=row.t0_kind,
        t0_row_id=row.t0_row_id,
        t0_source=Source(row.resource_type, row.resource_id, row.version_id, row.last_updated),
        end_of_follow_up=datetime.fromtimestamp(int(row.eof), UTC),
        deceased_at=row.deceased_at,
        utc_offset=int(row.utc_offset),
    )


def _date_only_shift(precision: str, offset: int) -> Any:
    """A date-only T0 went to SQL as local midnight; give it back as its floating date."""
    from datetime import timedelta

    return timedelta(seconds=offset) if precision in st.DATE_ONLY else timedelta(0)


def _placed(protocol: Protocol, timeline: Any, analytes: Iterable[str]) -> Any:
    """Valid values with their instant and study day, computed once per row (materialized)."""
    off = timeline.c.utc_offset
    at = st.instant(OBS.c.effective_at, OBS.c.effective_precision, off)
    dated = case((st.is_date_only(OBS.c.effective_precision), 1), else_=0)
    cols = (OBS.c.id, OBS.c.site, OBS.c.patient_source_id.label("pid"), OBS.c.analyte)
    stmt = (
        select(*cols, at.label("at"), dated.label("date_only"), off.label("off"))
        .add_columns(timeline.c.t0, timeline.c.t0_day, timeline.c.eof)
        .join(
            timeline, and_(timeline.c.site == OBS.c.site, timeline.c.pid == OBS.c.patient_source_id)
        )
        .where(
            OBS.c.analyte.in_(sorted(set(analytes))),
            OBS.c.status.in_(index_sql.VALID_STATUSES),
            OBS.c.exclusion.is_(None),
            OBS.c.value.is_not(None),
            *([OBS.c.effective_at <= protocol.data_cutoff] if protocol.data_cutoff else []),
        )
    )
    # MATERIALIZED keeps SQLite from inlining the epoch arithmetic into every use below.
    return stmt.cte("placed_values").prefix_with("MATERIALIZED")


def _candidates(protocol: Protocol, timeline: Any, analytes: Iterable[str]) -> Any:
    """Valid values of the analytes, placed on the study-day axis and tagged with their slots."""
    placed = _placed(protocol, timeline, analytes)
    base = protocol.section("baseline")
    lookback = int(protocol.section("end_of_follow_up")["lookback_days"]) * st.DAY
    at = placed.c.at
    day = case(
        (placed.c.date_only == 1, st.local_day(at, placed.c.off) - placed.c.t0_day),
        else_=st.floor_div(at - placed.c.t0, st.DAY),
    )
    points = protocol.timepoints
    week = case(*[(day.between(t.first_day, t.last_day), t.name) for t in points], else_=None)
    target = case(*[(day.between(t.first_day, t.last_day), t.day) for t in points], else_=None)
    in_base = case(
        (placed.c.date_only == 1, day.between(-base["lookback_days"], 0)),
        else_=and_(
            at >= placed.c.t0 - int(base["lookback_days"]) * st.DAY,
            at <= placed.c.t0 + int(base["allow_post_dose_baseline_hours"]) * 3600,
        ),
    )
    in_eof = and_(at > placed.c.t0, at <= placed.c.eof, at >= placed.c.eof - lookback)
    stmt = (
        select(placed.c.id, placed.c.site, placed.c.pid, placed.c.analyte, at, day.label("day"))
        .add_columns(week.label("week"), func.abs(day - target).label("dist"))
        .add_columns(in_base.label("in_base"), in_eof.label("in_eof"))
    )
    return stmt.cte("slot_candidates")


def _ranked(cand: Any) -> Any:
    """One union of the three slot kinds, ranked per patient, analyte and slot."""
    zero = cast(literal(0), Integer)
    parts = [
        select(cand.c.id, cand.c.site, cand.c.pid, cand.c.analyte, cand.c.at, cand.c.day)
        .add_columns(cast(literal("baseline"), String).label("slot"), zero.label("dist"))
        .where(cand.c.in_base == literal(True)),
        select(cand.c.id, cand.c.site, cand.c.pid, cand.c.analyte, cand.c.at, cand.c.day)
        .add_columns(cand.c.week.label("slot"), cand.c.dist)
        .where(cand.c.week.is_not(None)),
        select(cand.c.id, cand.c.site, cand.c.pid, cand.c.analyte, cand.c.at, cand.c.day)
        .add_columns(cast(literal(EOF_SLOT), String).label("slot"), zero.label("dist"))
        .where(cand.c.in_eof == literal(True)),
    ]
    slots = union_all(*parts).subquery("slots")
    rank = func.row_number().over(
        partition_by=(slots.c.site, slots.c.pid, slots.c.analyte, slots.c.slot),
        order_by=(slots.c.dist, slots.c.at.desc(), slots.c.id.desc()),
    )
    return select(slots, rank.label("rn")).subquery("ranked")


def selection_statement(protocol: Protocol, timeline: Any, analytes: Iterable[str]) -> Select[Any]:
    """The SQL that returns the chosen value per patient, analyte and slot, with lineage."""
    ranked = _ranked(_candidates(protocol, timeline, analytes))
    return (
        select(
            ranked.c.slot,
            ranked.c.day,
            OBS.c.id,
            OBS.c.site,
            OBS.c.patient_source_id,
            OBS.c.analyte,
            OBS.c.value,
            OBS.c.unit,
            OBS.c.comparator,
            OBS.c.reference_low,
            OBS.c.reference_high,
            OBS.c.interpretation,
            OBS.c.effective_at,
            OBS.c.effective_precision,
            OBS.c.derived_from_id,
            OBS.c.derived_from_other_id,
            SR.c.resource_type,
            SR.c.resource_id,
            SR.c.version_id,
            SR.c.last_updated,
        )
        .join(OBS, OBS.c.id == ranked.c.id)
        .join(SR, SR.c.id == OBS.c.source_record_id)
        .where(ranked.c.rn == 1)
    )


def select_values(
    conn: Connection, protocol: Protocol, timeline: Any, analytes: Iterable[str]
) -> dict[Key, PatientValues]:
    """The chosen values of every patient, per slot (baseline, time points, end of follow-up)."""
    out: dict[Key, PatientValues] = {}
    derived: dict[int, list[Any]] = {}
    for row in conn.execute(selection_statement(protocol, timeline, analytes)):
        key = (row.site, row.patient_source_id)
        values = out.setdefault(key, PatientValues())
        value = value_from_row(row, ())
        if row.derived_from_id is not None:
            derived[row.id] = [row.slot, key]
        target = (
            values.baseline
            if row.slot == "baseline"
            else values.timepoints.setdefault(row.slot, {})
        )
        target[row.analyte] = value
    if derived:
        _attach_derived(conn, out, derived)
    return out


def value_from_row(row: Any, derived_from: tuple[Source, ...]) -> Value:
    """A Value from a selection row."""
    return Value(
        row_id=row.id,
        analyte=row.analyte,
        value=row.value,
        unit=row.unit,
        comparator=row.comparator,
        reference_low=row.reference_low,
        reference_high=row.reference_high,
        interpretation=row.interpretation,
        at=row.effective_at,
        precision=row.effective_precision,
        study_day=int(row.day),
        source=Source(row.resource_type, row.resource_id, row.version_id, row.last_updated),
        derived_from=derived_from,
    )


def _attach_derived(conn: Connection, out: dict[Key, PatientValues], ids: dict[int, Any]) -> None:
    """Name both source results of a derived ANC (WBC and neutrophil %) in its evidence."""
    parent = OBS.alias("parent")
    stmt = (
        select(OBS.c.id, SR.c.resource_type, SR.c.resource_id, SR.c.version_id, SR.c.last_updated)
        .join(
            parent,
            or_(parent.c.id == OBS.c.derived_from_id, parent.c.id == OBS.c.derived_from_other_id),
        )
        .join(SR, SR.c.id == parent.c.source_record_id)
        .where(OBS.c.id.in_(list(ids)))
        .order_by(OBS.c.id, parent.c.id)
    )
    sources: dict[int, list[Source]] = {}
    for row in conn.execute(stmt):
        sources.setdefault(row.id, []).append(
            Source(row.resource_type, row.resource_id, row.version_id, row.last_updated)
        )
    for row_id, (slot, key) in ids.items():
        slot_values = out[key].at(slot)
        for analyte, value in list(slot_values.items()):
            if value.row_id == row_id:
                slot_values[analyte] = _replace(value, tuple(sources.get(row_id, ())))


def _replace(value: Value, derived_from: tuple[Source, ...]) -> Value:
    from dataclasses import replace

    return replace(value, derived_from=derived_from)

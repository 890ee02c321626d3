"""Per-patient timeline (CLINICAL-SPEC 2): T0, end of follow-up, and the value chosen per window.

The selection runs in SQL on SQLite and PostgreSQL alike, one aggregate pass over the candidate
values grouped by patient and analyte (`picks`), choosing per slot:
- baseline: the latest valid value with T0 - lookback <= t <= T0 (+ allowed post-dose hours); a
  date-only value dated on the T0 date counts (study day 0);
- each time point: the value nearest the target study day, ties to the later one;
- end of follow-up: the latest value in the lookback before the end of follow-up (after T0).
Only the chosen rows come back to Python, with their source resource and version.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Select,
    or_,
    select,
)

from registry import tables
from registry.outcomes import picks, rawtime, selection
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
        select(
            timeline,
            SR.c.resource_type,
            SR.c.resource_id,
            SR.c.version_id,
            rawtime.untyped(SR.c.last_updated).label("last_updated"),
        )
        .outerjoin(SR, SR.c.id == timeline.c.t0_row_id)
        .order_by(timeline.c.site, timeline.c.pid)
    )
    return [_index_event(row) for row in rows]


def _index_event(row: Any) -> IndexEvent:
    """Build an IndexEvent from a timeline row (epoch seconds back to UTC datetimes)."""
    t0 = datetime.fromtimestamp(int(row.t0), UTC)
    return IndexEvent(
        site=row.site,
        patient_id=row.pid,
        sex=row.sex,
        t0=t0 + _date_only_shift(row.t0_precision, int(row.utc_offset)),
        t0_precision=row.t0_precision,
        t0_kind=row.t0_kind,
        t0_row_id=row.t0_row_id,
        t0_source=Source(
            row.resource_type,
            row.resource_id,
            row.version_id,
            rawtime.iso_instant(row.last_updated),
            row.t0_row_id,
        ),
        end_of_follow_up=datetime.fromtimestamp(int(row.eof), UTC),
        deceased_at=row.deceased_at,
        utc_offset=int(row.utc_offset),
    )


def _date_only_shift(precision: str, offset: int) -> timedelta:
    """A date-only T0 went to SQL as local midnight; give it back as its floating date."""
    return timedelta(seconds=offset) if precision in st.DATE_ONLY else timedelta(0)


def selection_statement(timeline: Any, chosen: Any) -> Select[Any]:
    """The chosen rows (`selection.chosen`) with their lineage.

    Columns: slot number (`picks.slots` order), then `value_columns`.
    """
    return (
        select(chosen.c.slot, chosen.c.pno, *value_columns())
        .select_from(chosen)
        .join(OBS, OBS.c.id == chosen.c.observation_id)
        .join(SR, SR.c.id == OBS.c.source_record_id)
    )


def value_columns() -> list[Any]:
    """The columns `ValueReader.read` takes after the patient number (times untyped, `rawtime`)."""
    return [
        OBS.c.id,
        OBS.c.analyte,
        OBS.c.value,
        OBS.c.unit,
        OBS.c.comparator,
        OBS.c.reference_low,
        OBS.c.reference_high,
        OBS.c.interpretation,
        rawtime.untyped(OBS.c.effective_at),
        OBS.c.effective_precision,
        st.epoch(OBS.c.effective_at),
        OBS.c.derived_from_id,
        SR.c.id,
        SR.c.resource_type,
        SR.c.resource_id,
        SR.c.version_id,
        rawtime.untyped(SR.c.last_updated),
    ]


class ValueReader:
    """Builds Values from selection rows, sharing one Source per source record.

    `patients` maps the timeline's patient numbers to (key, T0, local day number of T0).
    """

    def __init__(self, patients: Mapping[int, tuple[Key, int, int]]) -> None:
        """Start with no sources seen."""
        self.patients = patients
        self.sources: dict[int, Source] = {}

    def source(self, record_id: int, rtype: str, rid: str, version: str | None, raw: Any) -> Source:
        """The Source of a source record (built once per record)."""
        found = self.sources.get(record_id)
        if found is None:
            found = Source(rtype, rid, version, rawtime.iso_instant(raw), record_id)
            self.sources[record_id] = found
        return found

    def read(self, row: Sequence[Any]) -> tuple[Key, Value, bool]:
        """(patient key, Value, derived) from a patient number and its `value_columns`."""
        (pno, oid, analyte, value, unit, comparator, low, high, interpretation, raw_at,
         precision, epoch, derived, sid, rtype, rid, version, updated) = row  # fmt: skip
        key, t0, t0_day = self.patients[pno]
        source = self.sources.get(sid) or self.source(sid, rtype, rid, version, updated)
        if precision in st.DATE_ONLY:  # CLINICAL-SPEC 2: by local date (stored at its 00:00 UTC)
            day = epoch // st.DAY - t0_day
            effective = rawtime.iso_date(raw_at) or ""
        else:
            day = (epoch - t0) // st.DAY
            effective = rawtime.iso_instant(raw_at) or ""
        item = Value(oid, analyte, value, unit, comparator, low, high, interpretation, effective,
                     day, source)  # fmt: skip
        return key, item, derived is not None


def patient_numbers(conn: Connection, timeline: Any) -> dict[int, tuple[Key, int, int]]:
    """The timeline's patients by number: ((site, id), T0, local day number of T0)."""
    tl = timeline
    rows = conn.execute(select(tl.c.pno, tl.c.site, tl.c.pid, tl.c.t0, tl.c.t0_day))
    return {pno: ((site, pid), int(t0), int(t0_day)) for pno, site, pid, t0, t0_day in rows}


def select_values(
    conn: Connection, protocol: Protocol, timeline: Any, analytes: Iterable[str]
) -> dict[Key, PatientValues]:
    """The chosen values of every patient, per slot (baseline, time points, end of follow-up)."""
    names = [s.name for s in picks.slots(protocol)]
    out: dict[Key, PatientValues] = {}
    derived: dict[int, list[tuple[str, Key]]] = {}
    reader = ValueReader(patient_numbers(conn, timeline))
    with selection.chosen(conn, protocol, timeline, analytes) as chosen:
        rows = conn.execute(selection_statement(timeline, chosen)).all()
    for row in rows:
        key, value, is_derived = reader.read(row[1:])
        slot = names[row[0]]
        values = out.get(key)
        if values is None:
            values = out[key] = PatientValues()
        if is_derived:
            derived.setdefault(value.row_id, []).append((slot, key))
        target = values.baseline if slot == "baseline" else values.timepoints.setdefault(slot, {})
        target[value.analyte] = value
    if derived:
        _attach_derived(conn, out, derived)
    return out


def _attach_derived(
    conn: Connection, out: dict[Key, PatientValues], ids: dict[int, list[tuple[str, Key]]]
) -> None:
    """Name both source results of a derived ANC (WBC and neutrophil %) in its evidence."""
    parent = OBS.alias("parent")
    stmt = (
        select(
            OBS.c.id,
            SR.c.id,
            SR.c.resource_type,
            SR.c.resource_id,
            SR.c.version_id,
            rawtime.untyped(SR.c.last_updated),
        )
        .join(
            parent,
            or_(parent.c.id == OBS.c.derived_from_id, parent.c.id == OBS.c.derived_from_other_id),
        )
        .join(SR, SR.c.id == parent.c.source_record_id)
        .order_by(OBS.c.id, parent.c.id)
    )
    reader = ValueReader({})
    sources: dict[int, list[Source]] = {}
    wanted = sorted(ids)
    for start in range(0, len(wanted), 500):
        for oid, *lineage in conn.execute(stmt.where(OBS.c.id.in_(wanted[start : start + 500]))):
            sources.setdefault(oid, []).append(reader.source(*lineage))
    for row_id, places in ids.items():
        for slot, key in places:
            slot_values = out[key].at(slot)
            for analyte, value in list(slot_values.items()):
                if value.row_id == row_id:
                    found = tuple(sources.get(row_id, ()))
                    slot_values[analyte] = value._replace(derived_from=found)

"""SQL for T0 and the end of follow-up per patient (CLINICAL-SPEC 2), as reusable subqueries.

`index_subquery` yields one row per patient with a T0: the earliest emapalumab administration
(completed or in-progress), else (flagged "order") the earliest MedicationRequest.authoredOn or
MedicationStatement.effective start. `latest_ends` gives the end of follow-up: the latest valid
Observation, MedicationAdministration (end if given), Encounter end or death, up to the cut-off.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    CompoundSelect,
    Connection,
    Index,
    Integer,
    MetaData,
    Select,
    String,
    Subquery,
    Table,
    and_,
    case,
    delete,
    exists,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    union_all,
    update,
)

from registry import tables
from registry.outcomes import sqltime as st
from registry.outcomes.protocol import Protocol
from registry.types import UTCDateTime

OBS = tables.OBSERVATION
MA = tables.MEDICATION_ADMINISTRATION
ORDER = tables.MEDICATION_ORDER
ENC = tables.ENCOUNTER
PAT = tables.PATIENT
VALID_STATUSES = ("final", "amended", "corrected")


def _site_filter(column: ColumnElement[str], sites: Sequence[str]) -> list[ColumnElement[bool]]:
    return [column.in_(list(sites))] if sites else []


def patients_of(
    table: Any, sites: Sequence[str], within: Table | None = None
) -> list[ColumnElement[bool]]:
    """Rows of `table` at `sites` (every site when empty), of `within`'s patients only if given.

    `within` is a report's timeline table (`patient_timeline`): the patients with a T0, or the
    share of them one process of a report computes.
    """
    out = _site_filter(table.c.site, sites)
    if within is not None:
        out.append(
            exists().where(within.c.site == table.c.site, within.c.pid == table.c.patient_source_id)
        )
    return out


def _cutoff(column: ColumnElement[Any], cutoff: datetime | None) -> list[ColumnElement[bool]]:
    return [column <= cutoff] if cutoff is not None else []


def _candidates(protocol: Protocol, sites: Sequence[str]) -> Select[Any] | CompoundSelect[Any]:
    """Every index-event candidate: administrations (priority 0), orders (priority 1)."""
    index = protocol.section("index")
    off = st.site_offset(MA.c.site, protocol)
    given = select(
        MA.c.site.label("site"),
        MA.c.patient_source_id.label("pid"),
        st.instant(MA.c.effective_at, MA.c.effective_precision, off).label("at"),
        MA.c.effective_precision.label("precision"),
        literal("administration", String).label("kind"),
        literal(0, Integer).label("priority"),
        MA.c.id.label("row_id"),
    ).where(
        MA.c.drug_class == index["drug_class"],
        MA.c.status.in_(list(index["administration_statuses"])),
        MA.c.exclusion.is_(None),
        *_site_filter(MA.c.site, sites),
        *_cutoff(MA.c.effective_at, protocol.data_cutoff),
    )
    if not index["fallback_to_orders"]:
        return given
    when = case((ORDER.c.kind == "request", ORDER.c.authored_at), else_=ORDER.c.effective_start)
    precision = case(
        (ORDER.c.kind == "request", literal("second", String)), else_=ORDER.c.effective_precision
    )
    ordered = select(
        ORDER.c.site,
        ORDER.c.patient_source_id,
        st.instant(when, precision, st.site_offset(ORDER.c.site, protocol)),
        precision,
        literal("order", String),
        literal(1, Integer),
        ORDER.c.id,
    ).where(
        ORDER.c.drug_class == index["drug_class"],
        ORDER.c.exclusion.is_(None),
        when.is_not(None),
        *_site_filter(ORDER.c.site, sites),
        *_cutoff(when, protocol.data_cutoff),
    )
    return union_all(given, ordered)


def index_subquery(protocol: Protocol, sites: Sequence[str]) -> Subquery:
    """One row per patient with a T0: site, pid, t0, t0_day, t0_precision, t0_kind, t0_row_id."""
    cand = _candidates(protocol, sites).subquery("index_candidates")
    ranked = select(
        cand,
        func.row_number()
        .over(
            partition_by=(cand.c.site, cand.c.pid),
            order_by=(cand.c.priority, cand.c.at, cand.c.row_id),
        )
        .label("rn"),
    ).subquery("index_ranked")
    off = st.site_offset(ranked.c.site, protocol)
    return (
        select(
            ranked.c.site,
            ranked.c.pid,
            ranked.c.at.label("t0"),
            st.local_day(ranked.c.at, off).label("t0_day"),
            off.label("utc_offset"),
            ranked.c.precision.label("t0_precision"),
            ranked.c.kind.label("t0_kind"),
            ranked.c.row_id.label("t0_row_id"),
            PAT.c.sex,
            PAT.c.deceased_at,
            PAT.c.deceased_precision,
        )
        .join(PAT, and_(PAT.c.site == ranked.c.site, PAT.c.source_id == ranked.c.pid))
        .where(ranked.c.rn == 1, PAT.c.exclusion.is_(None))
        .subquery("index_event")
    )


def _latest(
    table: Any, when: ColumnElement[Any], precision: ColumnElement[Any], *where: Any
) -> list[Select[Any]]:
    """Latest stored time per patient, timed and date-only apart (aggregated before converting).

    Each class is its own pass with one group per patient: on SQLite the timed one reads an
    index on (site, patient, ...) in order, the date-only one a partial index where there is one.
    """
    dated = st.is_date_only(precision)
    return [
        select(
            table.c.site.label("site"),
            table.c.patient_source_id.label("pid"),
            func.max(when).label("at"),
            literal(flag, Integer).label("date_only"),
        )
        .where(when.is_not(None), test, *where)
        .group_by(table.c.site, table.c.patient_source_id)
        for flag, test in ((0, or_(precision.is_(None), ~dated)), (1, dated))
    ]


def latest_ends(protocol: Protocol, sites: Sequence[str]) -> Subquery:
    """Per patient, the latest end instant (epoch seconds) of the end-of-follow-up sources."""
    sources = set(protocol.section("end_of_follow_up")["sources"])
    cut = protocol.data_cutoff
    parts: list[Select[Any]] = []
    if "observation" in sources:
        parts += _latest(
            OBS,
            OBS.c.effective_at,
            OBS.c.effective_precision,
            OBS.c.status.in_(VALID_STATUSES),
            OBS.c.exclusion.is_(None),
            *_site_filter(OBS.c.site, sites),
            *_cutoff(OBS.c.effective_at, cut),
        )
    if "medication_administration" in sources:
        ends = func.coalesce(MA.c.effective_end_at, MA.c.effective_at)
        parts += _latest(
            MA,
            ends,
            MA.c.effective_precision,
            MA.c.status.in_(["completed", "in-progress"]),
            MA.c.exclusion.is_(None),
            *_site_filter(MA.c.site, sites),
            *_cutoff(ends, cut),
        )
    if "encounter" in sources:
        parts += _latest(
            ENC,
            ENC.c.period_end,
            ENC.c.period_end_precision,
            ENC.c.exclusion.is_(None),
            *_site_filter(ENC.c.site, sites),
            *_cutoff(ENC.c.period_end, cut),
        )
    if "death" in sources:
        pat = PAT.alias("dead")
        parts.append(
            select(
                pat.c.site.label("site"),
                pat.c.source_id.label("pid"),
                pat.c.deceased_at.label("at"),
                case((st.is_date_only(pat.c.deceased_precision), 1), else_=0).label("date_only"),
            ).where(pat.c.deceased_at.is_not(None), *_cutoff(pat.c.deceased_at, cut))
        )
    return _latest_end(protocol, union_all(*parts).subquery("eof_sources"))


def _latest_end(protocol: Protocol, ends: Subquery) -> Subquery:
    """Per patient, the latest end instant (a date-only time ends with its local day)."""
    off = st.site_offset(ends.c.site, protocol)
    end_at = st.epoch(ends.c.at) + case((ends.c.date_only == 1, st.DAY - 1 - off), else_=0)
    return (
        select(ends.c.site, ends.c.pid, func.max(end_at).label("eof"))
        .group_by(ends.c.site, ends.c.pid)
        .subquery("eof_latest")
    )


def _eof_join(protocol: Protocol, index: Subquery, latest: Subquery) -> Subquery:
    """Join the latest end instants to the index events: the end of follow-up, never before T0."""
    eof = func.coalesce(latest.c.eof, index.c.t0)
    return (
        select(index, case((eof < index.c.t0, index.c.t0), else_=eof).label("eof"))
        .outerjoin(latest, and_(latest.c.site == index.c.site, latest.c.pid == index.c.pid))
        .subquery("patient_timeline")
    )


# The patient timeline, computed once per report: T0 and the end of follow-up are read by every
# selection (values, temperatures) and by the listing, so a temporary table saves recomputing
# the end of follow-up (a pass over every observation) several times. `pno` numbers the patients
# in (site, pid) order (on SQLite it is the rowid, so a scan of the table comes in that order).
PATIENT_TIMELINE = Table(
    "masreg_patient_timeline",
    MetaData(),
    Column("pno", Integer, primary_key=True),
    Column("site", String(64), nullable=False),
    Column("pid", String(64), nullable=False),
    Column("t0", BigInteger, nullable=False),
    Column("t0_day", BigInteger, nullable=False),
    Column("utc_offset", Integer, nullable=False),
    Column("t0_precision", String(16)),
    Column("t0_kind", String(16), nullable=False),
    Column("t0_row_id", Integer, nullable=False),
    Column("sex", String(16)),
    Column("deceased_at", UTCDateTime()),
    Column("deceased_precision", String(16)),
    Column("eof", BigInteger, nullable=False),
    Index("ix_masreg_patient_timeline", "site", "pid", unique=True),
    prefixes=["TEMPORARY"],
)


def timeline_subquery(protocol: Protocol, sites: Sequence[str]) -> Subquery:
    """T0 and end of follow-up per patient as a subquery (recomputed wherever it is used)."""
    return _eof_join(protocol, index_subquery(protocol, sites), latest_ends(protocol, sites))


@contextmanager
def patient_timeline(conn: Connection, protocol: Protocol, sites: Sequence[str]) -> Iterator[Table]:
    """Fill a temporary table with each patient's T0 and end of follow-up, for one report.

    The index events go in first (end of follow-up = T0), then the latest end per patient
    updates them: two small statements the planners estimate well, where one would join an
    aggregate of every observation to a subquery they cannot count.
    """
    table = PATIENT_TIMELINE
    conn.execute(text(f"DROP TABLE IF EXISTS {table.name}"))
    table.create(conn)
    index = index_subquery(protocol, sites)
    names = [c.name for c in table.columns if c.name not in ("pno", "eof")]
    rows = select(*(index.c[n] for n in names), index.c.t0).order_by(index.c.site, index.c.pid)
    conn.execute(insert(table).from_select([*names, "eof"], rows))
    latest = latest_ends(protocol, sites)
    conn.execute(
        update(table)
        .where(
            latest.c.site == table.c.site, latest.c.pid == table.c.pid, latest.c.eof > table.c.eof
        )
        .values(eof=latest.c.eof)
    )
    conn.execute(text(f"ANALYZE {table.name}"))  # planner statistics: the table is small
    try:
        yield table
    finally:
        table.drop(conn)


def timeline_rows(conn: Connection, table: Table) -> list[tuple[Any, ...]]:
    """Every row of a filled timeline table, columns in table order, by site and patient id."""
    rows = conn.execute(select(table).order_by(table.c.site, table.c.pid))
    return [tuple(row) for row in rows]


def keep_patients(conn: Connection, table: Table, rows: Sequence[tuple[Any, ...]]) -> None:
    """Delete every patient but those of `rows` (`timeline_rows` items) from a timeline table."""
    kept = {row[0] for row in rows}  # pno
    every = conn.execute(select(table.c.pno)).scalars().all()
    drop = [pno for pno in every if pno not in kept]
    for start in range(0, len(drop), 500):
        conn.execute(delete(table).where(table.c.pno.in_(drop[start : start + 500])))
    conn.execute(text(f"ANALYZE {table.name}"))


@contextmanager
def given_timeline(conn: Connection, rows: Sequence[tuple[Any, ...]]) -> Iterator[Table]:
    """A timeline table holding `rows` (from `timeline_rows` of the same snapshot).

    A report's helper process gets its patients this way instead of computing every patient's
    end of follow-up again (a pass over every observation).
    """
    table = PATIENT_TIMELINE
    conn.execute(text(f"DROP TABLE IF EXISTS {table.name}"))
    table.create(conn)
    if rows:
        names = [c.name for c in table.columns]
        conn.execute(insert(table), [dict(zip(names, row, strict=True)) for row in rows])
    conn.execute(text(f"ANALYZE {table.name}"))
    try:
        yield table
    finally:
        table.drop(conn)

"""The SQL of the per-window value selection (CLINICAL-SPEC 2), on SQLite and PostgreSQL.

Two statements per report: one aggregate pass over the candidate values grouped by patient and
analyte writes each slot's chosen row id into a temporary table (`picks`), then one join reads
the chosen rows with their source record. Only the chosen rows come back to Python.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Integer,
    MetaData,
    Select,
    Table,
    and_,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    union_all,
)

from registry import tables
from registry.outcomes import index_sql, picks
from registry.outcomes import sqltime as st
from registry.outcomes.protocol import Protocol

OBS = tables.OBSERVATION

PICKS = Table(
    "masreg_value_picks",
    MetaData(),
    Column("pno", Integer, nullable=False),
    Column("slot", Integer, nullable=False),
    Column("observation_id", Integer, nullable=False),
    prefixes=["TEMPORARY"],
)


def _filters(protocol: Protocol, analytes: Iterable[str], dated: bool) -> list[Any]:
    precision = OBS.c.effective_precision
    dated_only = st.is_date_only(precision)
    timed_only = or_(precision.is_(None), ~dated_only)
    return [
        OBS.c.analyte.in_(sorted(set(analytes))),
        OBS.c.status.in_(index_sql.VALID_STATUSES),
        OBS.c.exclusion.is_(None),
        OBS.c.value.is_not(None),
        dated_only if dated else timed_only,
        *([OBS.c.effective_at <= protocol.data_cutoff] if protocol.data_cutoff else []),
    ]


def grouped(
    protocol: Protocol, timeline: Any, analytes: Iterable[str], dialect: str, *, dated: bool
) -> Select[Any]:
    """One precision class's pass: per patient (pno) and analyte, each slot's packed key (k0...)."""
    tl = timeline
    joined = tl.join(OBS, and_(OBS.c.site == tl.c.site, OBS.c.patient_source_id == tl.c.pid))
    where = _filters(protocol, analytes, dated)
    epoch = st.epoch(OBS.c.effective_at)
    if dialect == "postgresql":
        # PostgreSQL groups by hashing, in any order: each row's epoch is computed once, in a
        # subquery kept apart (OFFSET 0), rather than once per use in every slot's aggregate.
        rows = (
            select(tl.c.pno, OBS.c.analyte, OBS.c.id, epoch.label("e"))
            .add_columns(tl.c.utc_offset, tl.c.t0, tl.c.t0_day, tl.c.eof)
            .select_from(joined)
            .where(*where)
            .offset(0)
            .subquery("placed")
        )
        c = rows.c
        rt = picks.RowTimes(c.e, c.utc_offset, c.t0, c.t0_day, c.eof, dated)
        keys = picks.pick_keys(protocol, rt, c.id)
        stmt = select(c.pno, c.analyte, *(k.label(f"k{i}") for i, (_s, k) in enumerate(keys)))
        return stmt.group_by(c.pno, c.analyte)
    # SQLite reads the patients in pno (rowid) order and each one's values from the covering
    # (site, patient, analyte, effective_at, ...) index: the groups arrive in order, no sort.
    rt = picks.RowTimes(epoch, tl.c.utc_offset, tl.c.t0, tl.c.t0_day, tl.c.eof, dated)
    keys = picks.pick_keys(protocol, rt, OBS.c.id)
    return (
        select(tl.c.pno, OBS.c.analyte, *(k.label(f"k{i}") for i, (_s, k) in enumerate(keys)))
        .select_from(joined)
        .where(*where)
        .group_by(tl.c.pno, OBS.c.analyte)
    )


def picks_statement(
    protocol: Protocol, timeline: Any, analytes: Iterable[str], dialect: str
) -> Select[Any]:
    """(pno, slot number, chosen observation id) for every slot that has a candidate.

    The timed and the date-only passes are merged per patient and analyte (the keys compare
    across them: both rank by instant).
    """
    count = len(picks.slots(protocol))
    passes = union_all(
        *(grouped(protocol, timeline, analytes, dialect, dated=d) for d in (False, True))
    ).subquery("passes")
    merged = [func.max(passes.c[f"k{i}"]).label(f"k{i}") for i in range(count)]
    found = st.materialized(
        select(passes.c.pno, *merged).group_by(passes.c.pno, passes.c.analyte).cte("picked")
    )
    parts = [
        select(found.c.pno, literal(i, Integer), picks.row_id_of(found.c[f"k{i}"], protocol)).where(
            found.c[f"k{i}"].is_not(None)
        )
        for i in range(count)
    ]
    return select(union_all(*parts).subquery("unpivoted"))


@contextmanager
def chosen(
    conn: Connection, protocol: Protocol, timeline: Any, analytes: Iterable[str]
) -> Iterator[Table]:
    """Fill a temporary table with the chosen row of every patient, analyte and slot."""
    picks.check_ids(conn.scalar(select(OBS.c.id).order_by(OBS.c.id.desc()).limit(1)),
                    picks.slots(protocol))  # fmt: skip
    conn.execute(text(f"DROP TABLE IF EXISTS {PICKS.name}"))
    PICKS.create(conn)
    rows = picks_statement(protocol, timeline, analytes, conn.dialect.name)
    conn.execute(insert(PICKS).from_select(["pno", "slot", "observation_id"], rows))
    conn.execute(text(f"ANALYZE {PICKS.name}"))
    try:
        yield PICKS
    finally:
        PICKS.drop(conn)

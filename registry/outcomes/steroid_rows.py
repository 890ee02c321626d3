"""Glucocorticoid rows for the steroid outcome (CLINICAL-SPEC 4.3), one query per source kind.

Administrations, order dose instructions (MedicationRequest / MedicationStatement) and body
weights of the cohort's sites, as plain frozen rows with exact doses (Fractions from the decimal
strings), local dates already resolved.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from fractions import Fraction

from sqlalchemy import Connection, Table, select

from registry import tables
from registry.outcomes import rawtime
from registry.outcomes.index_sql import VALID_STATUSES, patients_of
from registry.outcomes.protocol import Protocol

MA = tables.MEDICATION_ADMINISTRATION
ORDER = tables.MEDICATION_ORDER
DOSE = tables.MEDICATION_ORDER_DOSE
OBS = tables.OBSERVATION
GLUCOCORTICOID = "glucocorticoid"
Key = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Given:
    """A glucocorticoid administration: local date, ingredient, exact mg and factor."""

    row_id: int
    day: date
    ingredient: str
    mg: Fraction | None
    factor: Fraction | None
    route_class: str
    status: str
    eq: Fraction | None = None  # prednisone-equivalent mg (mg x factor), when both are known


@dataclass(frozen=True, slots=True)
class Instruction:
    """One dosage instruction of an order, with the local dates it covers (end None = open)."""

    row_id: int
    order_id: int
    kind: str  # request | statement
    status: str
    ingredient: str
    daily_mg: Fraction | None
    factor: Fraction | None
    first: date | None
    last: date | None
    route_class: str
    as_needed: bool


@functools.lru_cache(maxsize=4096)
def exact(value: float | None) -> Fraction | None:
    """The exact decimal a float column stores (a dose written '7.5' is 15/2)."""
    return None if value is None else Fraction(Decimal(repr(value)))


@functools.lru_cache(maxsize=1024)
def fraction(text: str | None) -> Fraction | None:
    """A factor stored as an exact fraction string ('20/3')."""
    return None if not text else Fraction(text)


@functools.lru_cache(maxsize=4096)
def equivalent(mg: float | None, factor: str | None) -> Fraction | None:
    """Prednisone-equivalent mg of a dose (exact), None when the dose or factor is unknown."""
    dose, ratio = exact(mg), fraction(factor)
    return None if dose is None or ratio is None else dose * ratio


def local_date(at: datetime | None, precision: str | None, offset: int) -> date | None:
    """The local date of a stored time; a date-only value is its own (floating) date."""
    if at is None:
        return None
    if precision in ("year", "month", "day"):
        return at.astimezone(UTC).date()
    return at.astimezone(timezone(timedelta(seconds=offset))).date()


def bound_date(at: datetime | None, offset: int) -> date | None:
    """The local date of a boundsPeriod edge.

    The registry keeps no precision for it, so 00:00:00 UTC exactly is read as a floating date
    (how date-only values are stored), anything else as an instant.
    """
    if at is None:
        return None
    if at.astimezone(UTC).time() == time(0):
        return at.astimezone(UTC).date()
    return local_date(at, "second", offset)


def load_given(
    conn: Connection, protocol: Protocol, sites: Sequence[str], *, within: Table | None = None
) -> dict[Key, list[Given]]:
    """Glucocorticoid administrations per patient (any status and route: filtered later)."""
    stmt = select(
        MA.c.id,
        MA.c.site,
        MA.c.patient_source_id,
        MA.c.ingredient,
        MA.c.dose_mg,
        MA.c.prednisone_factor,
        MA.c.route_class,
        MA.c.status,
        rawtime.untyped(MA.c.effective_at),
        MA.c.effective_precision,
    ).where(
        MA.c.drug_class == GLUCOCORTICOID, MA.c.exclusion.is_(None), *patients_of(MA, sites, within)
    )
    if protocol.data_cutoff is not None:
        stmt = stmt.where(MA.c.effective_at <= protocol.data_cutoff)
    out: dict[Key, list[Given]] = defaultdict(list)
    zones: dict[str, timezone] = {}
    for rid, site, pid, ingredient, mg, factor, route, status, raw, precision in conn.execute(stmt):
        zone = zones.get(site) or zones.setdefault(
            site, timezone(timedelta(seconds=protocol.offset_for(site)))
        )
        moment = rawtime.to_datetime(raw)
        assert moment is not None  # noqa: S101 - effective_at is NOT NULL
        day = moment.date() if precision in rawtime.DATE_ONLY else moment.astimezone(zone).date()
        out[(site, pid)].append(
            Given(
                rid,
                day,
                ingredient or "unknown",
                exact(mg),
                fraction(factor),
                route,
                status,
                equivalent(mg, factor),
            )
        )
    return out


def load_instructions(
    conn: Connection, protocol: Protocol, sites: Sequence[str], *, within: Table | None = None
) -> dict[Key, list[Instruction]]:
    """Dosage instructions of glucocorticoid orders per patient."""
    stmt = (
        select(
            DOSE.c.id,
            DOSE.c.daily_dose_mg,
            DOSE.c.bounds_start,
            DOSE.c.bounds_end,
            DOSE.c.route_class,
            DOSE.c.as_needed,
            ORDER.c.id.label("order_id"),
            ORDER.c.site,
            ORDER.c.patient_source_id,
            ORDER.c.kind,
            ORDER.c.status,
            ORDER.c.ingredient,
            ORDER.c.prednisone_factor,
            ORDER.c.effective_start,
            ORDER.c.effective_end,
            ORDER.c.effective_precision,
        )
        .join(ORDER, ORDER.c.id == DOSE.c.order_id)
        .where(
            ORDER.c.drug_class == GLUCOCORTICOID,
            ORDER.c.exclusion.is_(None),
            *patients_of(ORDER, sites, within),
        )
    )
    out: dict[Key, list[Instruction]] = defaultdict(list)
    for r in conn.execute(stmt):
        off = protocol.offset_for(r.site)
        first = bound_date(r.bounds_start, off) or local_date(
            r.effective_start, r.effective_precision, off
        )
        last = bound_date(r.bounds_end, off) or local_date(
            r.effective_end, r.effective_precision, off
        )
        out[(r.site, r.patient_source_id)].append(
            Instruction(
                r.id,
                r.order_id,
                r.kind,
                r.status,
                r.ingredient or "unknown",
                exact(r.daily_dose_mg),
                fraction(r.prednisone_factor),
                first,
                last,
                r.route_class,
                bool(r.as_needed),
            )
        )
    return out


def load_weights(
    conn: Connection, protocol: Protocol, sites: Sequence[str], *, within: Table | None = None
) -> dict[Key, list[tuple[date, float, int]]]:
    """Valid body weights per patient as (local date, kg, observation id), by date."""
    stmt = select(
        OBS.c.id,
        OBS.c.site,
        OBS.c.patient_source_id,
        OBS.c.value,
        OBS.c.effective_at,
        OBS.c.effective_precision,
    ).where(
        OBS.c.analyte == "body_weight",
        OBS.c.status.in_(VALID_STATUSES),
        OBS.c.exclusion.is_(None),
        OBS.c.value.is_not(None),
        *patients_of(OBS, sites, within),
    )
    out: dict[Key, list[tuple[date, float, int]]] = defaultdict(list)
    for r in conn.execute(stmt):
        day = local_date(r.effective_at, r.effective_precision, protocol.offset_for(r.site))
        if day is not None:
            out[(r.site, r.patient_source_id)].append((day, float(r.value), r.id))
    for items in out.values():
        items.sort()
    return out

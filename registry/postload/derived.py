"""ANC derived from WBC and neutrophil % (CLINICAL-SPEC 6.4), only where no ANC was measured.

ANC (10*9/L) = WBC (10*9/L) x neutrophil% / 100, using the same specimen: both results in the
same DiagnosticReport or panel, or taken at the same instant. A derived row points to both source
rows (and so to both source resources and versions); it is recomputed every run, and deleted
automatically when either source row is replaced (foreign keys, ON DELETE CASCADE).
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from registry import tables
from registry.postload.common import VALID_STATUSES

OBS = tables.OBSERVATION
SR = tables.SOURCE_RECORD
MEMBER = tables.GROUP_MEMBER
DERIVATION = "ANC = WBC x neutrophil% / 100"


def derive_anc(conn: Connection, *, site: str) -> int:
    """Bring the derived ANC rows of a site up to date; return how many exist afterwards."""
    rows = _source_rows(conn, site)
    measured = {(r.patient_source_id, r.effective_at) for r in rows if r.analyte == "ANC"}
    pairs = _pairs(conn, site, rows)
    wanted: dict[tuple[int, int], Any] = {}
    for wbc, pct in pairs:
        if (wbc.patient_source_id, wbc.effective_at) in measured:
            continue
        wanted[(wbc.id, pct.id)] = (wbc, pct)
    existing = {
        (r.derived_from_id, r.derived_from_other_id): r
        for r in conn.execute(
            select(OBS.c.id, OBS.c.derived_from_id, OBS.c.derived_from_other_id, OBS.c.value).where(
                OBS.c.site == site, OBS.c.derivation == DERIVATION
            )
        )
    }
    stale = [r.id for key, r in existing.items() if key not in wanted]
    for start in range(0, len(stale), 500):
        conn.execute(delete(OBS).where(OBS.c.id.in_(stale[start : start + 500])))
    new_rows = []
    for key, (wbc, pct) in wanted.items():
        value = float(_anc(wbc.value, pct.value))
        if key in existing:
            if existing[key].value != value:
                conn.execute(update(OBS).where(OBS.c.id == existing[key].id).values(value=value))
            continue
        new_rows.append(_derived_row(site, wbc, pct, value))
    if new_rows:
        conn.execute(insert(OBS), new_rows)
    return len(wanted)


def _anc(wbc: float, pct: float) -> Fraction:
    """Exact WBC x % / 100 from the stored values."""
    return Fraction(Decimal(repr(wbc))) * Fraction(Decimal(repr(pct))) / 100


def _source_rows(conn: Connection, site: str) -> list[Any]:
    """Valid, unexcluded WBC, neutrophil % and measured ANC rows of a site."""
    stmt = (
        select(
            OBS.c.id,
            OBS.c.patient_source_id,
            OBS.c.analyte,
            OBS.c.effective_at,
            OBS.c.effective_precision,
            OBS.c.value,
            OBS.c.status,
            OBS.c.source_record_id,
            SR.c.resource_id,
        )
        .join(SR, SR.c.id == OBS.c.source_record_id)
        .where(
            OBS.c.site == site,
            OBS.c.analyte.in_(("WBC", "neutrophils_pct", "ANC")),
            OBS.c.derivation.is_(None),
            OBS.c.exclusion.is_(None),
            OBS.c.status.in_(VALID_STATUSES),
            OBS.c.value.is_not(None),
        )
    )
    return list(conn.execute(stmt))


def _pairs(conn: Connection, site: str, rows: list[Any]) -> list[tuple[Any, Any]]:
    """Pair each WBC with one neutrophil %: same report/panel first, else same instant."""
    by_resource = {r.resource_id: r for r in rows if r.analyte in ("WBC", "neutrophils_pct")}
    groups: dict[int, list[Any]] = defaultdict(list)
    for group_id, member_id in conn.execute(
        select(MEMBER.c.group_id, MEMBER.c.member_id).where(
            MEMBER.c.site == site, MEMBER.c.member_type == "Observation"
        )
    ):
        if member_id in by_resource:
            groups[group_id].append(by_resource[member_id])
    pairs: dict[int, tuple[Any, Any]] = {}
    for members in groups.values():
        wbcs = [m for m in members if m.analyte == "WBC"]
        pcts = [m for m in members if m.analyte == "neutrophils_pct"]
        if (
            len(wbcs) == 1
            and len(pcts) == 1
            and wbcs[0].patient_source_id == pcts[0].patient_source_id
        ):
            pairs.setdefault(wbcs[0].id, (wbcs[0], pcts[0]))
    by_instant: dict[tuple[str, Any], list[Any]] = defaultdict(list)
    for r in rows:
        if r.effective_at is not None and r.effective_precision in ("minute", "second"):
            by_instant[(r.patient_source_id, r.effective_at)].append(r)
    for members in by_instant.values():
        wbcs = [m for m in members if m.analyte == "WBC"]
        pcts = [m for m in members if m.analyte == "neutrophils_pct"]
        if len(wbcs) == 1 and len(pcts) == 1:
            pairs.setdefault(wbcs[0].id, (wbcs[0], pcts[0]))
    return list(pairs.values())


def _derived_row(site: str, wbc: Any, pct: Any, value: float) -> dict[str, Any]:
    """The observation row of a derived ANC."""
    return {
        "source_record_id": wbc.source_record_id,
        "site": site,
        "patient_source_id": wbc.patient_source_id,
        "component_index": None,
        "analyte": "ANC",
        "analyte_match": "derived",
        "code_text": "ANC derived from WBC and neutrophil % (CLINICAL-SPEC 6.4)",
        "category": "laboratory",
        "status": wbc.status,
        "value": value,
        "unit": "10*9/L",
        "effective_at": wbc.effective_at,
        "effective_precision": wbc.effective_precision,
        "derivation": DERIVATION,
        "derived_from_id": wbc.id,
        "derived_from_other_id": pct.id,
    }

"""Infection evidence rows (CLINICAL-SPEC 5.1, 6.6), each with its source lineage.

Viral DNA and serology results, coded Conditions and AdverseEvents, antiviral administrations.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, select

from adapter import codes
from adapter.textmatch import find_form, find_terms
from registry import tables
from registry.outcomes.index_sql import VALID_STATUSES, patients_of
from registry.outcomes.protocol import Protocol
from registry.outcomes.rawtime import iso
from registry.outcomes.values import Source

OBS = tables.OBSERVATION
COND = tables.CONDITION
AE = tables.ADVERSE_EVENT
MA = tables.MEDICATION_ADMINISTRATION
SR = tables.SOURCE_RECORD
Key = tuple[str, str]
# SNOMED CT result codes (Positive 10828004, Detected 260373001, Present 52101004; Negative
# 260385009, Not detected 260415000, Absent 2667000) and words, English and Chinese (INFERRED).
POSITIVE_CODES = frozenset({"10828004", "260373001", "52101004", "POS", "DET"})
NEGATIVE_CODES = frozenset({"260385009", "260415000", "2667000", "NEG", "ND"})
POSITIVE_WORDS = {find_form(w): "+" for w in ("positive", "detected", "present", "阳性", "检出")}
NEGATIVE_WORDS = {
    find_form(w): "-"
    for w in ("negative", "not detected", "undetected", "absent", "阴性", "未检出", "未检测到")
}
_NON_BLOOD = {find_form(t): t for t in codes.NON_BLOOD_SPECIMEN_TERMS}


@dataclass(frozen=True, slots=True)
class Event:
    """A dated piece of infection evidence: a result, a coded diagnosis or an administration."""

    kind: str  # dna | igg | condition | adverse_event | treatment
    organism: str
    row_id: int
    at: datetime
    precision: str
    result: str | None  # positive | negative | None (not readable)
    shown: str  # the value as reported, or the term
    source: Source
    value: float | None = None  # quantitative results, canonical unit
    unit: str | None = None


def read_result(row: Any) -> str | None:
    """Positive, negative or None for a qualitative or quantitative viral result (5.1a, 6.4)."""
    if row.value_code in POSITIVE_CODES:
        return "positive"
    if row.value_code in NEGATIVE_CODES:
        return "negative"
    for text in (row.value_string, row.value_code_display):
        if text:
            neg = find_terms(text, NEGATIVE_WORDS)
            if neg:
                return "negative"
            if find_terms(text, POSITIVE_WORDS):
                return "positive"
    if row.value is not None:
        if row.comparator in ("<", "<="):
            return "negative"  # below the lower limit of quantification: not detected (6.4)
        return "positive" if row.value > 0 else "negative"
    return None


def blood_specimen(specimen: str | None) -> bool:
    """Blood, serum or plasma, or not stated (5.1a)."""
    if not specimen:
        return True
    if specimen.strip() in codes.NON_BLOOD_SPECIMEN_CODES:
        return False
    return not find_terms(specimen, _NON_BLOOD)


def _source(row: Any) -> Source:
    return Source(
        row.resource_type, row.resource_id, row.version_id, iso(row.last_updated), row.record_id
    )


LINEAGE = (
    SR.c.id.label("record_id"),
    SR.c.resource_type,
    SR.c.resource_id,
    SR.c.version_id,
    SR.c.last_updated,
)


def load_results(
    conn: Connection,
    protocol: Protocol,
    sites: Sequence[str],
    analytes: dict[str, tuple[str, str]],
    *,
    within: Table | None = None,
) -> dict[Key, list[Event]]:
    """Viral DNA and IgG results per patient; `analytes` maps analyte -> (organism, kind)."""
    stmt = (
        select(OBS, *LINEAGE)
        .join(SR, SR.c.id == OBS.c.source_record_id)
        .where(
            OBS.c.analyte.in_(sorted(analytes)),
            OBS.c.status.in_(VALID_STATUSES),
            OBS.c.exclusion.is_(None),
            OBS.c.effective_at.is_not(None),
            *patients_of(OBS, sites, within),
        )
    )
    out: dict[Key, list[Event]] = defaultdict(list)
    for row in conn.execute(stmt):
        organism, kind = analytes[row.analyte]
        if kind == "dna" and not blood_specimen(row.specimen):
            continue
        shown = (
            row.value_code_display
            or row.value_string
            or (f"{row.comparator or ''}{row.value_original} {row.unit_original or ''}".strip())
        )
        out[(row.site, row.patient_source_id)].append(
            Event(
                kind,
                organism,
                row.id,
                row.effective_at,
                row.effective_precision or "second",
                read_result(row),
                shown,
                _source(row),
                row.value,
                row.unit,
            )
        )
    return out


def load_coded(
    conn: Connection, sites: Sequence[str], organisms: Iterable[str], *, within: Table | None = None
) -> dict[Key, list[Event]]:
    """Coded infection Conditions and actual AdverseEvents per patient."""
    wanted = sorted(set(organisms))
    lineage = LINEAGE
    when = COND.c.onset_at
    conditions = (
        select(COND, *lineage)
        .join(SR, SR.c.id == COND.c.id)
        .where(
            COND.c.category == "infection",
            COND.c.concept.in_(wanted),
            COND.c.exclusion.is_(None),
            when.is_not(None),
            COND.c.verification_status.is_(None)
            | COND.c.verification_status.not_in(["refuted", "entered-in-error"]),
            *patients_of(COND, sites, within),
        )
    )
    out: dict[Key, list[Event]] = defaultdict(list)
    for r in conn.execute(conditions):
        out[(r.site, r.patient_source_id)].append(
            Event(
                "condition",
                r.concept,
                r.id,
                r.onset_at,
                r.onset_precision or "second",
                "positive",
                r.code_display or r.code_text or r.code or "",
                _source(r),
            )
        )
    events = (
        select(AE, *lineage)
        .join(SR, SR.c.id == AE.c.id)
        .where(
            AE.c.actuality == "actual",
            AE.c.infection_organism.in_(wanted),
            AE.c.exclusion.is_(None),
            AE.c.occurred_at.is_not(None),
            *patients_of(AE, sites, within),
        )
    )
    for r in conn.execute(events):
        out[(r.site, r.patient_source_id)].append(
            Event(
                "adverse_event",
                r.infection_organism,
                r.id,
                r.occurred_at,
                r.occurred_precision or "second",
                "positive",
                r.term_display or r.term_text or r.term_code or "",
                _source(r),
            )
        )
    return out


def load_treatments(
    conn: Connection, sites: Sequence[str], drugs: dict[str, str], *, within: Table | None = None
) -> dict[Key, list[Event]]:
    """Completed administrations of the organisms' treatments (`drugs`: ingredient -> organism)."""
    if not drugs:
        return {}
    stmt = (
        select(MA, *LINEAGE)
        .join(SR, SR.c.id == MA.c.id)
        .where(
            MA.c.ingredient.in_(sorted(drugs)),
            MA.c.status == "completed",
            MA.c.exclusion.is_(None),
            *patients_of(MA, sites, within),
        )
    )
    out: dict[Key, list[Event]] = defaultdict(list)
    for r in conn.execute(stmt):
        out[(r.site, r.patient_source_id)].append(
            Event(
                "treatment",
                drugs[r.ingredient],
                r.id,
                r.effective_at,
                r.effective_precision,
                None,
                r.ingredient,
                _source(r),
            )
        )
    return out

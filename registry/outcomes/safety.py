"""Adverse events by term and grade, and serious adverse events (CLINICAL-SPEC 5.2-5.4).

Only `actuality = actual` events count; `potential` ones are near misses, listed apart. An event
is serious when its seriousness is Serious (either code-system spelling, any sub-code), it has a
seriousness criterion, its outcome is fatal, or (default on) its CTCAE grade is >= 4. Severity
("severe") is never seriousness. Treatment-emergent = on or after the T0 date, up to the end of
follow-up (a protocol CHOICE); earlier events are counted apart.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from registry import tables
from registry.outcomes.rawtime import iso
from registry.outcomes.values import Citations, IndexEvent, Source

AE = tables.ADVERSE_EVENT
CRIT = tables.ADVERSE_EVENT_CRITERION
SR = tables.SOURCE_RECORD
Key = tuple[str, str]


@dataclass(frozen=True, slots=True)
class AdverseEventRow:
    """One adverse event as recorded, with its seriousness criteria and source."""

    row_id: int
    actuality: str
    term: str
    grade: int | None
    severity: str | None
    is_serious: bool | None
    seriousness_code: str | None
    outcome: str | None
    criteria: tuple[str, ...]
    at: datetime | None
    precision: str | None
    source: Source

    def serious_because(self, grade_4: bool) -> list[str]:
        """Why the event is serious (5.2), empty when it is not."""
        why = []
        if self.is_serious:
            why.append(f"seriousness {self.seriousness_code}")
        why += [f"criterion {c}" for c in self.criteria]
        if self.outcome == "fatal":
            why.append("outcome fatal")
        if grade_4 and self.grade is not None and self.grade >= 4:
            why.append(f"CTCAE grade {self.grade}")
        return why

    def evidence(self, cite: Citations) -> dict[str, Any]:
        """JSON form; the source as its record id (cited in `cite`)."""
        return {
            "adverse_event_id": self.row_id,
            "term": self.term,
            "grade": self.grade,
            "severity": self.severity,
            "outcome": self.outcome,
            "occurred": self.at.isoformat() if self.at else None,
            "source": cite.cite(self.source),
        }


def load_adverse_events(conn: Connection, sites: Sequence[str]) -> dict[Key, list[AdverseEventRow]]:
    """Every non-excluded adverse event per patient, with criteria and lineage."""
    criteria: dict[int, list[str]] = defaultdict(list)
    for ae_id, criterion in conn.execute(select(CRIT.c.adverse_event_id, CRIT.c.criterion)):
        criteria[ae_id].append(criterion)
    stmt = (
        select(AE, SR.c.resource_type, SR.c.resource_id, SR.c.version_id, SR.c.last_updated)
        .join(SR, SR.c.id == AE.c.id)
        .where(AE.c.exclusion.is_(None), *([AE.c.site.in_(list(sites))] if sites else []))
    )
    out: dict[Key, list[AdverseEventRow]] = defaultdict(list)
    for r in conn.execute(stmt):
        when = r.occurred_at or r.detected_at or r.recorded_at
        out[(r.site, r.patient_source_id)].append(
            AdverseEventRow(
                r.id,
                r.actuality,
                r.term_display or r.term_text or r.term_code or "(no term)",
                r.ctcae_grade,
                r.severity,
                r.is_serious,
                r.seriousness_code,
                r.outcome,
                tuple(sorted(criteria.get(r.id, []))),
                when,
                r.occurred_precision if r.occurred_at else None,
                Source(r.resource_type, r.resource_id, r.version_id, iso(r.last_updated), r.id),
            )
        )
    return out


def emergent(event: AdverseEventRow, ie: IndexEvent) -> bool:
    """On or after the T0 date and up to the end of follow-up; unknown time counts (safety)."""
    if event.at is None:
        return True
    day = ie.local_date_of(event.at, event.precision)
    return ie.t0_date <= day <= ie.local_date_of(ie.end_of_follow_up)


def summarise(
    cohort: Sequence[IndexEvent],
    events: Mapping[Key, Sequence[AdverseEventRow]],
    cfg: Mapping[str, Any],
    cite: Citations | None = None,
) -> dict[str, Any]:
    """AEs by term and grade, SAEs with criteria, near misses and pre-index events.

    The listed events' sources go to `cite` (the report's `sources`).
    """
    cite = cite if cite is not None else Citations()
    grade_4 = bool(cfg["grade_4_is_serious"])
    terms: dict[str, dict[str, Any]] = {}
    serious, near_misses, pre_index = [], [], 0
    for ie in cohort:
        for ev in events.get(ie.key, ()):
            if ev.actuality != "actual":
                near_misses.append({"patient_ref": f"Patient/{ie.patient_id}", **ev.evidence(cite)})
                continue
            if cfg["treatment_emergent_only"] and not emergent(ev, ie):
                pre_index += 1
                continue
            entry = terms.setdefault(ev.term, {"term": ev.term, "events": 0, "patients": set()})
            entry["events"] += 1
            entry["patients"].add(ie.key)
            grade = str(ev.grade) if ev.grade is not None else "unknown"
            entry.setdefault("by_grade", {}).setdefault(grade, 0)
            entry["by_grade"][grade] += 1
            why = ev.serious_because(grade_4)
            if why:
                serious.append(
                    {
                        "patient_ref": f"Patient/{ie.patient_id}",
                        "site": ie.site,
                        "criteria": why,
                        **ev.evidence(cite),
                    }
                )
    by_term = [
        {**entry, "patients": len(entry["patients"])}
        for entry in sorted(terms.values(), key=lambda e: (-len(e["patients"]), e["term"]))
    ]
    return {
        "adverse_events": {
            "by_term": by_term,
            "events": sum(e["events"] for e in by_term),
            "patients": len({k for e in terms.values() for k in e["patients"]}),
            "pre_index_events": pre_index,
            "near_misses": near_misses,
        },
        "serious_adverse_events": {
            "patients": len({(s["site"], s["patient_ref"]) for s in serious}),
            "events": len(serious),
            "list": serious,
        },
    }

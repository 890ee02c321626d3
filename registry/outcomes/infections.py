"""Incident and prevalent infections per organism (CLINICAL-SPEC 5.1; issue 3 item 6).

Incident: the first qualifying event in (T0, end of follow-up]: a positive viral DNA result on
blood, serum or plasma, or a coded Condition / actual AdverseEvent. Prevalent: a qualifying
positive in the 30 days before T0 (up to T0); reported apart and, by default, not incident too.
Counted per patient; episodes (a negative DNA result ends one), time to first positive, peak
load, and reactivation (IgG positive before T0) vs primary (IgG negative) vs unknown.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from registry.outcomes import stats
from registry.outcomes.infection_rows import Event
from registry.outcomes.values import IndexEvent


@dataclass(frozen=True)
class Infection:
    """One patient's status for one organism, with the events that decided it."""

    organism: str
    incident: tuple[Event, ...]
    prevalent: tuple[Event, ...]
    episodes: int
    serology: Event | None
    treatments: tuple[Event, ...]
    first_day: int | None

    @property
    def counted(self) -> bool:
        """Counted in the numerator: an incident infection."""
        return bool(self.incident)

    @property
    def kind(self) -> str:
        """Reactivation, primary or unknown (5.1.3)."""
        if self.serology is None or self.serology.result is None:
            return "unknown"
        return "reactivation" if self.serology.result == "positive" else "primary"

    @property
    def disease(self) -> bool:
        """Coded CMV/organism disease (never from PCR alone, 5.1.4)."""
        return any(e.kind in ("condition", "adverse_event") for e in self.incident)

    @property
    def peak(self) -> Event | None:
        """The highest quantitative positive result after T0."""
        loads = [e for e in self.incident if e.kind == "dna" and e.value is not None]
        return max(loads, key=lambda e: (e.value or 0.0, e.at)) if loads else None


def _day(event: Event, ie: IndexEvent) -> int:
    """Study day of an event (floor of elapsed days; date-only by local date)."""
    if event.precision in ("year", "month", "day"):
        return int((ie.local_date_of(event.at, event.precision) - ie.t0_date).days)
    return (event.at - ie.t0) // timedelta(days=1)


def _after_t0(event: Event, ie: IndexEvent) -> bool:
    """Strictly after T0; a date-only event on the T0 date is not (as for baseline values)."""
    if event.precision in ("year", "month", "day"):
        return _day(event, ie) > 0
    return event.at > ie.t0


def _until_eof(event: Event, ie: IndexEvent) -> bool:
    if event.precision in ("year", "month", "day"):
        return ie.local_date_of(event.at, event.precision) <= ie.local_date_of(ie.end_of_follow_up)
    return event.at <= ie.end_of_follow_up


def _episodes(events: Sequence[Event]) -> int:
    """Runs of positives; a negative DNA result in between starts a new one."""
    count, inside = 0, False
    for event in sorted(events, key=lambda e: (e.at, e.row_id)):
        if event.result == "positive":
            count += 0 if inside else 1
            inside = True
        elif event.kind == "dna" and event.result == "negative":
            inside = False
    return count


def classify(
    ie: IndexEvent, organism: str, events: Sequence[Event], cfg: Mapping[str, Any]
) -> Infection:
    """One patient's infection status for one organism."""
    mine = [e for e in events if e.organism == organism]
    lookback = int(cfg["prevalent_lookback_days"])
    qualifying = [e for e in mine if e.kind != "igg" and e.kind != "treatment"]
    prevalent = tuple(
        e
        for e in qualifying
        if e.result == "positive" and not _after_t0(e, ie) and _day(e, ie) >= -lookback
    )
    window = [e for e in qualifying if _after_t0(e, ie) and _until_eof(e, ie)]
    incident = tuple(sorted((e for e in window if e.result == "positive"), key=lambda e: e.at))
    if prevalent and cfg["prevalent_excludes_incident"]:
        incident = ()
    igg = [e for e in mine if e.kind == "igg" and not _after_t0(e, ie) and e.result is not None]
    treatments = tuple(e for e in mine if e.kind == "treatment" and _after_t0(e, ie))
    return Infection(
        organism=organism,
        incident=incident,
        prevalent=prevalent,
        episodes=_episodes(window) if incident else 0,
        serology=max(igg, key=lambda e: (e.at, e.row_id)) if igg else None,
        treatments=treatments if incident else (),
        first_day=_day(incident[0], ie) if incident else None,
    )


def cohort_table(
    organisms: Sequence[str], per_patient: Sequence[Mapping[str, Infection]], n: int
) -> list[dict[str, Any]]:
    """Per organism: patients with an incident infection, prevalent cases, episodes, timing."""
    table = []
    for organism in organisms:
        found = [p[organism] for p in per_patient if organism in p]
        counted = [i for i in found if i.counted]
        days = [float(i.first_day) for i in counted if i.first_day is not None]
        table.append(
            {
                "organism": organism,
                "patients": len(counted),
                "n": n,
                "percent": stats.percent(len(counted), n),
                "ci95": list(stats.clopper_pearson(len(counted), n) or []) or None,
                "prevalent_patients": sum(1 for i in found if i.prevalent),
                "episodes": sum(i.episodes for i in counted),
                "reactivation": sum(1 for i in counted if i.kind == "reactivation"),
                "primary": sum(1 for i in counted if i.kind == "primary"),
                "unknown_serology": sum(1 for i in counted if i.kind == "unknown"),
                "coded_disease_patients": sum(1 for i in counted if i.disease),
                "days_to_first_positive": stats.describe(days, "0.1"),
            }
        )
    return table

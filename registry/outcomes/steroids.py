"""Daily prednisone-equivalent dose and steroid sparing (CLINICAL-SPEC 4.2-4.3; issue 3 item 5).

Per patient and local calendar day, per drug: completed administrations first, else the active or
completed MedicationRequest instruction covering the day, else an active MedicationStatement;
never two sources for one drug and day. Systemic routes only; PRN instructions count only when
administered. Daily total = sum over drugs of mg x exact factor. Reduction = (baseline - end of
follow-up) / baseline x 100, NA when the baseline is 0.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from fractions import Fraction
from itertools import pairwise
from typing import Any

from registry.outcomes import stats
from registry.outcomes.protocol import Protocol
from registry.outcomes.steroid_rows import Given, Instruction
from registry.outcomes.values import IndexEvent


@dataclass(frozen=True, slots=True)
class DayDose:
    """A day's prednisone-equivalent total with the rows behind each drug's dose.

    A run of `days` consecutive days from `day` with the same dose, weight and rows (a course is
    stored as such runs: a taper order covers months with one dose).
    """

    day: date
    study_day: int
    mg: Fraction
    mg_per_kg: Fraction | None
    pulse: bool
    sources: tuple[tuple[str, str, tuple[int, ...]], ...]  # (drug, kind, source record ids)
    days: int = 1

    @property
    def last_study_day(self) -> int:
        """The study day of the run's last day."""
        return self.study_day + self.days - 1

    def on(self, study_day: int) -> DayDose:
        """The single day `study_day` of the run."""
        offset = study_day - self.study_day
        return DayDose(self.day + timedelta(days=offset), study_day, self.mg, self.mg_per_kg,
                       self.pulse, self.sources)  # fmt: skip


@dataclass(frozen=True)
class SteroidCourse:
    """One patient's steroid course and reduction (4.3.7-4.3.9); `runs` cover every day."""

    runs: tuple[DayDose, ...]
    baseline: DayDose | None
    end: DayDose | None
    weeks: dict[str, Fraction | None] = field(default_factory=dict)
    excluded_rows: dict[str, int] = field(default_factory=dict)  # route class -> rows left out

    @property
    def reduction(self) -> Fraction | None:
        """Per-patient reduction %, None (NA) when there is no baseline dose."""
        if self.baseline is None or self.end is None or self.baseline.mg == 0:
            return None
        return (self.baseline.mg - self.end.mg) / self.baseline.mg * 100

    @property
    def pulse_days(self) -> list[DayDose]:
        """Runs of days flagged as pulses."""
        return [d for d in self.runs if d.pulse]

    @property
    def pulse_day_count(self) -> int:
        """The number of pulse days."""
        return sum(d.days for d in self.runs if d.pulse)

    @property
    def pulse_mg(self) -> Fraction:
        """The cumulative prednisone-equivalent dose of the pulse days."""
        return sum((d.mg * d.days for d in self.runs if d.pulse), Fraction(0))


def _day_drugs(
    day: date,
    given: Mapping[date, list[Given]],
    orders: Sequence[Instruction],
    cfg: Mapping[str, Any],
) -> dict[str, tuple[str, Fraction, Fraction, tuple[int, ...]]]:
    """Per drug on one day: (source kind, mg, prednisone-eq mg, row ids), by source priority."""
    out: dict[str, tuple[str, Fraction, Fraction, tuple[int, ...]]] = {}
    for g in given.get(day, []):
        if g.mg is None or g.factor is None:
            continue
        dose = g.eq if g.eq is not None else g.mg * g.factor
        found = out.get(g.ingredient)
        if found is None:
            out[g.ingredient] = ("administration", g.mg, dose, (g.row_id,))
        else:
            kind, mg, eq, ids = found
            out[g.ingredient] = (kind, mg + g.mg, eq + dose, (*ids, g.row_id))
    for kind in ("request", "statement"):
        for drug, (mg, eq, ids) in _ordered(day, orders, kind).items():
            out.setdefault(drug, (kind, mg, eq, ids))
    return out


def _ordered(
    day: date, orders: Sequence[Instruction], kind: str
) -> dict[str, tuple[Fraction, Fraction, tuple[int, ...]]]:
    """Daily mg per drug from the instructions of one kind covering the day (latest order wins)."""
    covering = [
        o
        for o in orders
        if o.kind == kind
        and o.first is not None
        and o.first <= day
        and (o.last is None or day <= o.last)
    ]
    by_drug: dict[str, dict[int, list[Instruction]]] = defaultdict(lambda: defaultdict(list))
    for o in covering:
        by_drug[o.ingredient][o.order_id].append(o)
    out: dict[str, tuple[Fraction, Fraction, tuple[int, ...]]] = {}
    for drug, per_order in by_drug.items():
        # CHOICE: several orders covering one day: the one starting latest supersedes.
        order = max(
            per_order.values(),
            key=lambda items: (min(i.first for i in items if i.first), items[0].order_id),
        )
        mg = sum((i.daily_mg for i in order if i.daily_mg is not None), Fraction(0))
        factor = order[0].factor or Fraction(0)
        out[drug] = (mg, mg * factor, (order[0].order_id,))
    return out


def _eligible(
    given: Sequence[Given], orders: Sequence[Instruction], cfg: Mapping[str, Any]
) -> tuple[dict[date, list[Given]], list[Instruction], dict[str, int]]:
    """Keep systemic rows of the configured statuses; count the rest by route class."""
    routes = set(cfg["routes"])
    excluded: dict[str, int] = defaultdict(int)
    by_day: dict[date, list[Given]] = defaultdict(list)
    for g in given:
        if g.route_class not in routes:
            excluded[g.route_class] += 1
        elif g.status in cfg["administration_statuses"]:
            by_day[g.day].append(g)
    statuses = {"request": cfg["request_statuses"], "statement": cfg["statement_statuses"]}
    kept = []
    for o in orders:
        if o.route_class not in routes:
            excluded[o.route_class] += 1
        elif o.status in statuses[o.kind] and not o.as_needed:
            kept.append(o)
    return by_day, kept, dict(excluded)


def _weight(day: date, weights: Sequence[tuple[date, float, int]], lookback: int) -> float | None:
    """The latest body weight on or before the day, within the lookback."""
    found = [kg for when, kg, _id in weights if day - timedelta(days=lookback) <= when <= day]
    return found[-1] if found else None


def _cuts(
    first: date,
    last: date,
    given: Mapping[date, list[Given]],
    orders: Sequence[Instruction],
    weights: Sequence[tuple[date, float, int]],
    lookback: int,
) -> list[date]:
    """The days where the inputs of a day's dose can change, from `first` to `last` + 1.

    Administrations change their own day; an instruction its first day and the day after its
    last; a body weight the day it is measured and the day it falls out of the lookback.
    """
    after = last + timedelta(days=1)
    found = {first, after}
    for day in given:
        found.update((day, day + timedelta(days=1)))
    for o in orders:
        if o.first is not None:
            found.add(o.first)
            if o.last is not None:
                found.add(o.last + timedelta(days=1))
    for when, _kg, _id in weights:
        found.update((when, when + timedelta(days=lookback + 1)))
    return sorted(d for d in found if first <= d <= after)


def course(
    protocol: Protocol,
    event: IndexEvent,
    given: Sequence[Given],
    orders: Sequence[Instruction],
    weights: Sequence[tuple[date, float, int]],
) -> SteroidCourse:
    """A patient's daily doses from 7 days before T0 to the end of follow-up, and the reduction.

    Days are computed once per stretch where nothing changes (`_cuts`), as runs.
    """
    cfg = protocol.section("steroids")
    by_day, kept, excluded = _eligible(given, orders, cfg)
    t0_day = event.t0_date
    first = t0_day - timedelta(days=max(int(cfg["pulse_lookback_days"]), 7))
    last = event.local_date_of(event.end_of_follow_up)
    lookback = int(cfg["weight_lookback_days"])
    pulse_rule = (str(cfg["pulse_drug"]), Fraction(str(cfg["pulse_min_mg"])))
    runs: list[DayDose] = []
    for start, end in pairwise(_cuts(first, last, by_day, kept, weights, lookback)):
        mg, per_kg, pulse, sources = _dose_on(start, by_day, kept, weights, cfg, pulse_rule)
        span = (end - start).days
        prev = runs[-1] if runs else None
        if prev and (prev.mg, prev.mg_per_kg, prev.pulse, prev.sources) == (mg, per_kg, pulse,
                                                                              sources):  # fmt: skip
            runs[-1] = DayDose(prev.day, prev.study_day, mg, per_kg, pulse, sources,
                               prev.days + span)  # fmt: skip
        else:
            runs.append(DayDose(start, (start - t0_day).days, mg, per_kg, pulse, sources, span))
    return SteroidCourse(
        runs=tuple(runs),
        baseline=_baseline(runs, cfg),
        end=_on(runs, event.eof_day),
        weeks={t.name: _mean(runs, t.first_day, t.last_day) for t in protocol.timepoints},
        excluded_rows=excluded,
    )


@functools.lru_cache(maxsize=1024)
def _kg(kg: float) -> Fraction:
    """A body weight as the exact decimal it was written with."""
    return Fraction(str(kg))


def _dose_on(
    day: date,
    by_day: Mapping[date, list[Given]],
    orders: Sequence[Instruction],
    weights: Sequence[tuple[date, float, int]],
    cfg: Mapping[str, Any],
    pulse: tuple[str, Fraction],
) -> tuple[Fraction, Fraction | None, bool, tuple[tuple[str, str, tuple[int, ...]], ...]]:
    """(total mg, mg/kg, pulse, sources) of one day (4.3.2, 4.3.5, 4.3.6).

    `pulse` is (the pulse drug, its daily minimum mg).
    """
    covering = [
        o for o in orders if o.first is not None and o.first <= day
        and (o.last is None or day <= o.last)
    ]  # fmt: skip
    drugs = _day_drugs(day, by_day, covering, cfg) if covering or day in by_day else {}
    doses = [eq for _kind, _mg, eq, _ids in drugs.values()]
    total = doses[0] if len(doses) == 1 else sum(doses, Fraction(0))
    is_pulse = (drugs[pulse[0]][1] if pulse[0] in drugs else 0) >= pulse[1]
    sources = tuple((d, k, ids) for d, (k, _mg, _eq, ids) in sorted(drugs.items()))
    kg = _weight(day, weights, int(cfg["weight_lookback_days"])) if weights else None
    return total, None if kg is None else total / _kg(kg), is_pulse, sources


def _on(runs: Sequence[DayDose], study_day: int) -> DayDose | None:
    """The dose of one study day, if the course covers it."""
    for run in runs:
        if run.study_day <= study_day <= run.last_study_day:
            return run.on(study_day)
    return None


def _baseline(runs: Sequence[DayDose], cfg: Mapping[str, Any]) -> DayDose | None:
    """The baseline day (4.3.7): the T0 day, or the fallbacks."""
    today = _on(runs, 0)
    if today is not None and today.pulse and cfg["exclude_pulse_from_baseline"]:
        for back in range(1, int(cfg["pulse_lookback_days"]) + 1):
            day = _on(runs, -back)
            if day is not None and not day.pulse and day.mg > 0:
                return day
        return None
    if today is not None and today.mg > 0:
        return today
    for back in range(1, int(cfg["no_dose_lookback_days"]) + 1):
        day = _on(runs, -back)
        if day is not None and day.mg > 0:
            return day
    return today


def _mean(runs: Sequence[DayDose], first: int, last: int) -> Fraction | None:
    """The average daily total over a window's days (4.3.8)."""
    total, count = Fraction(0), 0
    for run in runs:
        overlap = min(last, run.last_study_day) - max(first, run.study_day) + 1
        if overlap > 0:
            total += run.mg * overlap
            count += overlap
    return total / count if count else None


def cohort_summary(courses: Sequence[SteroidCourse]) -> dict[str, Any]:
    """Both cohort statistics of 4.3.10, labelled, with their denominators."""
    reductions = [c.reduction for c in courses if c.reduction is not None]
    pairs = [(c.baseline.mg, c.end.mg) for c in courses if c.baseline and c.end]
    base_median = stats.median([b for b, _e in pairs])
    end_median = stats.median([e for _b, e in pairs])
    of_medians = None
    if base_median and end_median is not None:
        of_medians = (Fraction(base_median) - Fraction(end_median)) / Fraction(base_median) * 100
    median_reduction = stats.median(reductions)
    return {
        "median_individual_reduction_percent": _shown(median_reduction),
        "median_individual_reduction_label": "median of per-patient reductions (method a; the "
        "default reading of the paper's 85.5 %)",
        "reduction_of_medians_percent": _shown(of_medians),
        "reduction_of_medians_label": "(median baseline - median end) / median baseline (method b)",
        "baseline_median_mg": _shown(base_median, "0.01"),
        "end_median_mg": _shown(end_median, "0.01"),
        "n_with_reduction": len(reductions),
        "n_reduction_not_available": len(courses) - len(reductions),
    }


def _shown(value: Fraction | float | None, places: str = "0.1") -> float | None:
    return None if value is None else stats.round_half_up(Fraction(value), places)

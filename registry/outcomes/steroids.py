"""Daily prednisone-equivalent dose and steroid sparing (CLINICAL-SPEC 4.2-4.3; issue 3 item 5).

Per patient and local calendar day, per drug: completed administrations first, else the active or
completed MedicationRequest instruction covering the day, else an active MedicationStatement;
never two sources for one drug and day. Systemic routes only; PRN instructions count only when
administered. Daily total = sum over drugs of mg x exact factor. Reduction = (baseline - end of
follow-up) / baseline x 100, NA when the baseline is 0.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from fractions import Fraction
from typing import Any

from registry.outcomes import stats
from registry.outcomes.protocol import Protocol
from registry.outcomes.steroid_rows import Given, Instruction
from registry.outcomes.values import IndexEvent


@dataclass(frozen=True, slots=True)
class DayDose:
    """One day's prednisone-equivalent total with the rows behind each drug's dose."""

    day: date
    study_day: int
    mg: Fraction
    mg_per_kg: Fraction | None
    pulse: bool
    sources: tuple[tuple[str, str, tuple[int, ...]], ...]  # (drug, kind, source record ids)


@dataclass(frozen=True)
class SteroidCourse:
    """One patient's steroid course and reduction (4.3.7-4.3.9)."""

    days: tuple[DayDose, ...]
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
        """Days flagged as pulses."""
        return [d for d in self.days if d.pulse]


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
        kind, mg, eq, ids = out.get(g.ingredient, ("administration", Fraction(0), Fraction(0), ()))
        out[g.ingredient] = (kind, mg + g.mg, eq + g.mg * g.factor, (*ids, g.row_id))
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


def _coverage(
    orders: Sequence[Instruction], first: date, last: date
) -> dict[date, list[Instruction]]:
    """The instructions covering each day of [first, last] (an open end runs to `last`)."""
    cover: dict[date, list[Instruction]] = defaultdict(list)
    for o in orders:
        if o.first is None:
            continue
        day = max(o.first, first)
        end = min(o.last or last, last)
        while day <= end:
            cover[day].append(o)
            day += timedelta(days=1)
    return cover


def course(
    protocol: Protocol,
    event: IndexEvent,
    given: Sequence[Given],
    orders: Sequence[Instruction],
    weights: Sequence[tuple[date, float, int]],
) -> SteroidCourse:
    """A patient's daily doses from 7 days before T0 to the end of follow-up, and the reduction."""
    cfg = protocol.section("steroids")
    by_day, kept, excluded = _eligible(given, orders, cfg)
    t0_day = event.t0_date
    first = t0_day - timedelta(days=max(int(cfg["pulse_lookback_days"]), 7))
    last = event.local_date_of(event.end_of_follow_up)
    cover = _coverage(kept, first, last)
    pulse_drug, pulse_min = str(cfg["pulse_drug"]), Fraction(str(cfg["pulse_min_mg"]))
    lookback = int(cfg["weight_lookback_days"])
    memo: dict[tuple[int, ...], Any] = {}
    days = []
    for offset in range((last - first).days + 1):
        day = first + timedelta(days=offset)
        covering = cover.get(day, [])
        key = tuple(o.row_id for o in covering)
        if day in by_day or key not in memo:
            drugs = _day_drugs(day, by_day, covering, cfg)
            total = sum((eq for _k, _mg, eq, _ids in drugs.values()), Fraction(0))
            pulse = drugs.get(pulse_drug, ("", Fraction(0)))[1] >= pulse_min
            sources = tuple((d, k, ids) for d, (k, _mg, _eq, ids) in sorted(drugs.items()))
            if day not in by_day:
                memo[key] = (total, pulse, sources)
        else:
            total, pulse, sources = memo[key]
        kg = _weight(day, weights, lookback)
        per_kg = None if kg is None else total / Fraction(str(kg))
        days.append(DayDose(day, (day - t0_day).days, total, per_kg, pulse, sources))
    by_study_day = {d.study_day: d for d in days}
    return SteroidCourse(
        days=tuple(days),
        baseline=_baseline(by_study_day, cfg),
        end=by_study_day.get(event.eof_day),
        weeks={t.name: _mean(by_study_day, t.first_day, t.last_day) for t in protocol.timepoints},
        excluded_rows=excluded,
    )


def _baseline(by_day: Mapping[int, DayDose], cfg: Mapping[str, Any]) -> DayDose | None:
    """The baseline day (4.3.7): the T0 day, or the fallbacks."""
    today = by_day.get(0)
    if today is not None and today.pulse and cfg["exclude_pulse_from_baseline"]:
        for back in range(1, int(cfg["pulse_lookback_days"]) + 1):
            day = by_day.get(-back)
            if day is not None and not day.pulse and day.mg > 0:
                return day
        return None
    if today is not None and today.mg > 0:
        return today
    for back in range(1, int(cfg["no_dose_lookback_days"]) + 1):
        day = by_day.get(-back)
        if day is not None and day.mg > 0:
            return day
    return today


def _mean(by_day: Mapping[int, DayDose], first: int, last: int) -> Fraction | None:
    """The average daily total over a window's days (4.3.8)."""
    found = [by_day[d].mg for d in range(first, last + 1) if d in by_day]
    return sum(found, Fraction(0)) / len(found) if found else None


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

"""The per-patient listing of the report, like a paper's case table.

With the evidence behind every verdict, compactly: each patient lists its selected values once
(`observations`, by registry observation id) and the verdicts, trajectories and scores refer to
them by id; every cited source resource version is listed once for the whole report
(`Citations`, the report's `sources`), and the evidence refers to it by registry record id.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from fractions import Fraction
from typing import Any

from registry.outcomes import stats
from registry.outcomes.infections import Infection
from registry.outcomes.response import Assessment, best_to_date
from registry.outcomes.steroids import DayDose, SteroidCourse
from registry.outcomes.timeline import EOF_SLOT
from registry.outcomes.values import Citations, IndexEvent, PatientValues, Source


@functools.lru_cache(maxsize=16384)
def _mg(value: Fraction | None, places: str = "0.01") -> float | None:
    """A dose rounded half-up for display (doses repeat: rounded once each)."""
    return None if value is None else stats.round_half_up(value, places)


def _iso(ie: IndexEvent, at: Any, precision: str | None = None) -> str:
    if precision in ("year", "month", "day"):
        return str(at.date().isoformat())
    return str(at.astimezone(ie.zone).isoformat())


def assessment_dict(item: Assessment) -> dict[str, Any]:
    """One verdict with its per-marker evidence (values as observation ids)."""
    return {
        "timepoint": item.slot,
        "day": item.day,
        "status": item.status,
        "notes": list(item.verdict.notes),
        "markers": [m.as_dict() for m in item.verdict.markers],
    }


def observations(values: PatientValues | None, cite: Citations) -> dict[str, Any]:
    """The patient's selected values (every slot, temperatures too), by observation id."""
    out: dict[str, Any] = {}
    if values is None:
        return out
    for slot_values in (values.baseline, *values.timepoints.values(), values.fever):
        for value in slot_values.values():
            key = str(value.row_id)
            if key not in out:
                out[key] = value.evidence()
                cite.cite(value.source)
                for parent in value.derived_from:
                    cite.cite(parent)
    return out


def _day_dict(day: DayDose, lineage: Mapping[int, Source], cite: Citations) -> dict[str, Any]:
    sources = []
    for drug, kind, ids in day.sources:
        sources.append({"drug": drug, "kind": kind, "record_ids": list(ids)})
        for i in ids:
            if i in lineage:
                cite.cite(lineage[i])
    return {
        "date": day.day.isoformat(),
        "study_day": day.study_day,
        "days": day.days,
        "mg": _mg(day.mg),
        "mg_per_kg": _mg(day.mg_per_kg, "0.001"),
        "pulse": day.pulse,
        "sources": sources,
    }


def steroid_dict(
    course: SteroidCourse, lineage: Mapping[int, Source], cite: Citations
) -> dict[str, Any]:
    """A patient's steroid course: baseline, end, reduction, weeks, pulses, the daily runs.

    Every day names its records by source record id, each cited in the report's `sources`.
    """
    return {
        "baseline_mg": _mg(course.baseline.mg) if course.baseline else None,
        "baseline_day": _day_dict(course.baseline, lineage, cite) if course.baseline else None,
        "end_mg": _mg(course.end.mg) if course.end else None,
        "end_day": _day_dict(course.end, lineage, cite) if course.end else None,
        "reduction_percent": _mg(course.reduction, "0.1"),
        "weeks_mean_mg": {name: _mg(mg) for name, mg in course.weeks.items()},
        "pulse_days": course.pulse_day_count,
        "cumulative_pulse_mg": _mg(course.pulse_mg),
        "excluded_rows_by_route": course.excluded_rows,
        "daily": [_day_dict(d, lineage, cite) for d in course.runs],
    }


def infection_dict(infection: Infection, cite: Citations) -> dict[str, Any]:
    """One organism's status with the events that decided it."""
    peak = infection.peak
    return {
        "organism": infection.organism,
        "incident": infection.counted,
        "prevalent": bool(infection.prevalent),
        "kind": infection.kind if infection.counted else None,
        "first_positive_day": infection.first_day,
        "episodes": infection.episodes,
        "peak": peak.shown if peak else None,
        "coded_disease": infection.disease,
        "evidence": [
            {
                "kind": e.kind,
                "row_id": e.row_id,
                "result": e.result,
                "shown": e.shown,
                "at": e.at.isoformat(),
                "source": cite.cite(e.source),
            }
            for e in (
                *infection.incident,
                *infection.prevalent,
                *filter(None, [infection.serology]),
            )
        ],
        "treatments": [
            {
                "row_id": e.row_id,
                "drug": e.shown,
                "at": e.at.isoformat(),
                "source": cite.cite(e.source),
            }
            for e in infection.treatments[:1]
        ],
    }


def lab_points(
    values: PatientValues | None, analytes: Sequence[str], slots: Sequence[str]
) -> dict[str, dict[str, int]]:
    """The patient's selected value of each lab analyte per slot, as observation ids.

    The same values as the cohort `labs` table (baseline, each time point, end of follow-up);
    slots without a numeric value are left out. The ids refer to the patient's `observations`.
    """
    out: dict[str, dict[str, int]] = {}
    if values is None:
        return out
    per_slot = [(slot, values.at(slot)) for slot in slots]
    for analyte in analytes:
        points = {
            slot: v.row_id
            for slot, found in per_slot
            if (v := found.get(analyte)) is not None and v.value is not None
        }
        if points:
            out[analyte] = points
    return out


def patient_entry(
    ie: IndexEvent,
    disease: str,
    verdicts: Mapping[str, Sequence[Assessment]],
    primary: str,
    remission_rule: str,
    course: SteroidCourse,
    lineage: Mapping[int, Source],
    infections: Mapping[str, Infection],
    cite: Citations,
) -> dict[str, Any]:
    """One patient's row of the listing (issue 3 item 10 keys and the evidence)."""
    mine = verdicts[primary]
    evidence_sets = list(dict.fromkeys([primary, remission_rule]))
    return {
        "patient_ref": f"Patient/{ie.patient_id}",
        "site": ie.site,
        "sex": ie.sex,
        "underlying_disease": disease,
        "t0": _iso(ie, ie.t0, ie.t0_precision),
        "t0_from": ie.t0_kind,
        "t0_evidence": {"row_id": ie.t0_row_id, "source": cite.cite(ie.t0_source)},
        "end_of_follow_up": _iso(ie, ie.end_of_follow_up),
        "follow_up_days": ie.eof_day,
        "deceased": ie.deceased_at.isoformat() if ie.deceased_at else None,
        "response": {a.slot: a.status for a in mine},
        "best_response": best_to_date([a for a in mine if a.slot != EOF_SLOT]),
        "remission_end_of_follow_up": any(
            a.slot == EOF_SLOT and a.status == "CR" for a in verdicts[remission_rule]
        ),
        "response_by_rule_set": {
            name: {a.slot: a.status for a in items} for name, items in verdicts.items()
        },
        "assessments": {
            name: [assessment_dict(a) for a in verdicts[name]] for name in evidence_sets
        },
        "steroid": steroid_dict(course, lineage, cite),
        "infections": sorted(o for o, i in infections.items() if i.counted),
        "infection_details": [
            infection_dict(i, cite) for i in infections.values() if i.counted or i.prevalent
        ],
    }

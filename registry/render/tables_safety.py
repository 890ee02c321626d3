"""Flat tables of steroid sparing, infections and adverse events (for CSV; see `tables`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from registry.render.fmt import daily_doses, source_reference
from registry.render.tables import Table, proportion, protocol_label, summary

STEROID_COLUMNS = ("protocol", "measure", "timepoint", "n", "value", "q1", "q3", "unit", "label")


def steroids_table(report: Mapping[str, Any]) -> Table:
    """Cohort prednisone-equivalent dose: medians per time point and both reductions, labelled."""
    s = report["steroids"]
    n = s["n"]
    rows: list[dict[str, Any]] = [
        {"measure": "median_dose", "timepoint": "baseline", "n": n,
         "value": s["baseline_median_mg"], "unit": "mg/day",
         "label": "daily prednisone-equivalent dose on the T0 day"},
    ]  # fmt: skip
    for name, week in s["weeks_median_mg"].items():
        rows.append(
            {
                "measure": "median_dose",
                "timepoint": name,
                **{k: week.get(k) for k in ("n", "q1", "q3")},
                "value": week.get("median"),
                "unit": "mg/day",
                "label": "median of the per-patient mean daily dose in the window",
            }
        )
    rows += [
        {"measure": "median_dose", "timepoint": "end_of_follow_up", "n": n,
         "value": s["end_median_mg"], "unit": "mg/day",
         "label": "daily dose on the end-of-follow-up day"},
        {"measure": "median_individual_reduction", "n": s["n_with_reduction"],
         "value": s["median_individual_reduction_percent"], "unit": "%",
         "label": s["median_individual_reduction_label"]},
        {"measure": "reduction_of_medians", "n": n, "value": s["reduction_of_medians_percent"],
         "unit": "%", "label": s["reduction_of_medians_label"]},
        {"measure": "reduction_not_available", "n": n, "value": s["n_reduction_not_available"],
         "unit": "patients", "label": "no baseline dose, or none at the end"},
        {"measure": "patients_with_pulse_days", "n": n, "value": s["patients_with_pulse_days"],
         "unit": "patients", "label": "methylprednisolone >= 250 mg on a day"},
    ]  # fmt: skip
    label = protocol_label(report)
    return Table("steroids", STEROID_COLUMNS, [{"protocol": label, **r} for r in rows])


def steroid_daily_table(report: Mapping[str, Any]) -> Table:
    """Every patient's daily prednisone-equivalent dose (the data of the dose plot)."""
    label = protocol_label(report)
    columns = ("protocol", "patient_ref", "site", "date", "study_day", "mg", "mg_per_kg", "pulse")
    rows = [
        {
            "protocol": label,
            "patient_ref": p["patient_ref"],
            "site": p["site"],
            **{k: day[k] for k in columns[3:]},
        }
        for p in report["patients"]
        for day in daily_doses(p)
    ]
    return Table("steroid_daily", columns, rows)


INFECTION_COUNTS = ("prevalent_patients", "episodes", "reactivation", "primary",
                    "unknown_serology", "coded_disease_patients")  # fmt: skip


def infections_table(report: Mapping[str, Any]) -> Table:
    """Incident infections per organism (patients), prevalent apart, days to first positive."""
    label = protocol_label(report)
    columns = (
        "protocol", "organism", "patients_count", "patients_n", "patients_percent",
        "patients_ci95_low", "patients_ci95_high", *INFECTION_COUNTS,
        "days_to_first_positive_n", "days_to_first_positive_median",
        "days_to_first_positive_q1", "days_to_first_positive_q3",
    )  # fmt: skip
    rows = [
        {
            "protocol": label,
            "organism": row["organism"],
            **proportion("patients", row, "patients"),
            **{k: row.get(k) for k in INFECTION_COUNTS},
            **summary("days_to_first_positive", row.get("days_to_first_positive")),
        }
        for row in report["infections"]
    ]
    return Table("infections", columns, rows)


def _grades(report: Mapping[str, Any]) -> list[str]:
    found = {g for t in report["adverse_events"]["by_term"] for g in t.get("by_grade", {})}
    return sorted(found, key=lambda g: (not g.isdigit(), g.zfill(3)))


def adverse_events_table(report: Mapping[str, Any]) -> Table:
    """Adverse events by term and grade, with the any-AE and any-SAE totals."""
    label = protocol_label(report)
    grades = _grades(report)
    columns = ("protocol", "term", "patients", "events", *(f"grade_{g}" for g in grades))
    ae = report["adverse_events"]
    sae = report["serious_adverse_events"]
    rows = [
        {
            "protocol": label,
            "term": t["term"],
            "patients": t["patients"],
            "events": t["events"],
            **{f"grade_{g}": t.get("by_grade", {}).get(g, 0) for g in grades},
        }
        for t in ae["by_term"]
    ]
    rows += [
        {"protocol": label, "term": "any adverse event", "patients": ae["patients"],
         "events": ae["events"]},
        {"protocol": label, "term": "any serious adverse event", "patients": sae["patients"],
         "events": sae["events"]},
    ]  # fmt: skip
    return Table("adverse_events", columns, rows)


def adverse_event_listing(report: Mapping[str, Any]) -> Table:
    """Serious adverse events with their criteria, then near misses (potential, not counted)."""
    label = protocol_label(report)
    columns = ("protocol", "kind", "patient_ref", "site", "term", "grade", "severity", "outcome",
               "occurred", "criteria", "source")  # fmt: skip
    listed = [("serious", e) for e in report["serious_adverse_events"]["list"]]
    listed += [("near_miss", e) for e in report["adverse_events"]["near_misses"]]
    rows = [
        {
            "protocol": label,
            "kind": kind,
            **{k: e.get(k) for k in columns[2:9]},
            "criteria": "; ".join(e.get("criteria", [])),
            "source": source_reference(report, e.get("source")),
        }
        for kind, e in listed
    ]
    return Table("adverse_event_listing", columns, rows)

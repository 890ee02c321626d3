"""Display tables of infections, adverse events and the per-patient listing; all sections."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from registry.render import display
from registry.render.display import KEY_ANALYTES, DisplayTable
from registry.render.fmt import (
    EOF_SLOT,
    lab_value,
    median_iqr,
    num,
    prop,
    slot_short,
    slots,
    source_reference,
    unit_label,
)


def infections(report: Mapping[str, Any]) -> DisplayTable:
    """Incident infections per organism (patients), prevalent cases apart."""
    rows = [
        [
            r["organism"],
            prop(r, "patients"),
            str(r["prevalent_patients"]),
            str(r["episodes"]),
            f"{r['reactivation']}/{r['primary']}/{r['unknown_serology']}",
            median_iqr(r.get("days_to_first_positive")),
        ]
        for r in report["infections"]
    ]
    return DisplayTable(
        "infections",
        "Infections after T0",
        [
            "Organism",
            "Patients (incident)",
            "Prevalent at T0",
            "Episodes",
            "Reactivation/primary/unknown",
            "Days to first positive",
        ],
        rows,
        "Counted per patient; prevalent cases (positive in the 30 days before T0) are not in the "
        "numerator.",
        {2, 3},
    )


def adverse_events(report: Mapping[str, Any]) -> DisplayTable:
    """Adverse events by term and grade, with the any-AE and any-SAE totals."""
    ae = report["adverse_events"]
    sae = report["serious_adverse_events"]
    rows = [
        [
            t["term"],
            str(t["patients"]),
            str(t["events"]),
            ", ".join(f"{g}: {c}" for g, c in sorted(t.get("by_grade", {}).items())),
        ]
        for t in ae["by_term"]
    ]
    rows.append(["Any adverse event", str(ae["patients"]), str(ae["events"]), ""])
    rows.append(["Any serious adverse event", str(sae["patients"]), str(sae["events"]), ""])
    note = (
        f"Treatment-emergent events (from the T0 date to the end of follow-up); "
        f"{ae['pre_index_events']} earlier event(s) not counted; "
        f"{len(ae['near_misses'])} near miss(es) (potential events) listed apart, not counted."
    )
    return DisplayTable(
        "adverse_events",
        "Adverse events",
        ["Term", "Patients", "Events", "Grade: events"],
        rows,
        note,
        {1, 2},
        {0},
    )


def event_listing(report: Mapping[str, Any]) -> DisplayTable | None:
    """Serious adverse events with their criteria, and near misses; None when there are none."""
    listed = [("serious", e) for e in report["serious_adverse_events"]["list"]]
    listed += [("near miss (not counted)", e) for e in report["adverse_events"]["near_misses"]]
    if not listed:
        return None
    rows = [
        [
            kind,
            e["patient_ref"],
            e.get("term") or "",
            num(e.get("grade")) if e.get("grade") is not None else "-",
            "; ".join(e.get("criteria", [])) or "-",
            (e.get("occurred") or "")[:10],
            source_reference(report, e.get("source")) or "",
        ]
        for kind, e in listed
    ]
    return DisplayTable(
        "event_listing",
        "Serious adverse events and near misses",
        ["Kind", "Patient", "Term", "Grade", "Serious because", "Date", "Source"],
        rows,
        wrap={2, 4},
    )


def _lab_pair(patient: Mapping[str, Any], analyte: str) -> str:
    return f"{lab_value(patient, analyte, 'baseline')} → {lab_value(patient, analyte, EOF_SLOT)}"


def _steroid(patient: Mapping[str, Any]) -> str:
    s = patient["steroid"]
    text = f"{num(s['baseline_mg'])} → {num(s['end_mg'])}"
    if s["reduction_percent"] is not None:
        text += f" (-{num(s['reduction_percent'])}%)"
    return text


def _patient_row(p: Mapping[str, Any], names: list[str], with_site: bool) -> list[str]:
    died = f", died {p['deceased'][:10]}" if p.get("deceased") else ""
    return (
        [p["patient_ref"], *([p["site"]] if with_site else [])]
        + [p.get("sex") or "-", p["underlying_disease"], p["t0"][:10]]
        + [f"{p['follow_up_days']}{died}"]
        + [p["response"].get(s, "-") for s in names]
        + [_lab_pair(p, a) for a in KEY_ANALYTES]
        + [_steroid(p), ", ".join(p["infections"]) or "-"]
    )


def patients(report: Mapping[str, Any]) -> DisplayTable:
    """The per-patient case table: disease, dates, response by time point, labs, dose, infection.

    The site column is shown only for a registry of several sites (a pooled one).
    """
    names = slots(report)
    with_site = len({p["site"] for p in report["patients"]}) > 1
    units = {lab["analyte"]: lab["unit"] for lab in report["labs"]}
    headers = ["Patient", *(["Site"] if with_site else []), "Sex", "Disease", "T0", "Days"]
    headers += [slot_short(s) for s in names]
    headers += [f"{a} ({unit_label(units.get(a))}) BL → EOF" for a in KEY_ANALYTES]
    headers += ["Prednisone-eq. mg/day T0 → end", "Infections"]
    return DisplayTable(
        "patients",
        "Patients",
        headers,
        [_patient_row(p, names, with_site) for p in report["patients"]],
        f"Days: follow-up from T0. Response by {report['protocol']['rule_set']}: CR complete, "
        "PR partial, HI haematologic improvement, NR no response, NE not evaluable; "
        "BL baseline, EOF end of follow-up.",
    )


def sections(report: Mapping[str, Any]) -> list[DisplayTable]:
    """Every display table of the report, in document order."""
    found: list[DisplayTable | None] = [
        display.response(report),
        display.alternatives(report),
        display.steroids(report),
        infections(report),
        adverse_events(report),
        event_listing(report),
        *display.labs(report),
        patients(report),
    ]
    return [t for t in found if t is not None]

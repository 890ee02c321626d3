"""Shared text formatting of report values for the human-readable formats (Markdown, HTML)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

EOF_SLOT = "end_of_follow_up"
STATUSES = ("CR", "PR", "HI", "NR", "NE")


def prop(p: Mapping[str, Any], count_key: str = "count") -> str:
    """A proportion as '6/9 (66.7%, 95% CI 29.9-92.5)'; '0/0' when there is no denominator.

    >>> prop({"count": 6, "n": 9, "percent": 66.7, "ci95": [29.9, 92.5]})
    '6/9 (66.7%, 95% CI 29.9-92.5)'
    """
    shown = f"{p[count_key]}/{p['n']}"
    if p.get("percent") is None:
        return shown
    ci = p.get("ci95")
    interval = f", 95% CI {ci[0]:.1f}-{ci[1]:.1f}" if ci else ""
    return f"{shown} ({p['percent']:.1f}%{interval})"


def num(value: float | None, unit: str = "") -> str:
    """A number without trailing zeros ('NA' when missing).

    >>> num(17.5, " mg"), num(100.0), num(None)
    ('17.5 mg', '100', 'NA')
    """
    return "NA" if value is None else f"{value:g}{unit}"


def median_iqr(summary: Mapping[str, Any] | None, *, with_n: bool = True) -> str:
    """A summary as 'median (q1-q3), n=N'; '-' when nobody has a value.

    >>> median_iqr({"n": 9, "median": 85.0, "q1": 70.0, "q3": 100.0})
    '85 (70-100), n=9'
    """
    if not summary or summary.get("median") is None:
        return "-"
    text = num(summary["median"])
    q1, q3 = summary.get("q1"), summary.get("q3")
    if q1 is not None and q3 is not None:
        text += f" ({span(q1, q3)})"
    return f"{text}, n={summary['n']}" if with_n else text


def span(low: float, high: float) -> str:
    """A range '70-100', or '-60.2 to -5.6' when a bound is negative.

    >>> span(70.0, 100.0), span(-60.2, -5.6)
    ('70-100', '-60.2 to -5.6')
    """
    sep = " to " if min(low, high) < 0 else "-"
    return f"{num(low)}{sep}{num(high)}"


def slot_label(slot: str) -> str:
    """'week_1' -> 'Week 1', 'end_of_follow_up' -> 'End of follow-up', 'baseline' -> 'Baseline'.

    >>> slot_label("week_12"), slot_label("end_of_follow_up"), slot_label("day_3")
    ('Week 12', 'End of follow-up', 'Day 3')
    """
    if slot == EOF_SLOT:
        return "End of follow-up"
    return slot.replace("_", " ").capitalize()


def slot_short(slot: str) -> str:
    """A column-sized time point: 'W1', 'EOF', 'BL'.

    >>> slot_short("week_8"), slot_short("end_of_follow_up"), slot_short("baseline")
    ('W8', 'EOF', 'BL')
    """
    if slot == EOF_SLOT:
        return "EOF"
    if slot == "baseline":
        return "BL"
    return slot.replace("week_", "W").replace("day_", "D")


def slots(report: Mapping[str, Any]) -> list[str]:
    """The response slots of the report's protocol: its time points, then end of follow-up."""
    return [t["name"] for t in report["protocol"]["timepoints"]] + [EOF_SLOT]


def timepoint_days(report: Mapping[str, Any]) -> str:
    """The time points with their target day and window, e.g. 'week_1 day 7 (5-9)'."""
    return "; ".join(
        f"{t['name']} day {t['day']} ({t['day'] - t['before']}-{t['day'] + t['after']})"
        for t in report["protocol"]["timepoints"]
    )


UNIT_LABELS = {
    "10*9/L": "×10⁹/L", "10*12/L": "×10¹²/L", "[U]/mL": "U/mL", "[IU]/mL": "IU/mL",
    "[IU]/L": "IU/L", "Cel": "°C", "ug/L": "µg/L", "umol/L": "µmol/L",
}  # fmt: skip


def unit_label(unit: str | None) -> str:
    """A UCUM unit as clinicians write it ('10*9/L' -> '×10⁹/L'); 'no unit' when missing.

    >>> unit_label("10*9/L"), unit_label("ng/mL"), unit_label(None)
    ('×10⁹/L', 'ng/mL', 'no unit')
    """
    if not unit:
        return "no unit"
    return UNIT_LABELS.get(unit, unit)


POINT_KEYS = ("study_day", "value", "unit", "comparator")


def lab_points(patient: Mapping[str, Any], analyte: str) -> list[dict[str, Any]]:
    """A patient's selected values of an analyte per slot, in slot order.

    `patients[].labs` names each slot's value by observation id; the value itself is in the
    patient's `observations` (report format 2).
    """
    observations = patient.get("observations", {})
    points = []
    for slot, observation_id in patient.get("labs", {}).get(analyte, {}).items():
        shown = observations.get(str(observation_id))
        if shown is not None:
            points.append({"timepoint": slot, **{k: shown.get(k) for k in POINT_KEYS}})
    return points


def lab_analytes(patient: Mapping[str, Any]) -> list[str]:
    """The analytes a patient has selected lab values of."""
    return list(patient.get("labs", {}))


def source_reference(report: Mapping[str, Any], source_id: int | None) -> str | None:
    """The versioned source reference of a cited record id (the report's `sources`)."""
    if source_id is None:
        return None
    cited = report.get("sources", {}).get(str(source_id))
    return cited["reference"] if cited else None


def daily_doses(patient: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A patient's steroid course one row per local day (the report stores runs of days)."""
    out = []
    for run in patient["steroid"]["daily"]:
        first = date.fromisoformat(run["date"])
        for offset in range(int(run.get("days", 1))):
            out.append({
                **run,
                "date": (first + timedelta(days=offset)).isoformat(),
                "study_day": run["study_day"] + offset,
                "days": 1,
            })  # fmt: skip
    return out


def lab_value(patient: Mapping[str, Any], analyte: str, slot: str) -> str:
    """A patient's selected value of an analyte at a slot, with its comparator; '-' if none."""
    for point in lab_points(patient, analyte):
        if point["timepoint"] == slot:
            return f"{point.get('comparator') or ''}{num(point['value'])}"
    return "-"

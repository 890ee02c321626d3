"""The report as flat tables of raw values (one row per item, one column per field) for CSV.

Each table is rectangular and numeric where the report is numeric (a proportion becomes count,
n, percent, ci95_low, ci95_high), so a statistician can read it with any CSV reader. The safety
and steroid tables are in `tables_safety`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from registry.render.fmt import EOF_SLOT, lab_analytes, lab_points, slots


@dataclass(frozen=True)
class Table:
    """A named table: column names in order and rows keyed by them (missing keys are empty)."""

    name: str
    columns: tuple[str, ...]
    rows: list[dict[str, Any]] = field(default_factory=list)


def protocol_label(report: Mapping[str, Any]) -> str:
    """'emapalumab-mas 1.0.0': the protocol column of every table."""
    return f"{report['protocol']['name']} {report['protocol']['version']}"


def proportion(
    prefix: str, p: Mapping[str, Any] | None, count_key: str = "count"
) -> dict[str, Any]:
    """A proportion as `<prefix>_count`, `_n`, `_percent`, `_ci95_low`, `_ci95_high`."""
    if p is None:
        return {}
    ci = p.get("ci95") or [None, None]
    return {
        f"{prefix}_count": p[count_key],
        f"{prefix}_n": p["n"],
        f"{prefix}_percent": p.get("percent"),
        f"{prefix}_ci95_low": ci[0],
        f"{prefix}_ci95_high": ci[1],
    }


def summary(prefix: str, s: Mapping[str, Any] | None) -> dict[str, Any]:
    """A median summary as `<prefix>_n`, `_median`, `_q1`, `_q3`."""
    if s is None:
        return {}
    return {f"{prefix}_{k}": s.get(k) for k in ("n", "median", "q1", "q3")}


def _props(*prefixes: str) -> tuple[str, ...]:
    return tuple(
        f"{p}_{k}" for p in prefixes for k in ("count", "n", "percent", "ci95_low", "ci95_high")
    )


def _sums(*prefixes: str) -> tuple[str, ...]:
    return tuple(f"{p}_{k}" for p in prefixes for k in ("n", "median", "q1", "q3"))


def report_table(report: Mapping[str, Any]) -> Table:
    """What produced the report: protocol, rules, time points, sites, cohort (key, value)."""
    proto = report["protocol"]
    cohort = report["cohort"]
    follow_up = cohort["median_follow_up_days"]
    pairs: list[tuple[str, Any]] = [
        (f"protocol_{k}", proto[k])
        for k in ("name", "version", "source", "sha256", "rule_set", "rule_set_version")
    ]
    pairs += [(k, proto[k]) for k in ("remission_rule_set", "baseline_rule", "window_rule")]
    pairs += [(k, proto[k]) for k in ("end_of_follow_up_rule", "utc_offset")]
    pairs += [
        (f"timepoint_{t['name']}", f"day {t['day']} (-{t['before']}/+{t['after']})")
        for t in proto["timepoints"]
    ]
    pairs += [
        ("sites", "; ".join(report["sites"])),
        ("cohort_n", cohort["n"]),
        ("cohort_denominator", cohort["denominator"]),
        *((f"cohort_{k}", v) for k, v in cohort["by_underlying_disease"].items()),
        ("cohort_index_from_order", cohort["index_from_order"]),
        ("cohort_deceased", cohort["deceased"]),
        *summary("follow_up_days", follow_up).items(),
        ("report_version", report["report_version"]),
        ("software_version", report["software_version"]),
    ]
    return Table("report", ("key", "value"), [{"key": k, "value": v} for k, v in pairs])


RESPONSE_COLUMNS = (
    "protocol", "rule_set", "primary", "timepoint", "day", "window_from", "window_to", "n",
    "cr", "pr", "hi", "nr", "ne", *_props("orr", "cr_rate", "best_response"),
)  # fmt: skip


def _response_rows(
    label: str, rule_set: str, primary: bool, rows: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    return [
        {
            "protocol": label,
            "rule_set": rule_set,
            "primary": primary,
            "timepoint": row["timepoint"],
            "day": row["day"],
            "window_from": row["window"][0],
            "window_to": row["window"][1],
            **{k: row[k] for k in ("n", "cr", "pr", "hi", "nr", "ne")},
            **proportion("orr", row["orr"]),
            **proportion("cr_rate", row["cr_rate"]),
        }
        for row in rows
    ]


def _end_row(label: str, primary: bool, remission: Mapping[str, Any]) -> dict[str, Any]:
    """Complete remission at end of follow-up, as the CR count of an end_of_follow_up row."""
    return {
        "protocol": label,
        "rule_set": remission["rule_set"],
        "primary": primary,
        "timepoint": EOF_SLOT,
        "n": remission["n"],
        "cr": remission["count"],
        **proportion("cr_rate", remission),
    }


def response_table(report: Mapping[str, Any]) -> Table:
    """Response per rule set and time point, then CR at end of follow-up per rule set."""
    label = protocol_label(report)
    primary = report["protocol"]["rule_set"]
    rows = _response_rows(label, primary, True, report["response"])
    best = {b["timepoint"]: b["responders"] for b in report["best_response"]}
    for row in rows:
        row.update(proportion("best_response", best.get(row["timepoint"])))
    remission = report["remission_end_of_follow_up"]
    rows.append(_end_row(label, remission["rule_set"] == primary, remission))
    for alt in report["alternative_rule_sets"]:
        rows += _response_rows(label, alt["rule_set"], False, alt["response"])
        rows.append(_end_row(label, False, alt["end_of_follow_up"]))
    return Table("response", RESPONSE_COLUMNS, rows)


def patients_table(report: Mapping[str, Any]) -> Table:
    """The per-patient listing: dates, response per time point, steroid dose, infections."""
    label = protocol_label(report)
    names = slots(report)
    columns = (
        "protocol", "patient_ref", "site", "sex", "underlying_disease", "t0", "t0_from",
        "end_of_follow_up", "follow_up_days", "deceased", *(f"response_{s}" for s in names),
        "remission_end_of_follow_up", "steroid_baseline_mg", "steroid_end_mg",
        "steroid_reduction_percent", "steroid_pulse_days", "steroid_cumulative_pulse_mg",
        "infections", "prevalent_infections",
    )  # fmt: skip
    rows = []
    for p in report["patients"]:
        steroid = p["steroid"]
        rows.append(
            {
                "protocol": label,
                **{k: p[k] for k in columns[1:10]},
                **{f"response_{s}": p["response"].get(s) for s in names},
                "remission_end_of_follow_up": p["remission_end_of_follow_up"],
                "steroid_baseline_mg": steroid["baseline_mg"],
                "steroid_end_mg": steroid["end_mg"],
                "steroid_reduction_percent": steroid["reduction_percent"],
                "steroid_pulse_days": steroid["pulse_days"],
                "steroid_cumulative_pulse_mg": steroid["cumulative_pulse_mg"],
                "infections": "; ".join(p["infections"]),
                "prevalent_infections": "; ".join(
                    i["organism"] for i in p["infection_details"] if i["prevalent"]
                ),
            }
        )
    return Table("patients", columns, rows)


def patient_labs_table(report: Mapping[str, Any]) -> Table:
    """Every patient's selected lab value per analyte and slot, with its study day."""
    label = protocol_label(report)
    columns = ("protocol", "patient_ref", "site", "analyte", "timepoint", "study_day",
               "comparator", "value", "unit")  # fmt: skip
    rows = [
        {"protocol": label, "patient_ref": p["patient_ref"], "site": p["site"], "analyte": a, **pt}
        for p in report["patients"]
        for a in lab_analytes(p)
        for pt in lab_points(p, a)
    ]
    return Table("patient_labs", columns, rows)


def labs_table(report: Mapping[str, Any]) -> Table:
    """The cohort's lab trajectories: per analyte, unit and slot, median (IQR) and change."""
    label = protocol_label(report)
    columns = (
        "protocol", "analyte", "unit", "timepoint", "n", "missing", "comparator_values",
        "median", "q1", "q3", *_sums("change", "percent_change"),
    )  # fmt: skip
    rows = [
        {
            "protocol": label,
            "analyte": lab["analyte"],
            "unit": lab["unit"],
            **{k: row.get(k) for k in columns[3:10]},
            **summary("change", row.get("change_from_baseline")),
            **summary("percent_change", row.get("percent_change_from_baseline")),
        }
        for lab in report["labs"]
        for row in lab["timepoints"]
    ]
    return Table("labs", columns, rows)

"""The report as titled tables of display text, shared by the Markdown and HTML renderers.

Cells are plain text (never markup): each renderer escapes them for its own format. Counts read
like a paper's: `6/9 (66.7%, 95% CI 29.9-92.5)`; medians as `85 (70-100), n=9`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from registry.render.fmt import (
    EOF_SLOT,
    STATUSES,
    median_iqr,
    num,
    prop,
    slot_label,
    timepoint_days,
    unit_label,
)

KEY_ANALYTES = ("ferritin", "PLT")


@dataclass(frozen=True)
class DisplayTable:
    """A titled table of text cells, with an optional note under it."""

    key: str
    title: str
    headers: list[str]
    rows: list[list[str]]
    note: str = ""
    numeric: set[int] = field(default_factory=set)  # right-aligned column indexes
    wrap: set[int] = field(default_factory=set)  # long-text columns (HTML wraps only these)


def protocol_facts(report: Mapping[str, Any]) -> list[tuple[str, str]]:
    """What produced the report, as (label, value) pairs for the top of a document."""
    p = report["protocol"]
    c = report["cohort"]
    diseases = ", ".join(f"{k} {v}" for k, v in c["by_underlying_disease"].items()) or "none"
    return [
        ("Protocol", f"{p['name']} {p['version']} ({p['source']}, sha256 {p['sha256'][:12]})"),
        ("Response rule set", f"{p['rule_set']} v{p['rule_set_version']}"),
        ("Remission rule set", p["remission_rule_set"]),
        ("Baseline rule", p["baseline_rule"]),
        ("Window rule", f"{p['window_rule']}; {timepoint_days(report)}"),
        ("End of follow-up", p["end_of_follow_up_rule"]),
        ("Sites", ", ".join(report["sites"]) or "none"),
        ("Cohort", f"N = {c['n']} ({c['denominator']}); {diseases}"),
        ("Follow-up, days", median_iqr(c["median_follow_up_days"])),
        (
            "Software",
            f"mas-registry {report['software_version']}, report {report['report_version']}",
        ),
    ]


def _has_hi(rows: list[Mapping[str, Any]]) -> bool:
    return any(r.get("hi") for r in rows)


def response(report: Mapping[str, Any]) -> DisplayTable:
    """Response by time point with the primary rule set, then remission at end of follow-up."""
    rows = report["response"]
    shown = [s for s in STATUSES if s != "HI" or _has_hi(rows)]
    best = {b["timepoint"]: b["responders"] for b in report["best_response"]}
    out = [
        [slot_label(r["timepoint"]), f"{r['day']} ({r['window'][0]}-{r['window'][1]})"]
        + [str(r[s.lower()]) for s in shown]
        + [
            prop(r["orr"]),
            prop(r["cr_rate"]),
            prop(best[r["timepoint"]]) if r["timepoint"] in best else "-",
        ]
        for r in rows
    ]
    remission = report["remission_end_of_follow_up"]
    by_rule = ""
    if remission["rule_set"] != report["protocol"]["rule_set"]:
        by_rule = f" ({remission['rule_set']})"
    out.append(
        [slot_label(EOF_SLOT), "per patient"]
        + ["" for _ in shown]
        + ["", prop(remission) + by_rule, ""]
    )
    responders = "CR + PR + HI" if "HI" in shown else "CR + PR"
    return DisplayTable(
        "response",
        f"Response ({report['protocol']['rule_set']})",
        [
            "Time point",
            "Day (window)",
            *shown,
            f"Overall response ({responders})",
            "CR rate",
            "Best response to date",
        ],
        out,
        "Denominator: every patient of the cohort; NE (not evaluable) counts as no response.",
        set(range(2, 2 + len(shown))),
    )


def alternatives(report: Mapping[str, Any]) -> DisplayTable | None:
    """Overall response and remission with the other rule sets (sensitivity analyses)."""
    alts = report["alternative_rule_sets"]
    if not alts:
        return None
    names = [t["name"] for t in report["protocol"]["timepoints"]]
    rows = []
    for alt in alts:
        by = {r["timepoint"]: r["orr"] for r in alt["response"]}
        rows.append(
            [f"{alt['rule_set']} v{alt['version']}"]
            + [prop(by[n]) if n in by else "-" for n in names]
            + [prop(alt["end_of_follow_up"])]
        )
    return DisplayTable(
        "alternatives",
        "Overall response with the other rule sets",
        ["Rule set", *(slot_label(n) for n in names), "CR at end of follow-up"],
        rows,
    )


def labs(report: Mapping[str, Any]) -> list[DisplayTable]:
    """Lab values (median (IQR), n) and their median % change from baseline, per time point."""
    names = ["baseline", *(t["name"] for t in report["protocol"]["timepoints"]), EOF_SLOT]
    values, change = [], []
    for lab in report["labs"]:
        by = {r["timepoint"]: r for r in lab["timepoints"]}
        name = f"{lab['analyte']} ({unit_label(lab['unit'])})"
        values.append([name] + [median_iqr(by.get(n)) for n in names])
        change.append(
            [name]
            + [median_iqr(by.get(n, {}).get("percent_change_from_baseline")) for n in names[1:]]
        )
    return [
        DisplayTable(
            "labs",
            "Laboratory values, median (IQR), n",
            ["Analyte (unit)", *(slot_label(n) for n in names)],
            values,
            "Canonical units; an analyte reported on two scales has one row per scale.",
        ),
        DisplayTable(
            "labs_change",
            "Change from baseline, median % (IQR), n",
            ["Analyte (unit)", *(slot_label(n) for n in names[1:])],
            change,
        ),
    ]


def steroids(report: Mapping[str, Any]) -> DisplayTable:
    """Prednisone-equivalent dose: medians over time and both reductions, each labelled."""
    s = report["steroids"]
    n = s["n"]
    rows = [["T0 day, median", num(s["baseline_median_mg"], " mg"), ""]]
    rows += [
        [
            f"{slot_label(k)}, median of window means",
            median_iqr(v, with_n=False) + " mg",
            f"n={v['n']}",
        ]
        for k, v in s["weeks_median_mg"].items()
    ]
    rows += [
        ["End of follow-up, median", num(s["end_median_mg"], " mg"), ""],
        ["Median of individual reductions", num(s["median_individual_reduction_percent"], "%"),
         f"n={s['n_with_reduction']}; {s['median_individual_reduction_label']}"],
        ["Reduction of medians", num(s["reduction_of_medians_percent"], "%"),
         s["reduction_of_medians_label"]],
        ["Reduction not available", f"{s['n_reduction_not_available']}/{n}", "patients"],
        ["Patients with pulse days", f"{s['patients_with_pulse_days']}/{n}",
         "methylprednisolone ≥ 250 mg on a day"],
    ]  # fmt: skip
    return DisplayTable(
        "steroids",
        "Prednisone-equivalent daily dose",
        ["Measure", "Value", "Note"],
        rows,
        wrap={2},
    )

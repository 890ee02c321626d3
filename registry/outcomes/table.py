"""The report as a plain-text table for a terminal: the paper's headline numbers at a glance."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def _prop(p: Mapping[str, Any]) -> str:
    """'6/9 (66.7%, 95% CI 29.9-92.5)'."""
    if p.get("percent") is None:
        return f"{p['count']}/{p['n']}"
    ci = p.get("ci95")
    interval = f", 95% CI {ci[0]:.1f}-{ci[1]:.1f}" if ci else ""
    return f"{p['count']}/{p['n']} ({p['percent']:.1f}%{interval})"


def _num(value: float | None, unit: str = "") -> str:
    return "NA" if value is None else f"{value:g}{unit}"


def _header(report: Mapping[str, Any]) -> list[str]:
    proto = report["protocol"]
    cohort = report["cohort"]
    diseases = ", ".join(f"{k} {v}" for k, v in cohort["by_underlying_disease"].items())
    return [
        f"Protocol {proto['name']} {proto['version']} ({proto['source']})",
        f"  rule set {proto['rule_set']} v{proto['rule_set_version']}; remission rule "
        f"{proto['remission_rule_set']}",
        f"  baseline: {proto['baseline_rule']}",
        f"  window: {proto['window_rule']}; end of follow-up: {proto['end_of_follow_up_rule']}",
        f"Cohort: N = {cohort['n']} ({cohort['denominator']}); {diseases or 'no diagnoses'}",
    ]


def _response(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    lines = [
        f"  {'time point':<12} {'day':>4} {'CR':>3} {'PR':>3} {'HI':>3} {'NR':>3} {'NE':>3}  ORR"
    ]
    for row in rows:
        lines.append(
            f"  {row['timepoint']:<12} {row['day']:>4} {row['cr']:>3} {row['pr']:>3} "
            f"{row['hi']:>3} {row['nr']:>3} {row['ne']:>3}  {_prop(row['orr'])}"
        )
    return lines


def _patients(report: Mapping[str, Any]) -> list[str]:
    slots = [t["name"] for t in report["protocol"]["timepoints"]] + ["end_of_follow_up"]
    short = [s.replace("week_", "w").replace("end_of_follow_up", "EOF") for s in slots]
    lines = [
        f"  {'patient':<16} {'disease':<8} "
        + " ".join(f"{s:>4}" for s in short)
        + f" {'GC T0 mg':>9} {'GC end':>7} {'red.%':>6}  infections"
    ]
    for p in report["patients"]:
        steroid = p["steroid"]
        lines.append(
            f"  {p['patient_ref'][:16]:<16} {p['underlying_disease'][:8]:<8} "
            + " ".join(f"{p['response'].get(s, '-'):>4}" for s in slots)
            + f" {_num(steroid['baseline_mg']):>9} {_num(steroid['end_mg']):>7} "
            f"{_num(steroid['reduction_percent']):>6}  {', '.join(p['infections']) or '-'}"
        )
    return lines


def render_table(report: Mapping[str, Any]) -> str:
    """The report as text: protocol, response, remission, steroids, safety, patient listing."""
    steroids = report["steroids"]
    sae = report["serious_adverse_events"]
    lines = [*_header(report), "", f"Overall response ({report['protocol']['rule_set']}):"]
    lines += _response(report["response"])
    remission = report["remission_end_of_follow_up"]
    lines += [
        "",
        f"Complete remission at end of follow-up ({remission['rule_set']}): {_prop(remission)}",
    ]
    for alt in report["alternative_rule_sets"]:
        lines.append(
            f"  {alt['rule_set']}: CR at end of follow-up {_prop(alt['end_of_follow_up'])}"
        )
    lines += [
        "",
        "Prednisone-equivalent dose:",
        f"  median of individual reductions: "
        f"{_num(steroids['median_individual_reduction_percent'], '%')} "
        f"(n = {steroids['n_with_reduction']}; paper's reading)",
        f"  reduction of medians: {_num(steroids['reduction_of_medians_percent'], '%')} "
        f"(median {_num(steroids['baseline_median_mg'])} -> {_num(steroids['end_median_mg'])} mg)",
        "",
        "Infections (incident after T0, patients):",
    ]
    for row in report["infections"]:
        if row["patients"] or row["prevalent_patients"]:
            lines.append(
                f"  {row['organism']:<14} {_prop({**row, 'count': row['patients']})}; "
                f"prevalent {row['prevalent_patients']}; episodes {row['episodes']}"
            )
    lines += [
        "",
        f"Adverse events: {report['adverse_events']['events']} in "
        f"{report['adverse_events']['patients']} patients; serious: {sae['events']} events in "
        f"{sae['patients']} patients; near misses (not counted): "
        f"{len(report['adverse_events']['near_misses'])}",
        "",
        "Patients:",
        *_patients(report),
    ]
    return "\n".join(lines) + "\n"

"""Rule set `cn_hlh_dep`: Chinese HLH / DEP response criteria (CLINICAL-SPEC 3.2, the default).

CR at t: every CR marker measured at t is normal, every CR marker abnormal at baseline is
measured at t, at least one is measured, and (by default) the patient is afebrile. PR: not CR and
at least `pr_min_markers` markers meet their improvement rule against baseline. NE: no baseline,
or no eligible marker measured at t. NR otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from registry.outcomes.rules.common import (
    MarkerResult,
    RuleInput,
    Verdict,
    fever_marker,
    same_scale,
)
from registry.outcomes.values import Value

NAME = "cn_hlh_dep"
PR_MARKERS = ("sCD25", "ferritin", "TG", "ANC", "ALT")


def evaluate(inp: RuleInput) -> Verdict:
    """Judge one patient at one time point."""
    p = inp.params
    cr_markers = list(p["cr_markers"])
    generic = [m for m in p["generic25_markers"] if p["generic25"] and m not in PR_MARKERS]
    names = list(dict.fromkeys([*cr_markers, *PR_MARKERS, *generic]))
    markers = [_marker(m, inp, cr=m in cr_markers, generic=m in generic) for m in names]
    fever = fever_marker(inp.fever_now, float(p["fever_threshold_c"]))
    status, notes = _status(inp, markers, fever)
    shown = [*markers, fever] if p["afebrile_required"] else markers
    return Verdict(status, tuple(shown), notes)


def _status(
    inp: RuleInput, markers: list[MarkerResult], fever: MarkerResult
) -> tuple[str, tuple[str, ...]]:
    """The verdict from the judged markers."""
    p = inp.params
    if not any(m.baseline is not None for m in markers):
        return "NE", ("no baseline value for any marker",)
    cr = [m for m in markers if "cr" in m.role.split(",")]
    missing = [m.marker for m in cr if m.baseline_normal is False and m.value is None]
    measured = [m for m in cr if m.value is not None]
    labs_normal = bool(measured) and all(m.normal is True for m in measured) and not missing
    if labs_normal and _afebrile(p, fever):
        return "CR", ()
    notes = [f"abnormal at baseline, not measured: {', '.join(missing)}"] if missing else []
    if labs_normal:
        notes.append(f"laboratory CR markers normal but not afebrile ({fever.note})")
    eligible = [m for m in markers if m.eligible]
    if not any(m.value is not None for m in eligible):
        return "NE", (*notes, "no eligible marker measured at t")
    improved = sum(1 for m in eligible if m.improved)
    notes.append(f"{improved} marker(s) improved (PR needs {p['pr_min_markers']})")
    return ("PR" if improved >= int(p["pr_min_markers"]) else "NR"), tuple(notes)


def _afebrile(p: Mapping[str, Any], fever: MarkerResult) -> bool:
    """The fever criterion of CR (3.2 rule 4), with the protocol's choice for no reading."""
    if not p["afebrile_required"]:
        return True
    if fever.normal is None:
        return bool(p["fever_missing"] == "ignore")
    return fever.normal


def _marker(name: str, inp: RuleInput, *, cr: bool, generic: bool) -> MarkerResult:
    """Judge one marker: normality (CR) and eligibility / improvement (PR)."""
    base, now = inp.baseline.get(name), inp.current.get(name)
    roles = [r for r, on in (("cr", cr), ("pr", name in PR_MARKERS), ("generic25", generic)) if on]
    eligible: bool | None = None
    improved: bool | None = None
    note = ""
    if name in PR_MARKERS or generic:
        eligible, note = _eligible(name, base, inp, generic=generic)
        if eligible:
            improved, note = _improved(name, base, now, inp, generic=generic)
    return MarkerResult(
        marker=name,
        role=",".join(roles),
        baseline=base,
        value=now,
        baseline_normal=inp.ranges.is_normal(base) if base else None,
        normal=inp.ranges.is_normal(now) if now else None,
        eligible=eligible,
        improved=improved,
        note=note,
    )


def _eligible(
    name: str, base: Value | None, inp: RuleInput, *, generic: bool
) -> tuple[bool | None, str]:
    """Whether the baseline makes the marker eligible for PR (3.2 table)."""
    p = inp.params
    if base is None or base.value is None:
        return None, "no baseline value"
    b = base.value
    if generic:
        abnormal = inp.ranges.is_normal(base) is False
        return abnormal, "abnormal at baseline" if abnormal else "not abnormal at baseline"
    if name in ("sCD25", "ferritin", "TG"):
        above = inp.ranges.above_uln(base)
        text = {True: "baseline > ULN", False: "baseline <= ULN", None: "ULN unknown"}[above]
        return above, text
    if name == "ANC":
        if b < float(p["anc_low"]):
            return True, f"baseline < {p['anc_low']}"
        if b <= float(p["anc_high"]):
            return True, f"{p['anc_low']} <= baseline <= {p['anc_high']}"
        return False, f"baseline > {p['anc_high']}"
    eligible = b > float(p["alt_eligible_above"])
    return eligible, f"baseline {'>' if eligible else '<='} {p['alt_eligible_above']}"


def _improved(
    name: str, base: Value | None, now: Value | None, inp: RuleInput, *, generic: bool
) -> tuple[bool | None, str]:
    """Whether the value at t meets the marker's improvement rule (3.2 table)."""
    p = inp.params
    if base is None or base.value is None or now is None or now.value is None:
        return None, "not measured at t"
    if not same_scale(base, now):
        return None, f"units differ ({base.unit} vs {now.unit}): not evaluable"
    b, v = base.value, now.value
    if generic:
        if inp.ranges.below_lln(base):
            return v >= 1.25 * b, "generic25: value >= 1.25 x baseline"
        return v <= 0.75 * b, "generic25: value <= 0.75 x baseline"
    if name == "sCD25":
        limit = b / float(p["scd25_fold"])
        ok = v <= limit if p["scd25_inclusive"] else v < limit
        return ok, f"value {'<=' if p['scd25_inclusive'] else '<'} baseline / {p['scd25_fold']}"
    if name in ("ferritin", "TG"):
        factor = float(p["ferritin_factor" if name == "ferritin" else "tg_factor"])
        return v < factor * b, f"value < {factor} x baseline"
    if name == "ANC":
        low, high = float(p["anc_low"]), float(p["anc_high"])
        if b < low:
            return v > 2 * b and v > low, f"value > 2 x baseline and > {low}"
        return v > 2 * b and v >= high, f"value > 2 x baseline and >= {high}"
    factor = float(p["alt_factor"])
    return v < factor * b, f"value < {factor} x baseline"

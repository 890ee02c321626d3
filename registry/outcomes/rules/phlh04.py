"""Rule set `emapalumab_pHLH_04`: the NI-0501-04 primary-HLH algorithm (CLINICAL-SPEC 3.3).

An abnormality is a parameter outside its target at baseline. CR: every abnormality normalized
(and sCD25 not above 2 x baseline); PR: at least 3 normalized; HI (HLH improvement): at least 3
improved by >= 50 % (a normalized one counts as improved; for low markers 50 % means value >=
1.5 x baseline, INFERRED). Splenomegaly and CNS status are not in the registry: not assessed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from registry.outcomes.rules.common import MarkerResult, RuleInput, Verdict, fever_marker
from registry.outcomes.values import Value

NAME = "emapalumab_pHLH_04"
# marker -> (parameter holding the target, direction of normal)
TARGETS = {
    "ANC": ("anc_above", "above"),
    "PLT": ("plt_above", "above"),
    "ferritin": ("ferritin_below", "below"),
    "fibrinogen": ("fibrinogen_above", "above"),
    "D-dimer_FEU": ("d_dimer_feu_below", "below"),
}


def _meets(value: Value | None, p: Mapping[str, Any], marker: str) -> bool | None:
    """Whether a value meets the marker's target (strict, as the label words it)."""
    if value is None or value.value is None:
        return None
    key, side = TARGETS[marker]
    return value.value > float(p[key]) if side == "above" else value.value < float(p[key])


def _lab_marker(marker: str, inp: RuleInput) -> MarkerResult:
    """One laboratory abnormality: abnormal at baseline, normalized and improved at t."""
    p = inp.params
    base, now = inp.baseline.get(marker), inp.current.get(marker)
    base_ok, now_ok = _meets(base, p, marker), _meets(now, p, marker)
    improved: bool | None = None
    if base is not None and base.value is not None and now is not None and now.value is not None:
        share = float(p["improvement_percent"]) / 100
        if TARGETS[marker][1] == "above":
            improved = bool(now_ok) or now.value >= (1 + share) * base.value
        else:
            improved = bool(now_ok) or now.value <= (1 - share) * base.value
    return MarkerResult(
        marker,
        "abnormality",
        baseline=base,
        value=now,
        baseline_normal=base_ok,
        normal=now_ok,
        eligible=None if base_ok is None else not base_ok,
        improved=improved,
        note=f"target {TARGETS[marker][1]} {p[TARGETS[marker][0]]}",
    )


def _fever(inp: RuleInput) -> MarkerResult:
    """Fever as an abnormality: a reading >= threshold in the lookback before T0 / before t."""
    threshold = float(inp.params["fever_threshold_c"])
    base = fever_marker(inp.fever_baseline, threshold)
    now = fever_marker(inp.fever_now, threshold)
    return MarkerResult(
        "temperature",
        "abnormality",
        baseline=inp.fever_baseline,
        value=inp.fever_now,
        baseline_normal=base.normal,
        normal=now.normal,
        eligible=None if base.normal is None else not base.normal,
        improved=now.normal,
        note=f"no fever: highest reading < {threshold:g} C",
    )


def _scd25_guard(inp: RuleInput) -> MarkerResult:
    """sCD25 must not worsen more than 2-fold over baseline (same unit) for CR."""
    base, now = inp.baseline.get("sCD25"), inp.current.get("sCD25")
    fold = float(inp.params["scd25_max_fold"])
    ok: bool | None = None
    if base and now and base.value is not None and now.value is not None and base.unit == now.unit:
        ok = now.value <= fold * base.value
    return MarkerResult("sCD25", "guard", base, now, normal=ok, note=f"<= {fold:g} x baseline")


def evaluate(inp: RuleInput) -> Verdict:
    """Judge one patient at one time point."""
    p = inp.params
    markers = [_fever(inp), *(_lab_marker(m, inp) for m in TARGETS)]
    guard = _scd25_guard(inp)
    abnormal = [m for m in markers if m.eligible]
    notes = ("splenomegaly and CNS status: not recorded in the registry, not assessed",)
    if not abnormal or all(m.normal is None for m in abnormal):
        return Verdict("NE", (*markers, guard), (*notes, "no baseline abnormality assessable at t"))
    normalized = sum(1 for m in abnormal if m.normal)
    improved = sum(1 for m in abnormal if m.improved)
    if normalized == len(abnormal) and guard.normal is not False:
        status = "CR"
    elif normalized >= int(p["min_normalized"]):
        status = "PR"
    elif improved >= int(p["min_improved"]):
        status = "HI"
    else:
        status = "NR"
    counts = f"{normalized} of {len(abnormal)} abnormalities normalized, {improved} improved"
    return Verdict(status, (*markers, guard), (*notes, counts))

"""Rule set `emapalumab_mas_cr`: the EMERALD / NI-0501-06 laboratory CR components (3.4).

RECALLED components, all required: WBC > LLN, PLT > LLN, LDH, ALT and AST < 1.5 x ULN,
fibrinogen > 1.0 g/L, ferritin decreased >= 80 % from baseline or < 2000 ng/mL. No VAS is recorded,
so this is "laboratory components only". All met: CR; any measured and not met: NR; otherwise NE.
The EMERALD partial response was not found, so there is no PR.
"""

from __future__ import annotations

from registry.outcomes.rules.common import MarkerResult, RuleInput, Verdict
from registry.outcomes.values import Value

NAME = "emapalumab_mas_cr"
COMPONENTS = ("WBC", "PLT", "LDH", "ALT", "AST", "fibrinogen", "ferritin")


def _component(marker: str, inp: RuleInput) -> MarkerResult:
    """Judge one component at t."""
    base, now = inp.baseline.get(marker), inp.current.get(marker)
    met, note = _met(marker, base, now, inp)
    if now is None:
        note = "not measured at t"
    return MarkerResult(marker, "component", base, now, normal=met, note=note)


def _met(
    marker: str, base: Value | None, now: Value | None, inp: RuleInput
) -> tuple[bool | None, str]:
    p = inp.params
    if now is None or now.value is None:
        return None, ""
    v = now.value
    low, high = inp.ranges.limits(now)
    if marker in ("WBC", "PLT"):
        return (None if low is None else v > low), f"> LLN ({low})"
    if marker in ("LDH", "ALT", "AST"):
        limit = None if high is None else float(p["uln_multiple"]) * high
        return (None if limit is None else v < limit), f"< {p['uln_multiple']} x ULN ({high})"
    if marker == "fibrinogen":
        return v > float(p["fibrinogen_above"]), f"> {p['fibrinogen_above']} g/L"
    below = v < float(p["ferritin_below"])
    drop = float(p["ferritin_decrease_percent"]) / 100
    decreased = base is not None and base.value is not None and v <= (1 - drop) * base.value
    return below or decreased, (
        f"< {p['ferritin_below']} or decreased >= {p['ferritin_decrease_percent']} % from baseline"
    )


def evaluate(inp: RuleInput) -> Verdict:
    """Judge one patient at one time point."""
    markers = tuple(_component(m, inp) for m in COMPONENTS)
    notes = ("laboratory components only (no VAS recorded)",)
    if all(m.normal for m in markers):
        return Verdict("CR", markers, notes)
    if any(m.normal is False for m in markers):
        return Verdict("NR", markers, notes)
    return Verdict("NE", markers, (*notes, "a component is missing or undetermined"))

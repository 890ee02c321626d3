"""Rule `aosd_remission_ruijin`: AOSD remission as at Ruijin Hospital (CLINICAL-SPEC 3.5).

Complete remission (CR): every initial abnormality resolved; partial (PR): all but one;
ineffective (NR): two or more persist. The initial abnormalities are the configured markers that
were abnormal at baseline, plus fever before T0; a marker not measured at t persists (CHOICE).
"""

from __future__ import annotations

from registry.outcomes.rules.common import MarkerResult, RuleInput, Verdict, fever_marker

NAME = "aosd_remission_ruijin"


def _marker(name: str, inp: RuleInput) -> MarkerResult:
    base, now = inp.baseline.get(name), inp.current.get(name)
    base_normal = inp.ranges.is_normal(base) if base else None
    normal = inp.ranges.is_normal(now) if now else None
    return MarkerResult(
        name,
        "initial",
        base,
        now,
        baseline_normal=base_normal,
        normal=normal,
        eligible=base_normal is False,
        improved=normal is True if base_normal is False else None,
        note="not measured at t: persists" if base_normal is False and now is None else "",
    )


def _fever(inp: RuleInput) -> MarkerResult:
    threshold = float(inp.params["fever_threshold_c"])
    base = fever_marker(inp.fever_baseline, threshold)
    now = fever_marker(inp.fever_now, threshold)
    return MarkerResult(
        "temperature",
        "initial",
        inp.fever_baseline,
        inp.fever_now,
        baseline_normal=base.normal,
        normal=now.normal,
        eligible=base.normal is False,
        improved=now.normal is True if base.normal is False else None,
        note=now.note,
    )


def evaluate(inp: RuleInput) -> Verdict:
    """Judge one patient at one time point."""
    markers = (_fever(inp), *(_marker(m, inp) for m in inp.params["markers"]))
    initial = [m for m in markers if m.eligible]
    if not initial:
        return Verdict("NE", markers, ("no abnormality at baseline",))
    persisting = [m.marker for m in initial if not m.improved]
    status = "CR" if not persisting else "PR" if len(persisting) == 1 else "NR"
    notes = (f"persisting: {', '.join(persisting)}",) if persisting else ()
    return Verdict(status, markers, notes)

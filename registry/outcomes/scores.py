"""Classification scores for cohort description (CLINICAL-SPEC 3.6): HScore and MAS 2016.

Pure functions over baseline values in canonical units. Findings the registry does not hold
(organomegaly, marrow hemophagocytosis) are inputs that default to absent and are reported as
not recorded; the scores are descriptions of the cohort, never eligibility decisions here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from registry.outcomes.values import Value

# HScore probability (FOUND): score (floored to tens) -> probability text.
HSCORE_PROBABILITY = {
    90: "<1%", 100: "1%", 110: "3%", 120: "5%", 130: "9%", 140: "16%", 150: "25%", 160: "40%",
    170: "54%", 180: "70%", 190: "80%", 200: "88%", 210: "93%", 220: "96%", 230: "98%",
    240: "99%",
}  # fmt: skip
HSCORE_CUTOFF = 169


@dataclass(frozen=True, slots=True)
class Score:
    """A score with its points per item and the items that were not recorded."""

    name: str
    value: int | bool
    items: dict[str, int | bool | None]
    not_recorded: tuple[str, ...]
    label: str


def _v(values: Mapping[str, Value], key: str) -> float | None:
    found = values.get(key)
    return None if found is None else found.value


def _band(x: float | None, bands: list[tuple[float, int]], top: int) -> int:
    """Points of the first band whose upper bound (exclusive) x is below; else `top`."""
    if x is None:
        return 0
    for upper, points in bands:
        if x < upper:
            return points
    return top


def hscore(
    values: Mapping[str, Value],
    *,
    max_temperature: float | None,
    immunosuppressed: bool,
    organomegaly: int = 0,
    marrow_hemophagocytosis: bool = False,
) -> Score:
    """Fardet's HScore (3.6; hindawi copy: 38.4-39.4 C inclusive in the middle band, AST >= 30).

    Args:
        values: baseline values (ferritin ng/mL, TG mmol/L, fibrinogen g/L, AST U/L, Hb g/L,
            WBC and PLT 10*9/L).
        max_temperature: highest temperature (C) before T0.
        immunosuppressed: known immunosuppression (e.g. glucocorticoids before T0).
        organomegaly: 0 none, 1 hepatomegaly or splenomegaly, 2 both.
        marrow_hemophagocytosis: hemophagocytosis on marrow aspirate.
    """
    temp = max_temperature
    lineages = sum(
        1
        for key, limit in (("Hb", 92.0), ("WBC", 5.0), ("PLT", 110.0))
        if (x := _v(values, key)) is not None and x <= limit
    )
    fib = _v(values, "fibrinogen")
    ast = _v(values, "AST")
    items: dict[str, int | bool | None] = {
        "immunosuppression": 18 if immunosuppressed else 0,
        "temperature": 0 if temp is None or temp < 38.4 else 33 if temp <= 39.4 else 49,
        "organomegaly": (0, 23, 38)[organomegaly],
        "cytopenias": {0: 0, 1: 0, 2: 24, 3: 34}[lineages],
        "ferritin": _band(_v(values, "ferritin"), [(2000.0, 0), (6000.0 + 1e-9, 35)], 50),
        "triglycerides": _band(_v(values, "TG"), [(1.5, 0), (4.0 + 1e-9, 44)], 64),
        "fibrinogen": 30 if fib is not None and fib <= 2.5 else 0,
        "AST": 19 if ast is not None and ast >= 30 else 0,
        "marrow_hemophagocytosis": 35 if marrow_hemophagocytosis else 0,
    }
    total = sum(int(v or 0) for v in items.values())
    floor = min(max(total // 10 * 10, 90), 250)
    label = ">99%" if floor >= 250 else HSCORE_PROBABILITY.get(floor, "<1%")
    missing = tuple(k for k in ("Hb", "WBC", "PLT", "ferritin", "TG", "fibrinogen", "AST")
                    if k not in values)  # fmt: skip
    return Score("HScore", total, items, missing, f"probability {label}")


def mas_2016(values: Mapping[str, Value], *, febrile: bool = True) -> Score:
    """2016 EULAR/ACR/PRINTO MAS classification (3.6): ferritin > 684 and 2 of 4 others."""
    ferritin = _v(values, "ferritin")
    checks: dict[str, int | bool | None] = {
        "PLT <= 181": None if (x := _v(values, "PLT")) is None else x <= 181,
        "AST > 48": None if (x := _v(values, "AST")) is None else x > 48,
        "TG > 1.76 mmol/L": None if (x := _v(values, "TG")) is None else x > 1.76,
        "fibrinogen <= 3.6 g/L": None if (x := _v(values, "fibrinogen")) is None else x <= 3.6,
    }
    met = sum(1 for v in checks.values() if v)
    items: dict[str, int | bool | None] = {
        "febrile": febrile,
        "ferritin > 684": None if ferritin is None else ferritin > 684,
        **checks,
    }
    classified = bool(febrile and ferritin is not None and ferritin > 684 and met >= 2)
    missing = tuple(k for k, v in items.items() if v is None)
    return Score("MAS 2016", classified, items, missing, f"{met} of 4 criteria besides ferritin")


def describe(score: Score) -> dict[str, object]:
    """JSON form of a score."""
    return {
        "value": score.value,
        "label": score.label,
        "items": score.items,
        "not_recorded": list(score.not_recorded),
    }


def baseline_scores(
    baseline: Mapping[str, Value], max_temperature: float | None, steroid_before_t0: bool
) -> dict[str, dict[str, object]]:
    """A patient's HScore and MAS 2016 classification at baseline.

    Organomegaly and marrow hemophagocytosis are not in the registry: counted as absent and
    listed as not recorded.
    """
    h = hscore(baseline, max_temperature=max_temperature, immunosuppressed=steroid_before_t0)
    febrile = max_temperature is not None and max_temperature >= 38.0
    unknown = [*h.not_recorded, "organomegaly", "marrow_hemophagocytosis"]
    return {
        "hscore": {**describe(h), "not_recorded": unknown},
        "mas_2016": describe(mas_2016(baseline, febrile=febrile)),
    }

"""Dose amounts and dosing frequency (CLINICAL-SPEC 4.3.3-4.3.4) for every medication mapper."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from adapter.errors import MappingError
from adapter.fhir import as_object, decimal_of, iter_codings
from adapter.rows import DrugMatch
from adapter.terminology import normalise_text as _norm
from adapter.units import UnitError, dose_to_mg

# Drug classes whose doses the study computes with: a dose we cannot express in mg is quarantined.
DOSED_CLASSES = frozenset({"glucocorticoid", "emapalumab"})

# Count units: "1 tablet" of a Medication of known strength gives mg = count x strength (4.3.3).
_COUNT_UNITS = frozenset(
    {
        "tablet",
        "tablets",
        "tab",
        "tabs",
        "{tbl}",
        "{tablet}",
        "{tablets}",
        "capsule",
        "capsules",
        "cap",
        "caps",
        "{capsule}",
        "{cap}",
        "片",
        "粒",
        "支",
        "1",
        "{each}",
        "each",
        "ea",
    }
)

_PERIOD_DAYS = {
    "s": Fraction(1, 86400),
    "min": Fraction(1, 1440),
    "h": Fraction(1, 24),
    "d": Fraction(1),
    "wk": Fraction(7),
    "mo": Fraction(30),
    "a": Fraction(365),
}

# HL7 v3 GTSAbbreviation timing codes -> administrations per day.
_TIMING_CODES = {
    "QD": Fraction(1),
    "QAM": Fraction(1),
    "QPM": Fraction(1),
    "AM": Fraction(1),
    "PM": Fraction(1),
    "QHS": Fraction(1),
    "BID": Fraction(2),
    "TID": Fraction(3),
    "QID": Fraction(4),
    "QOD": Fraction(1, 2),
    "Q4H": Fraction(6),
    "Q6H": Fraction(4),
    "Q8H": Fraction(3),
    "Q12H": Fraction(2),
    "WK": Fraction(1, 7),
}


@dataclass(frozen=True, slots=True)
class Dose:
    """One dose, as written and in mg (or mg/kg, applied to body weight after load)."""

    value_original: str | None
    unit_original: str | None
    mg: Fraction | None
    mg_per_kg: Fraction | None


NO_DOSE = Dose(None, None, None, None)


def convert_dose(
    quantity: Any, path: str, drug: DrugMatch, strength_mg_per_unit: Fraction | None
) -> Dose:
    """Express a dose Quantity in mg, mg/kg, or counts x strength.

    Raises:
        MappingError: a non-numeric value, or a glucocorticoid/emapalumab dose in a unit that
            cannot become mg.
    """
    if not isinstance(quantity, Mapping) or quantity.get("value") is None:
        return NO_DOSE
    unit, code = quantity.get("unit"), quantity.get("code")
    try:
        number = decimal_of(quantity["value"])
    except ValueError as exc:
        raise MappingError("invalid-value", f"{path}.value", f"{path}.value: {exc}") from exc
    shown_unit = unit if isinstance(unit, str) else code if isinstance(code, str) else None
    try:
        amount = dose_to_mg(number, unit, code)
    except UnitError as exc:
        counted = {_norm(str(u)) for u in (unit, code) if u} & _COUNT_UNITS
        if counted and strength_mg_per_unit is not None:
            mg = Fraction(number) * strength_mg_per_unit
            return Dose(str(number), shown_unit, mg, None)
        if drug.drug_class in DOSED_CLASSES:
            raise MappingError("unknown-unit", f"{path}.unit", f"{path}: {exc}") from exc
        return Dose(str(number), shown_unit, None, None)
    return Dose(str(number), shown_unit, amount.mg, amount.mg_per_kg)


def per_day(timing: Any) -> tuple[Fraction | None, int | None, float | None, str | None]:
    """Return (administrations per day, frequency, period, periodUnit) from a Timing.

    "40 mg q12h" is frequency 1 per 12 h = 2 a day; "bid" is 2 a day (4.3.4).
    """
    if not isinstance(timing, Mapping):
        return None, None, None, None
    repeat = as_object(timing.get("repeat"))
    frequency, period, unit = (
        repeat.get("frequency"),
        repeat.get("period"),
        repeat.get("periodUnit"),
    )
    if frequency is None:
        slots = repeat.get("timeOfDay") or repeat.get("when") or ()
        frequency = len(slots) if slots else None
    if period is not None and unit in _PERIOD_DAYS:
        try:
            days = Fraction(decimal_of(period)) * _PERIOD_DAYS[unit]
        except ValueError:
            days = Fraction(0)
        if days > 0:
            try:
                count = int(decimal_of(frequency)) if frequency is not None else 1
            except ValueError:
                return None, None, None, None
            return Fraction(count) / days, count, float(decimal_of(period)), unit
    if frequency is not None and period is None and repeat.get("timeOfDay"):
        return Fraction(int(frequency)), int(frequency), 1.0, "d"
    for coding in iter_codings(timing.get("code")):
        code = str(coding.get("code", "")).upper()
        if code in _TIMING_CODES:
            return _TIMING_CODES[code], None, None, None
    return None, None, None, None

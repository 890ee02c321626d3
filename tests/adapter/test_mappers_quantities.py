"""Planned unit conversion gives exactly what adapter.units.convert_quantity gives (6.2, 6.4)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from adapter.codes import UCUM
from adapter.mappers import MappingContext
from adapter.mappers.quantities import to_canonical
from adapter.terminology import Terminology
from adapter.unit_tables import FAMILIES, TEMPERATURE
from adapter.units import UnitError, convert_quantity

TERM = Terminology.default()
KNOWN = sorted({u for family in FAMILIES.values() for u in family} | set(TEMPERATURE))
UNITS = [*KNOWN, "log10 IU/mL", "log10 copies/mL", "mg/dl", "×10^9/L", "furlong", ""]
VALUES = [Decimal(t) for t in ("0", "2.250", "-3.5", "1E+5", "0.000001")]


def _reference(analyte, value, unit, system, target):
    try:
        converted = convert_quantity(TERM, analyte, value, unit, unit, system, target_unit=target)
        return (float(converted.value), converted.unit or None, converted.conversion)
    except UnitError as exc:
        return ("error", exc.kind, str(exc))
    except OverflowError:  # 10**100000 (a log10 unit) is no float
        return ("overflow",)


def _planned(ctx, analyte, value, unit, system, target):
    try:
        return to_canonical(ctx, analyte, value, unit, unit, system, target)
    except UnitError as exc:
        return ("error", exc.kind, str(exc))
    except OverflowError:
        return ("overflow",)


@pytest.mark.parametrize("analyte", sorted(TERM.analytes), ids=str)
def test_planned_conversion_equals_the_exact_converter(analyte):
    ctx = MappingContext(TERM)  # one memo: each unit is planned once, then reused
    for target in (None, "[IU]/mL", "{copies}/mL"):
        for unit in UNITS:
            for system in (UCUM, None):
                for value in VALUES:
                    expected = _reference(analyte, value, unit, system, target)
                    assert _planned(ctx, analyte, value, unit, system, target) == expected, (
                        analyte,
                        unit,
                        value,
                    )


@pytest.mark.parametrize(
    ("unit", "value", "expected"),
    [
        ("[degF]", Decimal("98.6"), 37.0),  # (98.6 - 32) x 5/9, 6.4
        ("mg/dL", Decimal("100"), 1.129),  # TG mg/dL x 0.01129, 6.4
    ],
    ids=["fahrenheit", "triglycerides"],
)
def test_planned_conversion_hand_worked(unit, value, expected):
    analyte = "temperature" if unit == "[degF]" else "TG"
    value_out, _unit, _conversion = to_canonical(
        MappingContext(TERM), analyte, value, unit, unit, UCUM
    )
    assert value_out == pytest.approx(expected, abs=1e-12)

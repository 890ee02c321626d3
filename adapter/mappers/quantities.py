"""Unit conversion for the mappers: `adapter.units.convert_quantity`, planned once per unit.

For one analyte, unit and target scale, `convert_quantity` is an exact affine map of the value
(``value x factor`` for every unit but temperatures, ``(value + offset) x factor`` for those), or
a power of ten (log10 units). The affine ones are worked out once per run from the converter
itself (its results at 0 and 1) and applied with exact integer arithmetic: the correctly rounded
float of the same rational number the converter's `Fraction` gives, without `Fraction`'s cost.
Log units, and units the converter refuses, always go through the converter.

Reference ranges are converted here too, bound by bound like the value.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, NamedTuple

from adapter.fhir import decimal_of
from adapter.mappers.context import MappingContext
from adapter.terminology import CodeMatch
from adapter.units import UnitError, convert_quantity


class Plan(NamedTuple):
    """value -> (value x k_num / k_den + c_num / c_den), in `unit`, described by `conversion`."""

    k_num: int
    k_den: int
    c_num: int
    c_den: int
    unit: str | None
    conversion: str | None


def to_canonical(
    ctx: MappingContext,
    analyte: str,
    number: Decimal,
    unit: str | None,
    code: str | None,
    system: str | None,
    target_unit: str | None = None,
) -> tuple[float, str | None, str | None]:
    """Return (value as float, canonical unit or None, conversion) like `convert_quantity`.

    Raises:
        UnitError: as `convert_quantity` (unknown or non-convertible unit).
        ValueError: `number` is not finite.
    """
    key = (analyte, unit, code, system, target_unit)
    plan = ctx.memo.get("unit-plan", key, _plan, ctx, analyte, unit, code, system, target_unit)
    if plan is None or not number.is_finite():
        converted = convert_quantity(
            ctx.terminology, analyte, number, unit, code, system, target_unit=target_unit
        )
        return float(converted.value), converted.unit or None, converted.conversion
    n, d = number.as_integer_ratio()
    value = (n * plan.k_num * plan.c_den + plan.c_num * d * plan.k_den) / (
        d * plan.k_den * plan.c_den
    )
    return value, plan.unit, plan.conversion


def _plan(
    ctx: MappingContext,
    analyte: str,
    unit: str | None,
    code: str | None,
    system: str | None,
    target_unit: str | None,
) -> Plan | None:
    """The affine map the converter applies for this unit; None for log units and refusals."""
    try:
        zero, one, ten = (
            convert_quantity(
                ctx.terminology, analyte, Decimal(x), unit, code, system, target_unit=target_unit
            )
            for x in (0, 1, 10)
        )
    except UnitError:
        return None  # the converter says why, each time it is asked
    k, c = one.value - zero.value, zero.value
    same = {(r.unit, r.conversion) for r in (zero, one, ten)}
    if len(same) != 1 or ten.value != 10 * k + c or (one.conversion or "").startswith("log10("):
        return None  # not affine in the value (log units)
    return Plan(
        k.numerator, k.denominator, c.numerator, c.denominator, one.unit or None, one.conversion
    )


def reference_range(
    ranges: Any, match: CodeMatch | None, unit: str | None, ctx: MappingContext
) -> tuple[float | None, float | None, str | None]:
    """Return the first reference range's low/high in the row's unit, and its text.

    A bound whose unit cannot be converted is not guessed: it is left out and the range's
    original text kept, so the outcome falls back to interpretation or default ranges (6.3).
    """
    for item in ranges or ():
        if not isinstance(item, Mapping):
            continue
        bounds = []
        for side in ("low", "high"):
            bounds.append(_bound(item.get(side), match, unit, ctx))
        text = item.get("text") or _range_text(item)
        if bounds[0] is not None or bounds[1] is not None or text:
            return bounds[0], bounds[1], text
    return None, None, None


def _bound(
    quantity: Any, match: CodeMatch | None, unit: str | None, ctx: MappingContext
) -> float | None:
    """Convert one reference-range bound like the value, or None when it cannot be."""
    if not isinstance(quantity, Mapping) or quantity.get("value") is None:
        return None
    try:
        number = decimal_of(quantity["value"])
        if match is None:
            return float(number)
        value, converted_unit, _ = to_canonical(
            ctx,
            match.key,
            number,
            quantity.get("unit"),
            quantity.get("code"),
            quantity.get("system"),
        )
    except (ValueError, UnitError):
        return None
    if unit is not None and (converted_unit or "") != unit:
        return None
    return value


def _range_text(item: Mapping[str, Any]) -> str | None:
    """Render a range as text when it has bounds (kept for audit)."""
    parts = []
    for side in ("low", "high"):
        bound = item.get(side)
        if isinstance(bound, Mapping) and bound.get("value") is not None:
            parts.append(
                f"{side} {bound.get('value')} {bound.get('unit') or bound.get('code') or ''}"
            )
    return "; ".join(p.strip() for p in parts) or None

"""Units: normalisation of unit strings, exact conversion to canonical units, doses in mg.

CLINICAL-SPEC 4.3.3, 6.2, 6.4. All arithmetic is exact (`Fraction`); round only for display.
Unknown units and the non-convertible scale pairs (sCD25 U/mL vs pg/mL, viral load IU/mL vs
copies/mL, D-dimer FEU vs DDU) raise `UnitError`, which the mapper turns into a quarantine.

Scales: sCD25 and viral DNA keep the scale they were reported on. `Converted.unit` is that
scale's canonical unit and `Converted.scale` names it ("U" | "mass" for sCD25, "IU" | "copies"
for CMV/EBV DNA, "FEU" | "DDU" for D-dimer, None for single-scale analytes), so a caller
comparing two results compares `unit` (or `scale`) first. Passing `target_unit` asks for one
scale and refuses any other with `UnitError("non-convertible")`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Context, Decimal
from fractions import Fraction

from adapter import codes
from adapter.errors import AdapterError
from adapter.termconfig import Terminology
from adapter.unit_tables import ANALYTE_SCALES, DOSE_UNITS, FAMILIES, SAME, TEMPERATURE, Scale
from adapter.unitnorm import normalise_one, normalise_unit, split_unit

__all__ = [
    "Converted",
    "DoseAmount",
    "UnitError",
    "convert_quantity",
    "dose_to_mg",
    "normalise_unit",
]

# A unit may sit in two families ([IU]/L: enzyme activity, and IU viral loads).
_UNIT_FAMILIES: dict[str, list[tuple[str, Fraction]]] = {}
for _family, _units in FAMILIES.items():
    for _unit, _k in _units.items():
        _UNIT_FAMILIES.setdefault(_unit, []).append((_family, _k))
_LOG_CONTEXT = Context(prec=28)


class UnitError(AdapterError):
    """A unit the registry cannot use for an analyte.

    Attributes:
        kind: "unknown" (no rule for this unit) or "non-convertible" (a unit on another scale of
            the same quantity: sCD25 U/mL vs pg/mL, IU vs copies, FEU vs DDU).
        unit: the unit as given; analyte: the analyte key (None for doses).
    """

    def __init__(
        self, kind: str, message: str, *, unit: str | None = None, analyte: str | None = None
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.unit = unit
        self.analyte = analyte


@dataclass(frozen=True, slots=True)
class Converted:
    """A value in the canonical unit of its analyte (and scale)."""

    value: Fraction
    unit: str  # canonical UCUM code of the analyte/scale; "" for a unitless qualitative value
    conversion: str | None  # e.g. "mg/dL -> mmol/L x 1129/100000"; None when none was needed
    scale: str | None = None  # U | mass | IU | copies | FEU | DDU; None for single-scale analytes


@dataclass(frozen=True, slots=True)
class DoseAmount:
    """A dose in mg, or in mg/kg (to be multiplied by body weight, 4.3.3)."""

    mg: Fraction | None
    mg_per_kg: Fraction | None
    unit: str  # the normalised unit given: mg | g | ug | mg/kg | ug/kg | g/kg


def _fraction(value: Decimal) -> Fraction:
    if not value.is_finite():
        raise ValueError(f"not a finite number: {value}")
    return Fraction(value)


def _linear_factor(scale: Scale, base: str) -> Fraction | None:
    """Return the exact factor from `base` into the scale's canonical unit, or None."""
    if base == scale.canonical:
        return Fraction(1)
    for family, k in _UNIT_FAMILIES.get(base, ()):
        into = scale.families.get(family)
        if into == SAME:
            return k / FAMILIES[family][scale.canonical]
        if into is not None:
            return k * into
    return None


def _scales(term: Terminology, analyte: str) -> tuple[Scale, ...]:
    spec = term.analyte(analyte)
    if analyte in ANALYTE_SCALES:
        return ANALYTE_SCALES[analyte]
    return (Scale(None, spec.canonical_unit, {}),) if spec.canonical_unit else ()


def _pick_scale(
    scales: tuple[Scale, ...], base: str, annotation: str | None
) -> tuple[Scale | None, bool]:
    """Return (the scale `base` belongs to, whether another annotation made it non-convertible)."""
    other_annotation = False
    for scale in scales:
        if annotation and annotation != scale.annotation:
            other_annotation = other_annotation or scale.annotation is not None
            continue
        if _linear_factor(scale, base) is not None or (
            scale.canonical == "Cel" and base in TEMPERATURE
        ):
            return scale, False
    return None, other_annotation


def _own_unit(scales: tuple[Scale, ...], given: str) -> str:
    """An unlisted unit spelled exactly as the analyte's canonical unit (config analytes)."""
    return given.strip() if any(s.canonical == given.strip() for s in scales) else ""


def _target_scale(scales: tuple[Scale, ...], target: str, analyte: str) -> Scale:
    norm = normalise_unit(target, target, codes.UCUM) or target
    base, annotation, _ = split_unit(norm)
    scale, _ = _pick_scale(scales, base, annotation)
    if scale is None:
        raise UnitError(
            "unknown",
            f"target unit {target!r} is not a scale of analyte {analyte!r}",
            unit=target,
            analyte=analyte,
        )
    return scale


def convert_quantity(
    term: Terminology,
    analyte: str,
    value: Decimal,
    unit: str | None,
    code: str | None,
    system: str | None,
    *,
    target_unit: str | None = None,
) -> Converted:
    """Convert a value to its analyte's canonical unit with the exact 6.4 factors.

    Args:
        term: the terminology (the analyte must be in it).
        analyte: the analyte key (`CodeMatch.key`).
        value: the number as written.
        unit: `Quantity.unit` (free text).
        code: `Quantity.code`.
        system: `Quantity.system`; when UCUM, `code` is read as a UCUM code.
        target_unit: optional; the scale the caller needs (e.g. "[U]/mL" for sCD25). A value on
            another scale of the analyte raises UnitError("non-convertible").

    Returns:
        The value, its canonical unit (of the scale the value is on) and the conversion applied.

    Raises:
        UnitError: kind "unknown" (no rule for this unit and analyte, or no unit for a
            quantitative analyte) or "non-convertible" (another scale: sCD25 U/mL vs pg/mL,
            IU vs copies, FEU vs DDU). The message names the unit and the analyte.
        KeyError: `analyte` is not in `term`.
        ValueError: `value` is not finite.
    """
    number = _fraction(value)
    scales = _scales(term, analyte)
    given = unit if unit and unit.strip() else code
    if not given or not given.strip():
        if not scales:
            return Converted(number, "", None)
        raise UnitError("unknown", f"no unit given for analyte {analyte!r}", analyte=analyte)
    norm = normalise_unit(unit, code, system) or _own_unit(scales, given)
    base, annotation, log = split_unit(norm)
    scale = _scale_of(scales, base, annotation, given, analyte)
    if target_unit is not None and _target_scale(scales, target_unit, analyte) is not scale:
        raise UnitError(
            "non-convertible",
            f"unit {given!r} is on the {scale.name} scale of analyte {analyte!r}, which cannot be"
            f" converted to {target_unit!r}",
            unit=given,
            analyte=analyte,
        )
    if log:
        number = Fraction(_LOG_CONTEXT.power(Decimal(10), value))
    return _apply(number, scale, base, norm, log=log)


def _scale_of(
    scales: tuple[Scale, ...], base: str, annotation: str | None, given: str, analyte: str
) -> Scale:
    """Return the scale a (normalised) unit is on.

    Raises:
        UnitError: no scale of the analyte takes the unit ("unknown"), or the unit is annotated
            for the other D-dimer scale ("non-convertible").
    """
    scale, other_annotation = _pick_scale(scales, base, annotation) if base else (None, False)
    if scale is not None:
        return scale
    if other_annotation:
        raise UnitError(
            "non-convertible",
            f"unit {given!r} is {annotation}, analyte {analyte!r} is {scales[0].annotation};"
            " FEU and DDU are never converted",
            unit=given,
            analyte=analyte,
        )
    raise UnitError(
        "unknown",
        f"unit {given!r} is not a known unit for analyte {analyte!r}",
        unit=given,
        analyte=analyte,
    )


def _apply(number: Fraction, scale: Scale, base: str, norm: str, *, log: bool) -> Converted:
    """Convert `number` (already 10**x for log units) from `base` into the scale's unit."""
    if base in TEMPERATURE and scale.canonical == "Cel":
        offset, factor = TEMPERATURE[base]
        sign = "-" if offset < 0 else "+"
        affine = None if base == "Cel" else f"{base} -> Cel (x {sign} {abs(offset)}) x {factor}"
        return Converted((number + offset) * factor, scale.canonical, affine, scale.name)
    factor = _linear_factor(scale, base) or Fraction(0)
    if log:
        scaled = f" x {factor}" if factor != 1 else ""
        conversion: str | None = f"log10({base}) -> {scale.canonical} 10**x{scaled}"
    else:
        conversion = None if base == scale.canonical else f"{norm} -> {scale.canonical} x {factor}"
    return Converted(number * factor, scale.canonical, conversion, scale.name)


def dose_to_mg(value: Decimal, unit: str | None, code: str | None) -> DoseAmount:
    """Convert a dose to mg (CLINICAL-SPEC 4.3.3): mg, g x 1000, ug/mcg/µg x 0.001, or mg/kg.

    A mg/kg (or ug/kg, g/kg) dose comes back as `mg_per_kg` with `mg` None: the caller
    multiplies by body weight (LOINC 29463-7 within 30 days).

    Raises:
        UnitError: kind "unknown" for any other unit (tablets, mL, IU, ...) or no unit.
        ValueError: `value` is not finite.
    """
    number = _fraction(value)
    for raw in (code, unit):
        norm = normalise_one(raw, ucum=False) if raw and raw.strip() else None
        if norm in DOSE_UNITS:
            factor, per_kg = DOSE_UNITS[norm]
            if per_kg:
                return DoseAmount(None, number * factor, norm)
            return DoseAmount(number * factor, None, norm)
    given = unit or code
    raise UnitError("unknown", f"dose unit {given!r} is not a mass or mass per kg", unit=given)

"""Observation -> ObservationRow per value (main value and components), panel members.

The analyte is identified by LOINC, then site-local codes, then flagged text (CLINICAL-SPEC 6.1);
the value is converted to the analyte's canonical unit with the original kept (6.4). A study
analyte whose unit is unknown or on another scale is quarantined, never guessed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from adapter.codes import LOINC
from adapter.codes_lab import LOINC_SCALE
from adapter.errors import MappingError
from adapter.fhir import (
    FhirTime,
    choice,
    code_in,
    concept_text,
    decimal_of,
    iter_codings,
    pick_coding,
)
from adapter.mappers.context import MappingContext, exclusion_for, json_key, status_of
from adapter.mappers.diagnostic_report import member_rows
from adapter.mappers.quantities import reference_range, to_canonical
from adapter.rows import ObservationRow, Row
from adapter.terminology import CodeMatch, match_analyte
from adapter.units import UnitError, normalise_unit

CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
_STATUSES = frozenset(
    {
        "registered",
        "preliminary",
        "final",
        "amended",
        "corrected",
        "cancelled",
        "entered-in-error",
        "unknown",
    }
)


def map_observation(resource: Mapping[str, Any], ctx: MappingContext) -> list[Row]:
    """Map an Observation: one row for its value, one per coded component, plus panel members.

    Raises:
        MappingError: invalid status, no Patient subject, no code, an unusable value or unit.
    """
    status = status_of(resource, _STATUSES)
    patient_id = ctx.patient_of(resource)
    specimen = _specimen(resource)
    coded = _coded(resource.get("code"), specimen, ctx)
    if coded.empty:
        raise MappingError("missing-element", "Observation.code", "Observation.code is empty")
    effective, effective_end = _effective(resource, ctx)
    issued = ctx.time(resource.get("issued"), "Observation.issued")
    common = {
        "patient_id": patient_id,
        "category": _category(resource, ctx),
        "status": status,
        "interpretation": _interpretation(resource.get("interpretation")),
        "specimen": specimen,
        "effective_at": effective.value if effective else None,
        "effective_precision": effective.precision if effective else None,
        "effective_end_at": effective_end.value if effective_end else None,
        "issued_at": issued.value if issued else None,
        "exclusion": exclusion_for(status),
    }
    rows: list[Row] = [
        _value_row(
            resource, coded, None, "Observation", resource.get("referenceRange"), common, ctx
        )
    ]
    for index, component in enumerate(resource.get("component") or ()):
        if isinstance(component, Mapping) and component.get("code") is not None:
            path = f"Observation.component[{index}]"
            ranges = component.get("referenceRange")
            part = _coded(component["code"], specimen, ctx)
            rows.append(_value_row(component, part, index, path, ranges, common, ctx))
    rows.extend(member_rows(resource.get("hasMember"), ctx))
    return rows


def _value_row(
    element: Mapping[str, Any],
    coded: Coded,
    component_index: int | None,
    path: str,
    ranges: Any,
    common: Mapping[str, Any],
    ctx: MappingContext,
) -> ObservationRow:
    """Build the row for one value-bearing element (the Observation or one component)."""
    match = coded.match
    value = _value_fields(element, path, match, ctx)
    range_key = (json_key(ranges), match, value["unit"])
    low, high, ref_text = ctx.memo.get(
        "range", range_key, reference_range, ranges, match, value["unit"], ctx
    )
    return ObservationRow(
        component_index=component_index,
        reference_low=low,
        reference_high=high,
        reference_text=ref_text,
        **coded.fields,
        **common,
        **value,
    )


class Coded(NamedTuple):
    """What a code says, remembered per code and specimen: the analyte and the code columns."""

    match: CodeMatch | None
    fields: dict[str, Any]
    empty: bool  # no coding and no text: not a usable code


def _coded(code: Any, specimen: str | None, ctx: MappingContext) -> Coded:
    """The analyte match of a code (and its columns), remembered per run."""
    return ctx.memo.get("analyte", (json_key(code), specimen), _code_fields, code, specimen, ctx)


def _code_fields(code: Any, specimen: str | None, ctx: MappingContext) -> Coded:
    """Return the analyte match of a code and the row's code columns."""
    match = match_analyte(ctx.terminology, code, specimen=specimen)
    coding = _coding_of(code, match)
    fields = {
        "analyte": match.key if match else None,
        "analyte_match": match.path if match else None,
        "code_system": coding.get("system") if coding else None,
        "code": coding.get("code") if coding else None,
        "code_display": coding.get("display") if coding else None,
        "code_text": concept_text(code),
    }
    empty = not list(iter_codings(code)) and not concept_text(code)
    return Coded(match, fields, empty)


def _coding_of(code: Any, match: CodeMatch | None) -> Mapping[str, Any] | None:
    """Return the coding that identified the analyte, else the preferred (LOINC) one."""
    if match is not None and match.system is not None:
        return {"system": match.system, "code": match.code, "display": match.display}
    return pick_coding(code, (LOINC,))


_EMPTY_VALUE: dict[str, Any] = {
    "value": None,
    "unit": None,
    "value_original": None,
    "unit_original": None,
    "unit_code_original": None,
    "unit_system_original": None,
    "comparator": None,
    "conversion": None,
    "value_string": None,
    "value_code_system": None,
    "value_code": None,
    "value_code_display": None,
}


def _value_fields(
    element: Mapping[str, Any], path: str, match: CodeMatch | None, ctx: MappingContext
) -> dict[str, Any]:
    """Return the value columns of a row from `value[x]` (empty when absent).

    Remembered per analyte match and value (`path` only names errors); the dict returned is
    shared: callers read it, never change it.
    """
    found = choice(element, "value")
    if found is None:
        return _EMPTY_VALUE
    kind, value = found
    key = (match, kind, json_key(value))
    fields: dict[str, Any] = ctx.memo.get("value", key, _value_of, kind, value, path, match, ctx)
    return fields


def _value_of(
    kind: str, value: Any, path: str, match: CodeMatch | None, ctx: MappingContext
) -> dict[str, Any]:
    """The value columns of one `value[x]` of type `kind`."""
    fields = dict(_EMPTY_VALUE)
    if kind == "Quantity" and isinstance(value, Mapping):
        fields.update(_quantity_fields(value, f"{path}.valueQuantity", match, ctx))
    elif kind == "Integer":
        fields.update(_quantity_fields({"value": value}, f"{path}.valueInteger", match, ctx))
    elif kind == "CodeableConcept":
        coding = pick_coding(value, ())
        fields["value_code_system"] = coding.get("system") if coding else None
        fields["value_code"] = coding.get("code") if coding else None
        fields["value_code_display"] = coding.get("display") if coding else None
        fields["value_string"] = concept_text(value)
    elif kind in ("String", "Boolean", "DateTime", "Time"):
        fields["value_string"] = str(value).lower() if kind == "Boolean" else str(value)
    return fields


def _quantity_fields(
    quantity: Mapping[str, Any], path: str, match: CodeMatch | None, ctx: MappingContext
) -> dict[str, Any]:
    """Convert a Quantity to the analyte's canonical unit, keeping the original."""
    unit_text, unit_code = quantity.get("unit"), quantity.get("code")
    system = quantity.get("system")
    fields: dict[str, Any] = {
        "unit_original": unit_text,
        "unit_code_original": unit_code,
        "unit_system_original": system,
        "comparator": quantity.get("comparator"),
    }
    if quantity.get("value") is None:
        return fields
    try:
        number = decimal_of(quantity["value"])
    except ValueError as exc:
        raise MappingError("invalid-value", f"{path}.value", f"{path}.value: {exc}") from exc
    fields["value_original"] = str(number)
    # No study analyte, or a qualitative one (e.g. CMV IgG) sent as a number: kept as written,
    # unconverted, so serostatus is not lost; the outcome rules read it with its original unit.
    if match is None or ctx.terminology.analyte(match.key).qualitative:
        fields["value"] = float(number)
        fields["unit"] = normalise_unit(unit_text, unit_code, system) or unit_text or unit_code
        return fields
    target = LOINC_SCALE.get(match.code or "") if match.path == "loinc" else None
    try:
        fields["value"], fields["unit"], fields["conversion"] = to_canonical(
            ctx, match.key, number, unit_text, unit_code, system, target_unit=target
        )
    except UnitError as exc:
        reason = "non-convertible-unit" if exc.kind == "non-convertible" else "unknown-unit"
        raise MappingError(reason, f"{path}.unit", f"{path}: {exc}") from exc
    return fields


def _effective(
    resource: Mapping[str, Any], ctx: MappingContext
) -> tuple[FhirTime | None, FhirTime | None]:
    """Return (start, end) from effectiveDateTime / Instant / Period / Timing."""
    for key in ("effectiveDateTime", "effectiveInstant"):
        if key in resource:
            return ctx.time(resource[key], f"Observation.{key}"), None
    period = resource.get("effectivePeriod")
    if isinstance(period, Mapping):
        start = ctx.time(period.get("start"), "Observation.effectivePeriod.start")
        end = ctx.time(period.get("end"), "Observation.effectivePeriod.end")
        return start or end, end
    timing = resource.get("effectiveTiming")
    if isinstance(timing, Mapping) and timing.get("event"):
        return ctx.time(timing["event"][0], "Observation.effectiveTiming.event[0]"), None
    return None, None


def _category(resource: Mapping[str, Any], ctx: MappingContext) -> str | None:
    """Return the first observation-category code (laboratory, vital-signs, ...)."""
    category = resource.get("category")
    if category is None:
        return None
    found: str | None = ctx.memo.get("category", json_key(category), _first_category, category)
    return found


def _first_category(categories: Any) -> str | None:
    for concept in categories or ():
        if found := code_in(concept, CATEGORY):
            return found
    return None


def _interpretation(concepts: Any) -> str | None:
    """Return the interpretation codes (H, L, N, A, ...), comma-joined."""
    codes = [str(c["code"]) for cc in concepts or () for c in iter_codings(cc) if c.get("code")]
    return ",".join(codes) or None


def _specimen(resource: Mapping[str, Any]) -> str | None:
    """Return what is known of the specimen: its display, else the reference."""
    specimen = resource.get("specimen")
    if not isinstance(specimen, Mapping):
        return None
    display = specimen.get("display")
    if isinstance(display, str) and display:
        return display
    reference = specimen.get("reference")
    return reference if isinstance(reference, str) else None

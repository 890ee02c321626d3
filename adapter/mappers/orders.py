"""MedicationRequest / MedicationStatement -> MedicationOrderRow with one dose row per instruction.

Outpatient steroid tapers rarely appear as administrations, so requests and statements are a
lower-priority source of daily doses (CLINICAL-SPEC 4.3.2); a taper is several dosage entries,
each with its own `boundsPeriod` (4.3.4).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapter.fhir import FhirTime, concept_text, pick_coding
from adapter.mappers.context import MappingContext, exclusion_for, status_of
from adapter.mappers.dosage import convert_dose, per_day
from adapter.mappers.medication import ResolvedMedication, resolve_medication
from adapter.rows import MedicationOrderDoseRow, MedicationOrderRow
from adapter.terminology import classify_route, prednisone_factor

_REQUEST_STATUSES = frozenset(
    {
        "active",
        "on-hold",
        "cancelled",
        "completed",
        "entered-in-error",
        "stopped",
        "draft",
        "unknown",
    }
)
_STATEMENT_STATUSES = frozenset(
    {
        "active",
        "completed",
        "entered-in-error",
        "intended",
        "stopped",
        "on-hold",
        "unknown",
        "not-taken",
        "recorded",  # R5
        "draft",  # R5
    }
)


def map_medication_request(
    resource: Mapping[str, Any], ctx: MappingContext
) -> list[MedicationOrderRow]:
    """Map a MedicationRequest (authoredOn, dosageInstruction).

    Raises:
        MappingError: invalid status, no Patient or medication, an unusable dose.
    """
    status = status_of(resource, _REQUEST_STATUSES)
    authored = ctx.time(resource.get("authoredOn"), "MedicationRequest.authoredOn")
    return [_order(resource, ctx, "request", status, authored, None, None, "dosageInstruction")]


def map_medication_statement(
    resource: Mapping[str, Any], ctx: MappingContext
) -> list[MedicationOrderRow]:
    """Map a MedicationStatement (effective[x], dosage).

    Raises:
        MappingError: invalid status, no Patient or medication, an unusable dose.
    """
    status = status_of(resource, _STATEMENT_STATUSES)
    start = end = None
    if "effectiveDateTime" in resource:
        start = ctx.time(resource["effectiveDateTime"], "MedicationStatement.effectiveDateTime")
    elif isinstance(resource.get("effectivePeriod"), Mapping):
        period = resource["effectivePeriod"]
        start = ctx.time(period.get("start"), "MedicationStatement.effectivePeriod.start")
        end = ctx.time(period.get("end"), "MedicationStatement.effectivePeriod.end")
    asserted = ctx.time(resource.get("dateAsserted"), "MedicationStatement.dateAsserted")
    return [_order(resource, ctx, "statement", status, asserted, start, end, "dosage")]


def _order(
    resource: Mapping[str, Any],
    ctx: MappingContext,
    kind: str,
    status: str,
    authored: FhirTime | None,
    start: FhirTime | None,
    end: FhirTime | None,
    dosage_field: str,
) -> MedicationOrderRow:
    """Build the order row shared by requests and statements."""
    patient_id = ctx.patient_of(resource)
    medication = resolve_medication(resource, ctx)
    ingredient = medication.drug.ingredient
    factor = prednisone_factor(ctx.terminology, ingredient) if ingredient else None
    doses = tuple(
        _dose_row(
            item, index, f"{resource['resourceType']}.{dosage_field}[{index}]", medication, ctx
        )
        for index, item in enumerate(resource.get(dosage_field) or ())
        if isinstance(item, Mapping)
    )
    intent = resource.get("intent")
    return MedicationOrderRow(
        patient_id=patient_id,
        kind=kind,
        status=status,
        intent=intent if isinstance(intent, str) else None,
        drug=medication.drug,
        medication_source=medication.source,
        medication_ref=medication.reference,
        authored_at=authored.value if authored else None,
        effective_start=start.value if start else None,
        effective_end=end.value if end else None,
        effective_precision=start.precision if start else None,
        prednisone_factor=str(factor) if factor is not None else None,
        doses=doses,
        exclusion=exclusion_for(status),
    )


def _dose_row(
    dosage: Mapping[str, Any],
    index: int,
    path: str,
    medication: ResolvedMedication,
    ctx: MappingContext,
) -> MedicationOrderDoseRow:
    """Map one Dosage: amount, frequency, bounds, route; daily mg when all are known."""
    rate = next((r for r in dosage.get("doseAndRate") or () if isinstance(r, Mapping)), {})
    dose = convert_dose(
        rate.get("doseQuantity"),
        f"{path}.doseAndRate[0].doseQuantity",
        medication.drug,
        medication.strength_mg_per_unit,
    )
    timing = dosage.get("timing")
    daily_count, frequency, period, period_unit = per_day(timing)
    repeat = timing.get("repeat") if isinstance(timing, Mapping) else None
    bounds = repeat.get("boundsPeriod") if isinstance(repeat, Mapping) else None
    bounds = bounds if isinstance(bounds, Mapping) else {}
    bound_start = ctx.time(bounds.get("start"), f"{path}.timing.repeat.boundsPeriod.start")
    bound_end = ctx.time(bounds.get("end"), f"{path}.timing.repeat.boundsPeriod.end")
    route = dosage.get("route")
    route_coding = pick_coding(route, ())
    daily = dose.mg * daily_count if dose.mg is not None and daily_count is not None else None
    as_needed = bool(dosage.get("asNeededBoolean") or dosage.get("asNeeded")) or (
        "asNeededCodeableConcept" in dosage
    )
    return MedicationOrderDoseRow(
        sequence=index,
        text=dosage.get("text") if isinstance(dosage.get("text"), str) else None,
        dose_value_original=dose.value_original,
        dose_unit_original=dose.unit_original,
        dose_mg=float(dose.mg) if dose.mg is not None else None,
        dose_mg_per_kg=float(dose.mg_per_kg) if dose.mg_per_kg is not None else None,
        frequency=frequency,
        period=period,
        period_unit=period_unit,
        per_day=str(daily_count) if daily_count is not None else None,
        daily_dose_mg=float(daily) if daily is not None else None,
        as_needed=as_needed,
        bounds_start=bound_start.value if bound_start else None,
        bounds_end=bound_end.value if bound_end else None,
        route_code=route_coding.get("code") if route_coding else None,
        route_text=concept_text(route),
        route_class=classify_route(ctx.terminology, route),
    )

"""MedicationAdministration -> MedicationAdministrationRow (CLINICAL-SPEC 4.2-4.4; R4 and R5)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapter.errors import MappingError
from adapter.fhir import FhirTime, as_object, pick_coding
from adapter.mappers.context import MappingContext, exclusion_for, status_of
from adapter.mappers.dosage import convert_dose
from adapter.mappers.medication import resolve_medication
from adapter.rows import MedicationAdministrationRow
from adapter.terminology import classify_route, prednisone_factor

_STATUSES = frozenset(
    {
        "in-progress",
        "not-done",
        "on-hold",
        "completed",
        "entered-in-error",
        "stopped",
        "unknown",
    }
)


def map_medication_administration(
    resource: Mapping[str, Any], ctx: MappingContext
) -> list[MedicationAdministrationRow]:
    """Map one administration: drug, dose in mg (or mg/kg), route class, time, steroid factor.

    Raises:
        MappingError: invalid status, no Patient, no medication or time, an unusable dose.
    """
    status = status_of(resource, _STATUSES)
    patient_id = ctx.patient_of(resource)
    medication = resolve_medication(resource, ctx)
    start, end = _occurrence(resource, ctx)
    dosage = as_object(resource.get("dosage"))
    dose = convert_dose(
        dosage.get("dose"),
        "MedicationAdministration.dosage.dose",
        medication.drug,
        medication.strength_mg_per_unit,
    )
    route = dosage.get("route")
    route_coding = pick_coding(route, ())
    ingredient = medication.drug.ingredient
    factor = prednisone_factor(ctx.terminology, ingredient) if ingredient else None
    return [
        MedicationAdministrationRow(
            patient_id=patient_id,
            status=status,
            drug=medication.drug,
            medication_source=medication.source,
            medication_ref=medication.reference,
            dose_value_original=dose.value_original,
            dose_unit_original=dose.unit_original,
            dose_mg=float(dose.mg) if dose.mg is not None else None,
            dose_mg_per_kg=float(dose.mg_per_kg) if dose.mg_per_kg is not None else None,
            route_code=route_coding.get("code") if route_coding else None,
            route_text=route.get("text") if isinstance(route, Mapping) else None,
            route_class=classify_route(ctx.terminology, route),
            effective_at=start.value,
            effective_precision=start.precision,
            effective_end_at=end.value if end else None,
            prednisone_factor=str(factor) if factor is not None else None,
            exclusion=exclusion_for(status),
        )
    ]


def _occurrence(
    resource: Mapping[str, Any], ctx: MappingContext
) -> tuple[FhirTime, FhirTime | None]:
    """Return (start, end): R4 effective[x], R5 occurence[x] (sic, the R5 spelling).

    Raises:
        MappingError: no time at all (the element is required in R4 and R5).
    """
    for prefix in ("effective", "occurence", "occurrence"):
        if f"{prefix}DateTime" in resource:
            key = f"{prefix}DateTime"
            time = ctx.time(resource[key], f"MedicationAdministration.{key}")
            if time is not None:
                return time, None
        period = resource.get(f"{prefix}Period")
        if isinstance(period, Mapping):
            path = f"MedicationAdministration.{prefix}Period"
            start = ctx.time(period.get("start"), f"{path}.start")
            end = ctx.time(period.get("end"), f"{path}.end")
            if start is not None:
                return start, end
        timing = resource.get(f"{prefix}Timing")
        if isinstance(timing, Mapping) and timing.get("event"):
            path = f"MedicationAdministration.{prefix}Timing.event[0]"
            time = ctx.time(timing["event"][0], path)
            if time is not None:
                return time, None
    raise MappingError(
        "missing-element",
        "MedicationAdministration.effective[x]",
        "MedicationAdministration has no effective/occurence time",
    )

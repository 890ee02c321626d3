"""Encounter -> EncounterRow: its period end can define the end of follow-up (CLINICAL-SPEC 2)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapter.fhir import as_object, iter_codings
from adapter.mappers.context import MappingContext, exclusion_for
from adapter.rows import EncounterRow


def map_encounter(resource: Mapping[str, Any], ctx: MappingContext) -> list[EncounterRow]:
    """Map an Encounter (R4 `class` Coding and `period`; R5 `class` list and `actualPeriod`).

    Raises:
        MappingError: no Patient subject or a malformed period.
    """
    patient_id = ctx.patient_of(resource)
    status = resource.get("status")
    klass = resource.get("class")
    if isinstance(klass, list):  # R5: class is a list of CodeableConcepts
        class_code = next((c.get("code") for k in klass for c in iter_codings(k)), None)
    else:
        class_code = klass.get("code") if isinstance(klass, Mapping) else None
    field = "actualPeriod" if "actualPeriod" in resource else "period"
    period = as_object(resource.get(field))
    start = ctx.time(period.get("start"), f"Encounter.{field}.start")
    end = ctx.time(period.get("end"), f"Encounter.{field}.end")
    return [
        EncounterRow(
            patient_id=patient_id,
            status=status if isinstance(status, str) else None,
            class_code=class_code,
            period_start=start.value if start else None,
            period_start_precision=start.precision if start else None,
            period_end=end.value if end else None,
            period_end_precision=end.precision if end else None,
            exclusion=exclusion_for(status),
        )
    ]

"""Resource mappers: one pure function per FHIR resource type, registered in `MAPPERS`.

Resource types absent from `MAPPERS` are not mapped: the loader counts them as skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from adapter.mappers.administration import map_medication_administration
from adapter.mappers.adverse_event import map_adverse_event
from adapter.mappers.condition import map_condition
from adapter.mappers.context import MappingContext
from adapter.mappers.diagnostic_report import map_diagnostic_report
from adapter.mappers.encounter import map_encounter
from adapter.mappers.medication import UNRESOLVED, map_medication
from adapter.mappers.observation import map_observation
from adapter.mappers.orders import map_medication_request, map_medication_statement
from adapter.mappers.patient import map_patient
from adapter.rows import Row

Mapper = Callable[[Mapping[str, Any], MappingContext], Sequence[Row]]

MAPPERS: dict[str, Mapper] = {
    "Patient": map_patient,
    "Condition": map_condition,
    "Observation": map_observation,
    "DiagnosticReport": map_diagnostic_report,
    "Encounter": map_encounter,
    "Medication": map_medication,
    "MedicationAdministration": map_medication_administration,
    "MedicationRequest": map_medication_request,
    "MedicationStatement": map_medication_statement,
    "AdverseEvent": map_adverse_event,
}


def map_resource(resource: Mapping[str, Any], ctx: MappingContext) -> list[Row]:
    """Map a resource of a type in `MAPPERS` to its rows.

    Raises:
        KeyError: the type is not mapped (callers check `MAPPERS` first).
        adapter.errors.MappingError: the resource cannot be mapped (quarantine it).
    """
    return list(MAPPERS[resource["resourceType"]](resource, ctx))


__all__ = ["MAPPERS", "UNRESOLVED", "MappingContext", "map_resource"]

"""Resource type names and the patient compartment rules the pull uses (STYLE 6.2: one place).

Compartment elements follow the FHIR R4 Patient compartment definition
(https://hl7.org/fhir/R4/compartmentdefinition-patient.html), reduced to the elements the
registry reads; the standard search parameters are those of the R4 specification.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapter.items import type_and_id

PATIENT = "Patient"
CONDITION = "Condition"
OBSERVATION = "Observation"
ENCOUNTER = "Encounter"
DIAGNOSTIC_REPORT = "DiagnosticReport"
MEDICATION = "Medication"
MEDICATION_ADMINISTRATION = "MedicationAdministration"
MEDICATION_REQUEST = "MedicationRequest"
MEDICATION_STATEMENT = "MedicationStatement"
ADVERSE_EVENT = "AdverseEvent"
GROUP = "Group"

# Pulled per patient by default: every patient-linked type the registry maps.
DEFAULT_TYPES: tuple[str, ...] = (
    PATIENT,
    CONDITION,
    OBSERVATION,
    ENCOUNTER,
    DIAGNOSTIC_REPORT,
    MEDICATION_ADMINISTRATION,
    MEDICATION_REQUEST,
    MEDICATION_STATEMENT,
    ADVERSE_EVENT,
)
MEDICATION_USERS = frozenset({MEDICATION_ADMINISTRATION, MEDICATION_REQUEST, MEDICATION_STATEMENT})

# The R4 search parameter that selects a type by patient when the CapabilityStatement is silent.
STANDARD_PATIENT_PARAM: Mapping[str, str] = {
    CONDITION: "patient",
    OBSERVATION: "patient",
    ENCOUNTER: "patient",
    DIAGNOSTIC_REPORT: "patient",
    MEDICATION_ADMINISTRATION: "patient",
    MEDICATION_REQUEST: "patient",
    MEDICATION_STATEMENT: "patient",
    ADVERSE_EVENT: "subject",  # R4 AdverseEvent has no 'patient' parameter
}

# Elements that tie a resource to its patient (R4 Patient compartment, as the registry reads it).
_COMPARTMENT: Mapping[str, tuple[str, ...]] = {
    CONDITION: ("subject",),
    OBSERVATION: ("subject",),
    ENCOUNTER: ("subject",),
    DIAGNOSTIC_REPORT: ("subject",),
    MEDICATION_ADMINISTRATION: ("subject",),
    MEDICATION_REQUEST: ("subject",),
    MEDICATION_STATEMENT: ("subject",),
    ADVERSE_EVENT: ("subject",),
}


def patient_of(resource: Mapping[str, Any], base_url: str | None = None) -> str | None:
    """The id of the patient a resource belongs to, or None if it names none (or another type).

    A Patient belongs to itself. References may be relative, versioned, or absolute on
    `base_url` (an absolute reference to another server is another patient).

    >>> patient_of({"resourceType": "Observation", "subject": {"reference": "Patient/p1"}})
    'p1'
    >>> patient_of({"resourceType": "Observation", "subject": {"reference": "Group/g"}}) is None
    True
    """
    kind = resource.get("resourceType")
    if kind == PATIENT:
        rid = resource.get("id")
        return rid if isinstance(rid, str) else None
    for element in _COMPARTMENT.get(str(kind), ()):
        value = resource.get(element)
        reference = value.get("reference") if isinstance(value, dict) else None
        parsed = type_and_id(reference) if isinstance(reference, str) else None
        if parsed is not None and "://" in str(reference) and base_url is not None:
            parsed = parsed if str(reference).startswith(base_url.rstrip("/") + "/") else None
        if parsed is not None and parsed[0] == PATIENT:
            return parsed[1]
    return None


def is_patient_data(resource_type: str) -> bool:
    """Tell whether a type belongs to a patient compartment (and must be checked)."""
    return resource_type == PATIENT or resource_type in _COMPARTMENT


def medication_ids(resource: Mapping[str, Any]) -> list[str]:
    """Ids of Medications a resource references (contained ``#id`` references excluded)."""
    value = resource.get("medicationReference")
    reference = value.get("reference") if isinstance(value, dict) else None
    if not isinstance(reference, str) or reference.startswith("#"):
        return []
    parsed = type_and_id(reference)
    return [parsed[1]] if parsed is not None and parsed[0] == MEDICATION else []

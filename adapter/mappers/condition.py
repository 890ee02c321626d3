"""Condition -> ConditionRow: underlying disease, MAS/HLH, infections (CLINICAL-SPEC 6.5, 6.6)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapter.codes import SNOMED
from adapter.fhir import FhirTime, code_in, concept_text, pick_coding
from adapter.mappers.context import MappingContext
from adapter.rows import ConditionRow
from adapter.terminology import match_condition

CLINICAL_STATUS = "http://terminology.hl7.org/CodeSystem/condition-clinical"
VERIFICATION_STATUS = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
_ICD10 = ("http://hl7.org/fhir/sid/icd-10", "http://hl7.org/fhir/sid/icd-10-cm")


def map_condition(resource: Mapping[str, Any], ctx: MappingContext) -> list[ConditionRow]:
    """Map a Condition; one with no matching code list is kept as category `other`.

    Raises:
        MappingError: no Patient subject or a malformed date.
    """
    patient_id = ctx.patient_of(resource)
    code = resource.get("code")
    match = match_condition(ctx.terminology, code)
    coding = (
        {"system": match.system, "code": match.code, "display": match.display}
        if match and match.system
        else pick_coding(code, (SNOMED, *_ICD10))
    )
    verification = code_in(resource.get("verificationStatus"), VERIFICATION_STATUS)
    onset = _start_of(resource, "onset", ctx)
    abatement = _start_of(resource, "abatement", ctx)
    recorded = ctx.time(resource.get("recordedDate"), "Condition.recordedDate")
    return [
        ConditionRow(
            patient_id=patient_id,
            category=match.category if match else "other",
            concept=match.concept if match else None,
            match_path=match.path if match else None,
            code_system=coding.get("system") if coding else None,
            code=coding.get("code") if coding else None,
            code_display=coding.get("display") if coding else None,
            code_text=concept_text(code),
            clinical_status=code_in(resource.get("clinicalStatus"), CLINICAL_STATUS),
            verification_status=verification,
            onset_at=onset.value if onset else None,
            onset_precision=onset.precision if onset else None,
            abatement_at=abatement.value if abatement else None,
            abatement_precision=abatement.precision if abatement else None,
            recorded_at=recorded.value if recorded else None,
            exclusion="entered-in-error" if verification == "entered-in-error" else None,
        )
    ]


def _start_of(resource: Mapping[str, Any], prefix: str, ctx: MappingContext) -> FhirTime | None:
    """Return onset/abatement as a time: dateTime, or the start of a Period (Age/String: None)."""
    rtype = resource.get("resourceType")
    if f"{prefix}DateTime" in resource:
        return ctx.time(resource[f"{prefix}DateTime"], f"{rtype}.{prefix}DateTime")
    period = resource.get(f"{prefix}Period")
    if isinstance(period, Mapping):
        return ctx.time(period.get("start"), f"{rtype}.{prefix}Period.start")
    return None

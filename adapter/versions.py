"""FHIR version of content: configured names, and detection from a resource's shape.

Precedence for a resource read from a file (`choose_version`): the configured version, else the
version its own shape shows, else the version the other resources of its Bundle agree on, else R4.

Detection looks only at top-level element names that exist in one version and not the other,
taken from the R4B and R5 StructureDefinitions (as compiled into fhir.resources 8: R4B models
stand for R4 here, as the two do not differ in these resources). For example R5 spells
MedicationAdministration.occurence[x] with one "r" and has no effective[x]; R5 AdverseEvent has
`code`/`occurrence[x]`/`resultingEffect` where R4 has `event`/`date`/`resultingCondition`.
A resource showing both R4-only and R5-only elements is ambiguous (None): it is valid in neither.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from adapter.errors import ConfigError

FHIR_VERSIONS = ("R4", "R4B", "R5")
DEFAULT_VERSION = "R4"

_NAMES = {"r4": "R4", "r4b": "R4B", "r5": "R5"}
_NUMBERED = re.compile(r"^(\d+)\.(\d+)(?:\.\d+)?(?:-[A-Za-z0-9.]+)?$")
_BY_NUMBER = {("4", "0"): "R4", ("4", "3"): "R4B", ("5", "0"): "R5"}
_CORE_PROFILE = "http://hl7.org/fhir/StructureDefinition/"


def _s(names: str) -> frozenset[str]:
    return frozenset(names.split())


# resource type -> (elements only in R4/R4B, elements only in R5); top-level names only, the set
# differences of the fhir.resources 8 R4B and R5 models (choice types expanded).
_SHAPES: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "MedicationAdministration": (
        _s(
            "context effectiveDateTime effectivePeriod instantiates medicationCodeableConcept "
            "medicationReference reasonCode reasonReference"
        ),
        _s(
            "basedOn encounter isSubPotent occurenceDateTime occurencePeriod occurenceTiming "
            "reason recorded subPotentReason"
        ),
    ),
    "MedicationRequest": (
        _s(
            "detectedIssue instantiatesCanonical instantiatesUri medicationCodeableConcept "
            "medicationReference reasonCode reasonReference reportedBoolean reportedReference"
        ),
        _s(
            "device effectiveDosePeriod informationSource reason renderedDosageInstruction "
            "reported statusChanged"
        ),
    ),
    "MedicationStatement": (
        _s(
            "basedOn context medicationCodeableConcept medicationReference reasonCode "
            "reasonReference statusReason"
        ),
        _s(
            "adherence effectiveTiming encounter reason relatedClinicalInformation "
            "renderedDosageInstruction"
        ),
    ),
    "MedicationDispense": (
        _s(
            "context detectedIssue medicationCodeableConcept medicationReference "
            "statusReasonCodeableConcept statusReasonReference"
        ),
        _s("basedOn encounter notPerformedReason recorded renderedDosageInstruction statusChanged"),
    ),
    "AdverseEvent": (
        _s(
            "contributor date event referenceDocument resultingCondition severity "
            "subjectMedicalHistory"
        ),
        _s(
            "code contributingFactor expectedInResearchStudy mitigatingAction note "
            "occurrenceDateTime occurrencePeriod occurrenceTiming participant preventiveAction "
            "resultingEffect status supportingInfo"
        ),
    ),
    "Observation": (
        frozenset(),
        _s(
            "bodyStructure instantiatesCanonical instantiatesReference triggeredBy "
            "valueAttachment valueReference"
        ),
    ),
    "Condition": (
        _s("asserter recorder"),
        _s("participant"),
    ),
    "AllergyIntolerance": (
        _s("asserter recorder"),
        _s("participant"),
    ),
    "Encounter": (
        _s("classHistory hospitalization period reasonCode reasonReference statusHistory"),
        _s(
            "actualPeriod admission careTeam dietPreference plannedEndDate plannedStartDate "
            "reason specialArrangement specialCourtesy subjectStatus virtualService"
        ),
    ),
    "Procedure": (
        _s(
            "asserter complicationDetail performedAge performedDateTime performedPeriod "
            "performedRange performedString reasonCode reasonReference usedCode usedReference"
        ),
        _s(
            "focus occurrenceAge occurrenceDateTime occurrencePeriod occurrenceRange "
            "occurrenceString occurrenceTiming reason recorded reportedBoolean "
            "reportedReference supportingInfo used"
        ),
    ),
    "DiagnosticReport": (
        _s("imagingStudy"),
        _s("composition note study supportingInfo"),
    ),
    "Medication": (
        _s("amount form manufacturer"),
        _s("definition doseForm marketingAuthorizationHolder totalVolume"),
    ),
    "Specimen": (
        frozenset(),
        _s("combined feature role"),
    ),
    "Immunization": (
        _s("education reasonCode reasonReference recorded reportOrigin"),
        _s("administeredProduct basedOn informationSource reason supportingInformation"),
    ),
    "ServiceRequest": (
        _s("locationCode locationReference reasonCode reasonReference"),
        _s("bodyStructure focus location reason"),
    ),
    "Bundle": (
        frozenset(),
        _s("issues"),
    ),
}
_NO_SHAPE: tuple[frozenset[str], frozenset[str]] = (frozenset(), frozenset())
# `medication` is a CodeableReference in R5 only (R4 has medication[x]).
_MEDICATION_CODEABLE_REFERENCE = frozenset(
    ("MedicationAdministration", "MedicationRequest", "MedicationStatement", "MedicationDispense")
)


def normalise_version(text: str) -> str:
    """Return "R4", "R4B" or "R5" for a configured version name or number.

    >>> normalise_version("4.0.1"), normalise_version("r4b"), normalise_version("5.0.0")
    ('R4', 'R4B', 'R5')

    Raises:
        ConfigError: not a FHIR version the registry reads.
    """
    cleaned = str(text).strip()
    named = _NAMES.get(cleaned.lower())
    if named:
        return named
    match = _NUMBERED.match(cleaned)
    version = _BY_NUMBER.get((match.group(1), match.group(2))) if match else None
    if version is None:
        raise ConfigError(
            f"unknown FHIR version {cleaned!r}: use R4 (4.0.x), R4B (4.3.x) or R5 (5.0.x)"
        )
    return version


def _shape_signals(resource: Mapping[str, Any]) -> tuple[bool, bool]:
    """Return (has R4-only shape, has R5-only shape)."""
    rtype = resource.get("resourceType")
    r4_only, r5_only = _SHAPES.get(rtype if isinstance(rtype, str) else "", _NO_SHAPE)
    names = {key.lstrip("_") for key in resource}
    r4, r5 = bool(names & r4_only), bool(names & r5_only)
    medication = resource.get("medication")
    if rtype in _MEDICATION_CODEABLE_REFERENCE and isinstance(medication, Mapping):
        r5 = r5 or bool({"concept", "reference"} & medication.keys())
    encounter_class = resource.get("class")
    if rtype == "Encounter" and encounter_class is not None:
        r5 = r5 or isinstance(encounter_class, list)
        r4 = r4 or isinstance(encounter_class, Mapping)
    return r4, r5


def _profile_version(resource: Mapping[str, Any]) -> str | None:
    """Return the version named by a versioned core profile in meta.profile (``...|4.0.1``)."""
    meta = resource.get("meta")
    profiles = meta.get("profile") if isinstance(meta, Mapping) else None
    for profile in profiles if isinstance(profiles, list) else ():
        if isinstance(profile, str) and profile.startswith(_CORE_PROFILE) and "|" in profile:
            try:
                return normalise_version(profile.rsplit("|", 1)[1])
            except ConfigError:
                continue
    return None


def detect_version(resource: Mapping[str, Any]) -> str | None:
    """Return "R5" or "R4" when the resource's shape belongs to one version only, else None.

    "R4" stands for R4 or R4B (their shapes agree in these resources); a versioned core profile
    in ``meta.profile`` (``http://hl7.org/fhir/StructureDefinition/Patient|4.3.0``) refines it
    to R4B, and decides alone when the shape says nothing.
    """
    r4, r5 = _shape_signals(resource)
    profiled = _profile_version(resource)
    if r4 and r5:
        return None
    if r5:
        return "R5"
    if r4:
        return "R4B" if profiled == "R4B" else "R4"
    return profiled


def agreed_version(versions: Iterable[str | None]) -> str | None:
    """Return the version a group of resources (one Bundle) agrees on, or None.

    R4 and R4B agree as R4B when any says R4B; R5 beside R4/R4B is a disagreement.
    """
    found = {version for version in versions if version}
    if found == {"R5"}:
        return "R5"
    if found and found <= {"R4", "R4B"}:
        return "R4B" if "R4B" in found else "R4"
    return None


def choose_version(
    configured: str | None, resource: Mapping[str, Any] | None, hint: str | None
) -> str:
    """Return the version to read a resource as: configured > its own shape > hint > R4."""
    if configured:
        return configured
    detected = detect_version(resource) if resource is not None else None
    return detected or hint or DEFAULT_VERSION

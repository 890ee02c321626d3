"""Tests for adapter.versions: configured version names and shape detection."""

from __future__ import annotations

import pytest
from fhir.resources import get_fhir_model_class as r5_model
from fhir.resources.R4B import get_fhir_model_class as r4b_model

from adapter.errors import ConfigError
from adapter.versions import (
    _SHAPES,
    agreed_version,
    choose_version,
    detect_version,
    normalise_version,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("R4", "R4"), ("r4", "R4"), ("4.0.1", "R4"), ("4.0", "R4"), (" 4.0.0 ", "R4"),
        ("R4B", "R4B"), ("r4b", "R4B"), ("4.3.0", "R4B"),
        ("R5", "R5"), ("5.0.0", "R5"), ("5.0.0-ballot", "R5"),
    ],
)  # fmt: skip
def test_versions_normalise_known_names(text, expected):
    assert normalise_version(text) == expected


@pytest.mark.parametrize(
    "text", ["", "R3", "STU3", "3.0.2", "4.1.0", "6.0.0", "R6", "four"], ids=str
)
def test_versions_normalise_refuses_unknown(text):
    with pytest.raises(ConfigError, match="unknown FHIR version"):
        normalise_version(text)


MA = "MedicationAdministration"
AE = "AdverseEvent"


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        # R5 shapes
        ({"resourceType": MA, "occurenceDateTime": "2024-01-01"}, "R5"),
        ({"resourceType": MA, "occurencePeriod": {"start": "2024-01-01"}}, "R5"),
        ({"resourceType": MA, "occurenceTiming": {"event": ["2024-01-01"]}}, "R5"),
        ({"resourceType": MA, "_occurenceDateTime": {"extension": []}}, "R5"),
        ({"resourceType": MA, "medication": {"concept": {"text": "x"}}}, "R5"),
        ({"resourceType": MA, "medication": {"reference": {"reference": "Medication/m"}}}, "R5"),
        ({"resourceType": "MedicationRequest", "medication": {"concept": {"text": "x"}}}, "R5"),
        ({"resourceType": "MedicationStatement", "medication": {"concept": {"text": "x"}}}, "R5"),
        # CLINICAL-SPEC 5.4 "R5 changes": event -> code, date -> occurrence[x], new status,
        # resultingCondition -> resultingEffect.
        ({"resourceType": AE, "code": {"text": "fever"}}, "R5"),
        ({"resourceType": AE, "occurrenceDateTime": "2024-01-01"}, "R5"),
        ({"resourceType": AE, "status": "completed"}, "R5"),
        ({"resourceType": AE, "resultingEffect": [{"reference": "Condition/c"}]}, "R5"),
        ({"resourceType": "Observation", "triggeredBy": [{"type": "reflex"}]}, "R5"),
        ({"resourceType": "Encounter", "class": [{"text": "inpatient"}]}, "R5"),
        ({"resourceType": "Procedure", "occurrenceDateTime": "2024-01-01"}, "R5"),
        ({"resourceType": "Bundle", "issues": {"resourceType": "OperationOutcome"}}, "R5"),
        # R4 shapes
        ({"resourceType": MA, "medicationCodeableConcept": {"text": "x"}}, "R4"),
        ({"resourceType": MA, "effectiveDateTime": "2024-01-01"}, "R4"),
        ({"resourceType": "MedicationRequest", "medicationReference": {"reference": "M/1"}}, "R4"),
        ({"resourceType": AE, "event": {"text": "fever"}}, "R4"),
        ({"resourceType": AE, "date": "2024-01-01"}, "R4"),
        ({"resourceType": AE, "resultingCondition": [{"reference": "Condition/c"}]}, "R4"),
        ({"resourceType": "Encounter", "class": {"code": "IMP"}}, "R4"),
        ({"resourceType": "Procedure", "performedDateTime": "2024-01-01"}, "R4"),
        # no signal, ambiguous, or a medication that is not a CodeableReference
        ({"resourceType": "Patient", "gender": "female"}, None),
        ({"resourceType": AE, "event": {"text": "a"}, "code": {"text": "b"}}, None),
        ({"resourceType": MA, "medication": {"text": "not a CodeableReference"}}, None),
        ({"resourceType": "Unknown", "occurenceDateTime": "2024"}, None),
        ({"noResourceType": True}, None),
    ],
    ids=[
        "ma-occurence-datetime", "ma-occurence-period", "ma-occurence-timing",
        "ma-occurence-primitive-extension", "ma-medication-concept", "ma-medication-reference",
        "mr-medication", "ms-medication", "ae-code", "ae-occurrence", "ae-status",
        "ae-resulting-effect", "obs-triggered-by", "encounter-class-list", "procedure-occurrence",
        "bundle-issues",
        "ma-medication-codeable-concept", "ma-effective", "mr-medication-reference", "ae-event",
        "ae-date", "ae-resulting-condition", "encounter-class-coding", "procedure-performed",
        "patient", "ae-both", "ma-medication-odd", "unknown-type", "no-type",
    ],
)  # fmt: skip
def test_versions_detect_shape(resource, expected):
    assert detect_version(resource) == expected


@pytest.mark.parametrize(
    ("profile", "shape", "expected"),
    [
        ("http://hl7.org/fhir/StructureDefinition/Patient|4.3.0", {}, "R4B"),
        ("http://hl7.org/fhir/StructureDefinition/Patient|5.0.0", {}, "R5"),
        (
            "http://hl7.org/fhir/StructureDefinition/MedicationAdministration|4.3.0",
            {"resourceType": MA, "effectiveDateTime": "2024"},
            "R4B",
        ),
        ("http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient|7.0.0", {}, None),
        ("http://hl7.org/fhir/StructureDefinition/Patient", {}, None),
    ],
    ids=["core-r4b", "core-r5", "r4-shape-refined", "ig-profile-ignored", "unversioned"],
)
def test_versions_detect_from_versioned_core_profile(profile, shape, expected):
    resource = {"resourceType": "Patient", "meta": {"profile": [profile]}} | shape
    assert detect_version(resource) == expected


@pytest.mark.parametrize("rtype", sorted(_SHAPES), ids=str)
def test_versions_shape_table_matches_the_models(rtype):
    """Verify each listed element exists in exactly the version the table says (fhir.resources)."""
    r4_only, r5_only = _SHAPES[rtype]

    def names(model):
        return {field.alias or name for name, field in model.model_fields.items()}

    r4b, r5 = names(r4b_model(rtype)), names(r5_model(rtype))
    assert r4_only <= r4b - r5
    assert r5_only <= r5 - r4b
    for name in r5_only:
        assert detect_version({"resourceType": rtype, name: {}}) == "R5", name
    for name in r4_only:
        assert detect_version({"resourceType": rtype, name: {}}) == "R4", name


@pytest.mark.parametrize(
    ("versions", "expected"),
    [
        ([None, "R5", None], "R5"),
        (["R4", None], "R4"),
        (["R4", "R4B"], "R4B"),
        (["R4", "R5"], None),
        ([None, None], None),
        ([], None),
    ],
    ids=["r5", "r4", "r4-with-r4b", "conflict", "no-signal", "empty"],
)
def test_versions_agreed_version(versions, expected):
    assert agreed_version(versions) == expected


R5_AE = {"resourceType": AE, "code": {"text": "fever"}}


@pytest.mark.parametrize(
    ("configured", "resource", "hint", "expected"),
    [
        ("R4", R5_AE, "R5", "R4"),
        (None, R5_AE, "R4", "R5"),
        (None, {"resourceType": "Patient"}, "R5", "R5"),
        (None, {"resourceType": "Patient"}, None, "R4"),
        (None, None, None, "R4"),
    ],
    ids=["configured-wins", "shape-beats-hint", "hint", "default-r4", "deletion-default"],
)
def test_versions_precedence(configured, resource, hint, expected):
    assert choose_version(configured, resource, hint) == expected

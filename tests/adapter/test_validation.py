"""Tests for adapter.validation: modes, FHIR paths, R4/R4B/R5 models, the HL7 examples."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from adapter.errors import ConfigError
from adapter.reading import SourceItem, iter_items
from adapter.validation import R4_TYPES_NOT_IN_R4B, ValidationIssue, Validator, fhir_path

HL7_EXAMPLES = Path("/work/shared/data/hl7-fhir-r4-examples")

OBSERVATION = {
    "resourceType": "Observation",
    "id": "o1",
    "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "2276-4"}]},
    "subject": {"reference": "Patient/p1"},
    "valueQuantity": {"value": 2.25, "unit": "ng/mL"},
}


@pytest.mark.parametrize(
    ("mode", "validated"),
    [
        ("off", []),
        ("full", [0, 1, 2, 3, 4, 5, 6]),
        (" FULL ", [0, 1, 2, 3, 4, 5, 6]),
        ("sample:1", [0, 1, 2, 3, 4, 5, 6]),
        ("sample:3", [0, 3, 6]),
        ("sample:10", [0]),
    ],
    ids=["off", "full", "full-spaced-upper", "sample-1", "sample-3", "sample-10"],
)
def test_validation_modes_choose_resources_deterministically(mode, validated):
    validator = Validator(mode)
    assert [n for n in range(7) if validator.should_validate(n)] == validated


@pytest.mark.parametrize(
    "mode", ["", "on", "sample", "sample:", "sample:0", "sample:-2", "sample:x", "sample:1.5"]
)
def test_validation_refuses_bad_modes(mode):
    with pytest.raises(ConfigError, match="unknown validation mode"):
        Validator(mode)


@pytest.mark.parametrize("version", ["R4", "R4B", "R5"])
def test_validation_accepts_a_valid_observation(version):
    assert Validator("full").validate(OBSERVATION, version) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"valueQuantity": {"value": "2,25"}},
            ValidationIssue(
                "Observation.valueQuantity.value",
                "Value error, Decimal value string does not match spec regex.",
            ),
        ),
        (
            {"code": {"coding": [{"system": 7}]}},
            ValidationIssue("Observation.code.coding[0].system", "Input should be a valid string"),
        ),
        (
            {"valueQuantity": {"value": 1, "units": "mg"}},
            ValidationIssue("Observation.valueQuantity.units", "element not known in FHIR R4"),
        ),
        (
            {"status": None},
            ValidationIssue("Observation.status", "required element is missing"),
        ),
    ],
    ids=["decimal-with-comma", "coding-system-not-string", "misspelt-element", "missing-status"],
)
def test_validation_reports_errors_with_fhir_paths(change, expected):
    resource = {k: v for k, v in (OBSERVATION | change).items() if v is not None}
    assert Validator("full").validate(resource, "R4") == [expected]


def test_validation_two_values_for_one_choice_element_is_an_error():
    resource = OBSERVATION | {"valueString": "high"}
    [issue] = Validator("full").validate(resource, "R4")
    assert issue.path == "Observation"
    assert "valueQuantity" in issue.message


R5_ADVERSE_EVENT = {
    "resourceType": "AdverseEvent",
    "status": "completed",
    "actuality": "actual",
    "code": {"text": "CMV viraemia"},
    "subject": {"reference": "Patient/p1"},
    "occurrenceDateTime": "2024-02-01",
}
R4_ADVERSE_EVENT = {
    "resourceType": "AdverseEvent",
    "actuality": "actual",
    "event": {"text": "CMV viraemia"},
    "subject": {"reference": "Patient/p1"},
    "date": "2024-02-01",
}


@pytest.mark.parametrize(
    ("resource", "version", "bad_paths"),
    [
        (R5_ADVERSE_EVENT, "R5", set()),
        (R4_ADVERSE_EVENT, "R4", set()),
        (R4_ADVERSE_EVENT, "R4B", set()),
        # CLINICAL-SPEC 5.4: R5 renamed event -> code and date -> occurrence[x], added status.
        (
            R5_ADVERSE_EVENT,
            "R4",
            {"AdverseEvent.status", "AdverseEvent.code", "AdverseEvent.occurrenceDateTime"},
        ),
        # The missing R5 status is not reported here: fhir.resources checks required elements
        # only once the elements present are valid.
        (R4_ADVERSE_EVENT, "R5", {"AdverseEvent.event", "AdverseEvent.date"}),
    ],
    ids=["r5-as-r5", "r4-as-r4", "r4-as-r4b", "r5-as-r4", "r4-as-r5"],
)
def test_validation_uses_the_models_of_the_version(resource, version, bad_paths):
    issues = Validator("full").validate(resource, version)
    assert {issue.path for issue in issues} == bad_paths


def test_validation_unknown_type_is_one_issue():
    assert Validator("full").validate({"resourceType": "Fish"}, "R4") == [
        ValidationIssue("Fish", "Fish is not a resource type of FHIR R4 (R4B models)")
    ]


def test_validation_missing_resource_type_is_one_issue():
    assert Validator("full").validate({"id": "x"}, "R5") == [
        ValidationIssue("resourceType", "resourceType is missing")
    ]


def test_validation_r4_types_removed_in_r4b_pass_unchecked_and_are_counted():
    validator = Validator("full")
    resource = {"resourceType": "MedicinalProduct", "id": "x"}
    assert validator.validate(resource, "R4") == []
    assert validator.unchecked == {"MedicinalProduct": 1}
    assert len(validator.validate(resource, "R4B")) == 1  # R4B content must not use it
    assert "MedicinalProduct" in R4_TYPES_NOT_IN_R4B


def test_validation_leaves_the_resource_unchanged():
    resource = copy.deepcopy(OBSERVATION) | {
        "_status": {"extension": [{"url": "u", "valueCode": "x"}]}
    }
    before = copy.deepcopy(resource)
    Validator("full").validate(resource, "R4")
    assert resource == before


def test_validation_fhir_path_of_empty_location_is_the_resource():
    assert fhir_path("Patient", ()) == "Patient"
    assert fhir_path("Patient", ("name", 1, "given", 0)) == "Patient.name[1].given[0]"


@pytest.mark.skipif(not HL7_EXAMPLES.is_dir(), reason="shared sample data not present")
def test_validation_hl7_r4_examples_all_pass_in_full_mode():
    """Verify the 587 HL7 R4 examples and the resources in its 31 Bundles pass the R4B models.

    Only the R4 types that R4B removed (11 examples: MedicinalProduct*, SubstanceSpecification)
    are passed unchecked.
    """
    validator = Validator("full")
    checked = 0
    failures = []
    for item in iter_items([HL7_EXAMPLES]):
        if isinstance(item, SourceItem) and not item.deleted:
            checked += 1
            issues = validator.validate(item.resource, item.fhir_version)
            failures += [(item.origin, item.locator, issue) for issue in issues]
    assert checked == 1349
    assert failures == []
    assert sum(validator.unchecked.values()) == 11

"""Patient compartment rules: which patient a resource belongs to, which Medications it names."""

from __future__ import annotations

import pytest

from registry.pull.resources import medication_ids, patient_of

BASE = "https://fhir.example.invalid/R4"
ELSEWHERE = "https://other.invalid/R4/Patient/p1"


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        ({"resourceType": "Patient", "id": "p1"}, "p1"),
        ({"resourceType": "Observation", "subject": {"reference": "Patient/p1"}}, "p1"),
        ({"resourceType": "Observation", "subject": {"reference": "Patient/p1/_history/3"}}, "p1"),
        ({"resourceType": "Condition", "subject": {"reference": f"{BASE}/Patient/p1"}}, "p1"),
        ({"resourceType": "Condition", "subject": {"reference": ELSEWHERE}}, None),
        ({"resourceType": "Observation", "subject": {"reference": "Group/g1"}}, None),
        ({"resourceType": "Observation", "subject": {"display": "Jane"}}, None),
        ({"resourceType": "Observation"}, None),
        ({"resourceType": "Medication", "id": "m1"}, None),
    ],
    ids=["patient", "relative", "versioned", "absolute-here", "absolute-elsewhere", "group",
         "display-only", "no-subject", "not-patient-data"],
)  # fmt: skip
def test_patient_of(resource, expected):
    assert patient_of(resource, BASE) == expected


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("Medication/m1", ["m1"]),
        ("#med", []),
        (f"{BASE}/Medication/m2", ["m2"]),
        ("Substance/s", []),
    ],
    ids=["relative", "contained", "absolute", "other-type"],
)
def test_medication_ids(reference, expected):
    assert medication_ids({"medicationReference": {"reference": reference}}) == expected

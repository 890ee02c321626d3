"""Patient, Condition, Encounter and AdverseEvent mapping (CLINICAL-SPEC 5.2-5.4, 6.5, 6.6)."""

from __future__ import annotations

from datetime import date

import pytest

from adapter.errors import MappingError
from adapter.mappers import MappingContext, map_resource
from adapter.rows import AdverseEventRow, ConditionRow, EncounterRow, PatientRow
from adapter.terminology import Terminology

CTX = MappingContext(Terminology.default())
R5 = MappingContext(Terminology.default(), fhir_version="R5")
SNOMED = "http://snomed.info/sct"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
SERIOUSNESS = "http://terminology.hl7.org/CodeSystem/adverse-event-seriousness"
GRADE_URL = "http://hl7.org/fhir/uv/ae-research-ig/StructureDefinition/ae-grade"


def test_patient_keeps_birth_precision_and_no_identifiers():
    resource = {
        "resourceType": "Patient",
        "id": "p1",
        "gender": "male",
        "birthDate": "1975-06",
        "name": [{"family": "Synthetic"}],
        "identifier": [{"value": "MRN-1"}],
        "deceasedDateTime": "2024-05-01T12:00:00+08:00",
    }
    (row,) = map_resource(resource, CTX)
    assert row == PatientRow("male", date(1975, 6, 1), "month", True, row.deceased_at, "second")
    assert row.deceased_at.isoformat() == "2024-05-01T04:00:00+00:00"


def _condition(code, **extra):
    return {
        "resourceType": "Condition",
        "id": "c1",
        "subject": {"reference": "Patient/p1"},
        "code": code,
        "onsetDateTime": "2023-01-05",
        "clinicalStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                    "code": "active",
                }
            ]
        },
        "verificationStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                    "code": "confirmed",
                }
            ]
        },
    } | extra


@pytest.mark.parametrize(
    ("code", "category", "concept"),
    [
        ({"coding": [{"system": ICD10, "code": "M06.1"}]}, "underlying_disease", "AOSD"),  # 6.5
        ({"coding": [{"system": SNOMED, "code": "55464009"}]}, "underlying_disease", "SLE"),  # 6.5
        ({"coding": [{"system": ICD10, "code": "D76.1"}]}, "mas_hlh", "HLH"),  # 6.5
        ({"coding": [{"system": SNOMED, "code": "28944009"}]}, "infection", "CMV"),  # 6.6
        ({"coding": [{"system": ICD10, "code": "B25.1"}]}, "infection", "CMV"),  # 6.6 CMV hepatitis
        ({"text": "巨噬细胞活化综合征"}, "mas_hlh", "MAS"),
        (
            {"coding": [{"system": SNOMED, "code": "44054006", "display": "Diabetes"}]},
            "other",
            None,
        ),
    ],
    ids=[
        "aosd-icd",
        "sle-snomed",
        "hlh-icd",
        "cmv-snomed",
        "cmv-hepatitis",
        "mas-chinese",
        "other",
    ],
)
def test_condition_categories(code, category, concept):
    (row,) = map_resource(_condition(code), CTX)
    assert isinstance(row, ConditionRow)
    assert (row.category, row.concept, row.clinical_status, row.verification_status) == (
        category,
        concept,
        "active",
        "confirmed",
    )
    assert row.onset_precision == "day"


def test_condition_entered_in_error_is_flagged():
    resource = _condition({"text": "SLE"})
    resource["verificationStatus"]["coding"][0]["code"] = "entered-in-error"
    (row,) = map_resource(resource, CTX)
    assert row.exclusion == "entered-in-error"


def test_encounter_r4_and_r5():
    r4 = {
        "resourceType": "Encounter",
        "id": "e1",
        "status": "finished",
        "subject": {"reference": "Patient/p1"},
        "class": {"code": "AMB"},
        "period": {"start": "2024-05-01T09:00:00+08:00", "end": "2024-05-01T10:00:00+08:00"},
    }
    (row,) = map_resource(r4, CTX)
    assert isinstance(row, EncounterRow)
    assert (row.class_code, row.period_end.isoformat()) == ("AMB", "2024-05-01T02:00:00+00:00")
    r5 = r4 | {"class": [{"coding": [{"code": "IMP"}]}], "actualPeriod": r4["period"]}
    del r5["period"]
    (row5,) = map_resource(r5, R5)
    assert (row5.class_code, row5.period_start.isoformat()) == ("IMP", "2024-05-01T01:00:00+00:00")


def _ae(**extra):
    return {
        "resourceType": "AdverseEvent",
        "id": "ae1",
        "actuality": "actual",
        "subject": {"reference": "Patient/p1"},
        "date": "2024-03-15",
        "event": {
            "coding": [
                {"system": SNOMED, "code": "28944009", "display": "Cytomegalovirus infection"}
            ]
        },
    } | extra


@pytest.mark.parametrize(
    ("code", "serious", "criteria"),
    [
        ("Non-serious", False, ()),
        ("non-serious", False, ()),
        ("serious", True, ()),
        ("SeriousResultsInDeath", True, ("death",)),
        ("SeriousIsLifeThreatening", True, ("life-threatening",)),
        ("SeriousResultsInHospitalization", True, ("hospitalization",)),
        ("SeriousResultsInDisability", True, ("disability",)),
        ("SeriousIsBirthDefect", True, ("congenital-anomaly",)),
        ("SeriousRequiresPreventImpairment", True, ("required-intervention",)),
    ],
    ids=["r4-non", "tho-non", "tho-serious", "death", "life", "hosp", "disab", "birth", "prevent"],
)
def test_seriousness_both_spellings_and_subcodes(code, serious, criteria):
    """Verify 5.4: both code spellings accepted; Serious* sub-codes become criteria."""
    resource = _ae(seriousness={"coding": [{"system": SERIOUSNESS, "code": code}]})
    (row,) = map_resource(resource, CTX)
    assert isinstance(row, AdverseEventRow)
    assert (row.is_serious, row.seriousness_criteria) == (serious, criteria)
    assert row.infection_organism == "CMV"


def test_unknown_seriousness_code_is_quarantined():
    resource = _ae(seriousness={"coding": [{"system": SERIOUSNESS, "code": "Kinda"}]})
    with pytest.raises(MappingError) as caught:
        map_resource(resource, CTX)
    assert (caught.value.reason_code, caught.value.field_path) == (
        "unmatched-code",
        "AdverseEvent.seriousness",
    )


def test_r4_severity_outcome_and_grade():
    resource = _ae(
        severity={"coding": [{"code": "moderate"}]},
        outcome={"coding": [{"code": "resolved"}]},
        extension=[{"url": GRADE_URL, "valueCodeableConcept": {"coding": [{"code": "2"}]}}],
    )
    (row,) = map_resource(resource, CTX)
    assert (row.severity, row.outcome, row.ctcae_grade, row.is_serious) == (
        "moderate",
        "resolved",
        2,
        None,
    )


def test_r5_shape():
    """Verify 5.4 R5: `code`, `occurrenceDateTime`, `status`, `resultingEffect`, list `outcome`."""
    resource = {
        "resourceType": "AdverseEvent",
        "id": "ae5",
        "actuality": "actual",
        "status": "completed",
        "subject": {"reference": "Patient/p1"},
        "occurrenceDateTime": "2024-03-15T10:00:00Z",
        "code": {"coding": [{"system": SNOMED, "code": "4740000", "display": "Herpes zoster"}]},
        "resultingEffect": [{"reference": "Condition/c7"}],
        "outcome": [{"coding": [{"code": "recovering"}]}],
        "seriousness": {"coding": [{"system": SERIOUSNESS, "code": "non-serious"}]},
    }
    (row,) = map_resource(resource, R5)
    assert (row.term_code, row.status, row.outcome, row.resulting_conditions) == (
        "4740000",
        "completed",
        "recovering",
        ("Condition/c7",),
    )
    assert (row.infection_organism, row.occurred_precision) == ("herpes_zoster", "second")


def test_potential_event_is_kept_as_near_miss():
    (row,) = map_resource(_ae(actuality="potential"), CTX)
    assert row.actuality == "potential"


def test_missing_actuality_is_refused():
    resource = _ae()
    del resource["actuality"]
    with pytest.raises(MappingError, match="actuality"):
        map_resource(resource, CTX)


CRITERIA_URL = "http://hl7.org/fhir/uv/ae-research-ig/StructureDefinition/seriousness-criteria"


def _criterion(code: str, present: bool) -> dict:
    return {
        "url": CRITERIA_URL,
        "extension": [
            {"url": "criterionCode", "valueCodeableConcept": {"coding": [{"code": code}]}},
            {"url": "criterionPresent", "valueBoolean": present},
        ],
    }


def test_ae_research_ig_criteria_and_nci_grade():
    """Verify 5.2: a present criterion makes the event serious; NCI C41337 is grade 4."""
    resource = _ae(
        extension=[
            _criterion("C83052", True),
            _criterion("C48275", False),
            {"url": GRADE_URL, "valueCodeableConcept": {"coding": [{"code": "C41337"}]}},
        ]
    )
    (row,) = map_resource(resource, CTX)
    assert (row.is_serious, row.seriousness_criteria, row.ctcae_grade) == (
        True,
        ("hospitalization",),
        4,
    )

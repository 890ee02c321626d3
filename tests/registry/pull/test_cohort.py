"""Cohort selection: by Condition codes, Group, emapalumab administrations, or an id/MRN file."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapter.errors import ConfigError, PagingError
from adapter.terminology import Terminology
from registry.pull.cohort import CohortSpec, condition_codes, emapalumab_codes, select_patients
from registry.pull.report import PullReport
from tests.factories import administration
from tests.registry.pull.conftest import condition, make_client


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("conditions", CohortSpec("conditions")),
        ("administrations", CohortSpec("administrations")),
        ("group:g-1", CohortSpec("group", "g-1")),
        ("ids:cohort.txt", CohortSpec("ids", "cohort.txt")),
    ],
    ids=["conditions", "administrations", "group", "ids"],
)
def test_cohort_spec_parse(text, expected):
    assert CohortSpec.parse(text) == expected


@pytest.mark.parametrize("text", ["group", "ids:", "everyone", "conditions:x"], ids=str)
def test_cohort_spec_refuses_unknown(text):
    with pytest.raises(ConfigError, match="unknown cohort"):
        CohortSpec.parse(text)


def test_condition_codes_cover_the_study_diagnoses():
    """CLINICAL-SPEC 6.5: SLE SNOMED 55464009, AOSD ICD-10 M06.1 (WHO and -CM), HLH D76.1."""
    tokens = condition_codes(Terminology.default())
    assert "http://snomed.info/sct|55464009" in tokens
    assert "http://hl7.org/fhir/sid/icd-10|M06.1" in tokens
    assert "http://hl7.org/fhir/sid/icd-10-cm|M06.1" in tokens
    assert "http://hl7.org/fhir/sid/icd-10|D76.1" in tokens
    assert not any("B25" in t for t in tokens)  # infections do not select the cohort


def test_emapalumab_codes_include_atc():
    """CLINICAL-SPEC 4.4: emapalumab ATC L04AA39 (and L04AG09)."""
    assert "http://www.whocc.no/atc|L04AA39" in emapalumab_codes(Terminology.default())


def test_cohort_by_conditions(server, clock):
    server.resources[("Condition", "c9")] = condition("c9", "p9") | {
        "subject": {"reference": "Group/x"}
    }
    report = PullReport()
    with make_client(clock) as client:
        ids = select_patients(client, CohortSpec("conditions"), Terminology.default(), report)
    assert ids == ["p1", "p2"]
    assert report.cohort_size == 2
    assert report.by_type["cohort Condition"]["searches"] >= 1


def test_cohort_by_conditions_refuses_a_server_that_ignores_the_code(server, clock):
    """Verify that a dropped code filter (every Condition of the server) stops the pull."""
    server.ignored.add(("Condition", "code"))
    with make_client(clock) as client, pytest.raises(PagingError, match="ignored the code"):
        select_patients(client, CohortSpec("conditions"), Terminology.default(), PullReport())


def test_cohort_by_emapalumab_administrations(server, clock):
    atc = {"system": "http://www.whocc.no/atc", "code": "L04AA39"}
    given = administration(
        "a1", patient_id="p3", medication={"medicationCodeableConcept": {"coding": [atc]}}
    )
    server.resources[("MedicationAdministration", "a1")] = given
    server.resources[("MedicationAdministration", "a2")] = administration("a2", patient_id="p1")
    with make_client(clock) as client:
        ids = select_patients(
            client, CohortSpec("administrations"), Terminology.default(), PullReport()
        )
    assert ids == ["p3"]


def test_cohort_by_emapalumab_in_a_referenced_medication(server, clock):
    """The code search sees inline medications only: a referenced Medication is found apart."""
    atc = "http://www.whocc.no/atc"
    server.resources[("Medication", "m-ema")] = {
        "resourceType": "Medication", "id": "m-ema",
        "code": {"coding": [{"system": atc, "code": "L04AA39"}]},
    }  # fmt: skip
    server.resources[("Medication", "m-other")] = {
        "resourceType": "Medication", "id": "m-other",
        "code": {"coding": [{"system": atc, "code": "H02AB06"}]},
    }  # fmt: skip
    for aid, pid, med in (("a1", "p2", "m-ema"), ("a2", "p1", "m-other")):
        server.resources[("MedicationAdministration", aid)] = administration(
            aid,
            patient_id=pid,
            medication={"medicationReference": {"reference": f"Medication/{med}"}},
        )
    report = PullReport()
    with make_client(clock) as client:
        ids = select_patients(client, CohortSpec("administrations"), Terminology.default(), report)
    assert ids == ["p2"]
    asked = [u for u in server.urls if "medication=" in u]
    assert len(asked) == 1
    assert "Medication%2Fm-ema" in asked[0]
    assert "m-other" not in asked[0]
    assert "cohort MedicationAdministration by medication" in report.as_dict()["searches"]


def test_medication_route_the_server_lacks_is_a_note(server, clock):
    server.fail("/R4/Medication", 400)
    report = PullReport()
    with make_client(clock) as client:
        ids = select_patients(client, CohortSpec("administrations"), Terminology.default(), report)
    assert ids == []
    assert not report.is_incomplete
    assert any("not supported by the server (400)" in note for note in report.notes)


def test_medication_route_that_fails_makes_the_cohort_incomplete(server, clock):
    server.fail("/R4/Medication", 403)
    report = PullReport()
    with make_client(clock) as client:
        select_patients(client, CohortSpec("administrations"), Terminology.default(), report)
    assert report.is_incomplete
    assert "cohort Medication" in report.messages()[0]


def test_medication_route_refuses_an_ignored_filter(server, clock):
    server.resources[("Medication", "m1")] = {"resourceType": "Medication", "id": "m1"}
    server.ignored.add(("Medication", "code"))
    with make_client(clock) as client, pytest.raises(PagingError, match="Medication search"):
        select_patients(client, CohortSpec("administrations"), Terminology.default(), PullReport())


def test_cohort_by_group_skips_inactive_members(server, clock):
    server.resources[("Group", "g1")] = {
        "resourceType": "Group",
        "id": "g1",
        "member": [
            {"entity": {"reference": "Patient/p1"}},
            {"entity": {"reference": "Patient/p2"}, "inactive": True},
            {"entity": {"reference": "Device/d1"}},
        ],
    }
    with make_client(clock) as client:
        ids = select_patients(
            client, CohortSpec("group", "g1"), Terminology.default(), PullReport()
        )
    assert ids == ["p1"]


def test_cohort_file_ids_and_mrns(server, clock, tmp_path: Path):
    """Verify that an MRN matching no patient or two is reported by line, never by its value."""
    server.resources[("Patient", "p2")]["identifier"] = [{"system": "urn:mrn", "value": "M2"}]
    server.resources[("Patient", "p1")]["identifier"] = [{"system": "urn:mrn", "value": "M2"}]
    path = tmp_path / "cohort.txt"
    path.write_text("# study ids\np9  # by id\nurn:mrn|M3\nurn:mrn|NOPE\nurn:mrn|M2\n\n")
    report = PullReport()
    with make_client(clock) as client:
        ids = select_patients(client, CohortSpec("ids", str(path)), Terminology.default(), report)
    assert ids == ["p3", "p9"]
    assert report.messages() == [
        "cohort Patient: line 3 matches no patient",
        "cohort Patient: line 4 matches 2 patients",
    ]
    assert not any("M2" in line or "NOPE" in line for line in report.messages())

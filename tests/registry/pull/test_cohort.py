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

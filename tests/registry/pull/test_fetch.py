"""Per-patient fetching: query plans, the compartment check, Medications, incomplete searches."""

from __future__ import annotations

import json
from collections import deque
from typing import Any

import pytest

from adapter.capabilities import parse_capabilities
from adapter.config import ServerConfig
from adapter.items import SourceItem
from adapter.terminology import Terminology
from registry.pull.config import PullSettings
from registry.pull.fetch import MedicationReader, PatientFetcher, TypeQuery, plan_queries
from registry.pull.report import PullReport
from tests.factories import administration, observation
from tests.registry.pull.conftest import make_client
from tests.registry.pull.stub import BASE

TERM = Terminology.default()


def settings(**options: Any) -> PullSettings:
    return PullSettings(server=ServerConfig(BASE), **options)


def fetch_one(server, clock, patient_id="p1", index=1, **options: Any):
    report = PullReport()
    report.cohort_size = 3
    caps = parse_capabilities(server.metadata())
    with make_client(clock) as client:
        medications = MedicationReader(client, release="R4", report=report)
        fetcher = PatientFetcher(
            client,
            plan_queries(caps, settings(**options), TERM, report),
            release="R4",
            report=report,
            page_size=1,
            medications=medications,
        )
        items = fetcher.fetch((index, patient_id))
        items += list(medications.items())
    return items, report


def ids(items) -> list[str]:
    return sorted(f"{i.resource_type}/{i.resource_id}" for i in items if isinstance(i, SourceItem))


def test_plan_adapts_to_the_capability_statement(server):
    """Verify that an undeclared type is still searched (standard parameter) and noted."""
    del server.declared["MedicationStatement"]
    report = PullReport()
    plan = plan_queries(parse_capabilities(server.metadata()), settings(), TERM, report)
    by_type = {q.resource_type: q for q in plan}
    assert by_type["AdverseEvent"].patient_param == "subject"
    assert by_type["MedicationRequest"].include == "MedicationRequest:medication"
    assert by_type["MedicationStatement"] == TypeQuery("MedicationStatement", "patient")
    assert report.notes == [
        "the server does not declare MedicationStatement search by patient; searching with "
        "'patient' anyway, every result checked against its patient"
    ]


def test_plan_by_codes_and_categories_notes_analytes_without_codes(server):
    report = PullReport()
    caps = parse_capabilities(server.metadata())
    options = settings(observations="codes", observation_categories=("laboratory", "vital-signs"))
    plan = [
        q for q in plan_queries(caps, options, TERM, report) if q.resource_type == "Observation"
    ]
    assert [dict(q.filters)["category"].rsplit("|")[-1] for q in plan] == [
        "laboratory",
        "vital-signs",
    ]
    assert "http://loinc.org|2276-4" in dict(plan[0].filters)["code"]  # ferritin, CLINICAL-SPEC 6.1
    assert "sCD25" in report.notes[0]  # no LOINC shipped for sCD25 (6.1 NOT VERIFIED)


def test_fetch_pages_through_and_keeps_only_the_patient(server, clock):
    items, report = fetch_one(server, clock)
    assert ids(items) == ["Condition/c1", "Observation/o1", "Observation/o2", "Patient/p1"]
    assert report.by_type["Observation"]["pages"] == 2  # page size 1, relative next link
    assert not report.is_incomplete
    item = next(i for i in items if i.resource_id == "o2")
    assert (item.origin, item.locator) == (BASE, "search Observation page 2 entry 1")


def test_fetch_drops_what_belongs_to_another_patient(server, clock):
    """Verify that a server ignoring the patient parameter brings no other patient's data."""
    server.ignored.add(("Observation", "patient"))
    items, report = fetch_one(server, clock)
    assert ids(items) == ["Condition/c1", "Observation/o1", "Observation/o2", "Patient/p1"]
    assert report.by_type["Observation"]["dropped"] == 2
    assert "the server ignored 'patient' in Observation searches (self link)" in report.notes


def test_fetch_reads_medications_the_server_did_not_include(server, clock):
    ref = {"medicationReference": {"reference": "Medication/m1"}}
    server.resources[("MedicationAdministration", "a1")] = administration("a1", medication=ref)
    server.resources[("Medication", "m1")] = {"resourceType": "Medication", "id": "m1"}
    server.includes = False
    items, report = fetch_one(server, clock)
    assert "Medication/m1" in ids(items)
    assert report.by_type["Medication"]["reads"] == 1


def test_fetch_takes_included_medications_without_reading_them(server, clock):
    ref = {"medicationReference": {"reference": "Medication/m1"}}
    server.resources[("MedicationRequest", "r1")] = {
        "resourceType": "MedicationRequest", "id": "r1", "subject": {"reference": "Patient/p1"},
        "status": "active", "intent": "order", **ref,
    }  # fmt: skip
    server.resources[("Medication", "m1")] = {"resourceType": "Medication", "id": "m1"}
    items, report = fetch_one(server, clock)
    assert "Medication/m1" in ids(items)
    assert "Medication" not in report.by_type


def test_a_failed_search_makes_the_pull_incomplete_without_naming_the_patient(server, clock):
    server.fail("/R4/Encounter", 400)
    items, report = fetch_one(server, clock, index=2)
    assert "Observation/o1" in ids(items)
    assert len(report.incomplete) == 1
    assert report.incomplete[0].patient_id == "p1"
    (message,) = report.messages()
    assert message.startswith("Encounter (patient 2 of 3): GET ")
    assert "[400]" in message
    assert "p1" not in message


def test_a_short_total_makes_the_pull_incomplete(server, clock, monkeypatch):
    original = server._search

    def lying(kind, params):
        bundle = original(kind, params)
        if kind == "Condition":
            bundle["total"] = 5
        return bundle

    monkeypatch.setattr(server, "_search", lying)
    _, report = fetch_one(server, clock)
    assert report.messages() == [
        "Condition (patient 1 of 3): Bundle.total is 5 but 1 were received"
    ]


@pytest.mark.parametrize("status", [429, 503, 500], ids=str)
def test_fetch_retries_temporary_failures(server, clock, status):
    server.fail("/R4/Observation", status, status)
    items, report = fetch_one(server, clock)
    assert "Observation/o2" in ids(items)
    assert not report.is_incomplete
    assert len(clock.sleeps) == 2


def test_a_missing_patient_is_incomplete(server, clock):
    _, report = fetch_one(server, clock, patient_id="gone")
    assert [i.resource_type for i in report.incomplete] == ["Patient"]


def test_a_resource_found_by_two_category_searches_is_kept_once(server, clock):
    both = observation("o5", patient_id="p1")
    vital = {"system": "http://terminology.hl7.org/CodeSystem/observation-category",
             "code": "vital-signs"}  # fmt: skip
    both["category"].append({"coding": [vital]})
    server.resources[("Observation", "o5")] = both
    items, report = fetch_one(server, clock, observation_categories=("laboratory", "vital-signs"))
    assert ids(items).count("Observation/o5") == 1
    assert report.by_type["Observation"]["searches"] == 2


def test_a_server_message_echoing_the_patient_id_is_redacted(server, clock):
    text = "Patient/p7 is locked for p7"
    body = {"resourceType": "OperationOutcome", "issue": [{"severity": "error",
            "code": "processing", "details": {"text": text}}]}  # fmt: skip
    server.queued["/R4/Patient/p7"] = deque([(409, {}, json.dumps(body).encode())])
    _, report = fetch_one(server, clock, patient_id="p7")
    (message,) = report.messages()
    assert "Patient/{id} is locked for {id}" in message
    assert "p7" not in message


def test_next_links_that_lose_the_patient_bring_no_other_patient(server, clock, monkeypatch):
    """Verify a server whose next link drops the compartment (seen in the wild) is contained."""
    original = server._search

    def forgetful(kind, params):
        bundle = original(kind, params)
        for link in bundle["link"]:
            if link["relation"] == "next":
                link["url"] = link["url"].replace("patient=p1&", "")
        return bundle

    monkeypatch.setattr(server, "_search", forgetful)
    items, report = fetch_one(server, clock)
    assert [i for i in ids(items) if i.startswith("Observation")] == [
        "Observation/o1",
        "Observation/o2",
    ]
    assert report.by_type["Observation"]["dropped"] >= 1

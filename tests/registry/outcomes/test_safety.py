"""Adverse events and serious adverse events (CLINICAL-SPEC 5.2-5.4), via the import path."""

from __future__ import annotations

from registry.outcomes import index_sql, safety, timeline
from registry.outcomes.values import Citations
from tests.factories import meta, patient
from tests.registry.outcomes.conftest import ema, load

SERIOUSNESS = "http://terminology.hl7.org/CodeSystem/adverse-event-seriousness"
SNOMED = "http://snomed.info/sct"


def _ae(
    aid, *, seriousness=None, outcome=None, actuality="actual", when="2024-03-15T10:00:00+08:00"
):
    resource = {
        "resourceType": "AdverseEvent", "id": aid, "meta": meta(), "actuality": actuality,
        "event": {"coding": [{"system": SNOMED, "code": "233604007", "display": "Pneumonia"}]},
        "subject": {"reference": "Patient/p1"}, "date": when,
    }  # fmt: skip
    if seriousness:
        resource["seriousness"] = {"coding": [{"system": SERIOUSNESS, "code": seriousness}]}
    if outcome:
        resource["outcome"] = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/"
                                           "adverse-event-outcome", "code": outcome}]}  # fmt: skip
    return resource


VISIT = {
    "resourceType": "Encounter", "id": "visit", "meta": meta(), "status": "finished",
    "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
    "subject": {"reference": "Patient/p1"},
    "period": {"start": "2024-04-10T09:00:00+08:00", "end": "2024-04-10T10:00:00+08:00"},
}  # fmt: skip
RESOURCES = [
    patient(), ema("ema-1", "2024-03-10T10:00:00+08:00"), VISIT,
    _ae("hospitalised", seriousness="SeriousResultsInHospitalization"),
    _ae("lower-case", seriousness="serious"),
    _ae("fatal", outcome="fatal"),
    _ae("non-serious", seriousness="Non-serious"),
    _ae("potential", seriousness="Serious", actuality="potential"),
    _ae("before-t0", seriousness="Serious", when="2024-03-01T10:00:00+08:00"),
]  # fmt: skip


def test_serious_adverse_events_with_criteria(engine, protocol, tmp_path):
    """Verify 5.2: serious by code (either spelling) or fatal outcome; potential never counts."""
    load(engine, tmp_path, RESOURCES)
    with engine.connect() as conn:
        cohort = timeline.load_index_events(conn, index_sql.timeline_subquery(protocol, []))
        events = safety.load_adverse_events(conn, [])
    cite = Citations()
    result = safety.summarise(cohort, events, protocol.section("adverse_events"), cite)
    sae = result["serious_adverse_events"]
    assert (sae["patients"], sae["events"]) == (1, 3)
    sources = cite.as_json()  # the report's `sources`: every listed event's source, once
    reasons = {
        sources[str(s["source"])]["reference"].split("/")[1]: s["criteria"] for s in sae["list"]
    }
    assert reasons["fatal"] == ["outcome fatal"]
    assert "criterion hospitalization" in reasons["hospitalised"]
    assert set(reasons) == {"hospitalised", "lower-case", "fatal"}
    aes = result["adverse_events"]
    assert (aes["events"], aes["pre_index_events"], len(aes["near_misses"])) == (4, 1, 1)
    assert aes["by_term"][0]["term"] == "Pneumonia"

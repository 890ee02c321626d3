"""Incident vs prevalent infections, reactivation vs primary (CLINICAL-SPEC 5.1), via import."""

from __future__ import annotations

from registry.outcomes.protocol import load_protocol
from registry.outcomes.report import build_report
from tests.factories import meta, observation, patient
from tests.registry.outcomes.conftest import ema, load

SNOMED = "http://snomed.info/sct"


def _cmv(oid, pid, when, value=None, *, not_detected=False, comparator=None):
    obs = observation(oid, patient_id=pid, loinc="72493-0", value=value, unit="IU/mL",
                      code="[IU]/mL", when=when)  # fmt: skip
    if not_detected:
        del obs["valueQuantity"]
        obs["valueCodeableConcept"] = {"coding": [{"system": SNOMED, "code": "260415000"}]}
    elif comparator:
        obs["valueQuantity"]["comparator"] = comparator
    return obs


def _igg(oid, pid, when, code):
    obs = observation(oid, patient_id=pid, loinc="13949-3", when=when)
    del obs["valueQuantity"]
    obs["valueCodeableConcept"] = {"coding": [{"system": SNOMED, "code": code}]}
    return obs


def _visit(pid, day):
    return {
        "resourceType": "Encounter", "id": f"{pid}-v", "meta": meta(), "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "subject": {"reference": f"Patient/{pid}"},
        "period": {"start": f"{day}T09:00:00+08:00", "end": f"{day}T10:00:00+08:00"},
    }  # fmt: skip


T0 = "2024-03-10T10:00:00+08:00"
RESOURCES = [
    # CLINICAL-SPEC 8 vector 9, patient 1: IgG positive before T0, DNA not detected at day -2,
    # 1 200 IU/mL at day 10 (incident, reactivation); a second positive at day 20: still 1 patient.
    patient("p1"), ema("p1-ema", T0, "p1"), _visit("p1", "2024-04-10"),
    _igg("p1-igg", "p1", "2024-03-05T08:00:00+08:00", "10828004"),
    _cmv("p1-d-2", "p1", "2024-03-08T08:00:00+08:00", not_detected=True),
    _cmv("p1-d10", "p1", "2024-03-20T11:00:00+08:00", 1200),
    _cmv("p1-d20", "p1", "2024-03-30T11:00:00+08:00", 2500),
    # patient 2: positive at day -5 only: prevalent, not counted.
    patient("p2"), ema("p2-ema", T0, "p2"), _visit("p2", "2024-04-10"),
    _cmv("p2-d-5", "p2", "2024-03-05T08:00:00+08:00", 900),
    _cmv("p2-d7", "p2", "2024-03-17T11:00:00+08:00", 500, comparator="<"),
    # patient 3: IgG negative; below the LLOQ after T0 ("<500"): no infection.
    patient("p3"), ema("p3-ema", T0, "p3"), _visit("p3", "2024-04-10"),
    _igg("p3-igg", "p3", "2024-03-05T08:00:00+08:00", "260385009"),
    _cmv("p3-d7", "p3", "2024-03-17T11:00:00+08:00", 500, comparator="<"),
]  # fmt: skip


def _report(engine, tmp_path, protocol=None):
    load(engine, tmp_path, RESOURCES)
    with engine.connect() as conn:
        return build_report(conn, protocol or load_protocol())


def test_vector9_incident_prevalent_and_reactivation(engine, tmp_path):
    """Verify 5.1 / vector 9: 1 incident patient (reactivation), 1 prevalent apart, 3 = N."""
    report = _report(engine, tmp_path)
    cmv = next(row for row in report["infections"] if row["organism"] == "CMV")
    assert (cmv["patients"], cmv["n"], cmv["percent"]) == (1, 3, 33.3)
    assert (cmv["prevalent_patients"], cmv["reactivation"], cmv["primary"]) == (1, 1, 0)
    assert cmv["episodes"] == 1  # day 10 and day 20 with no negative between: one episode
    assert cmv["days_to_first_positive"]["median"] == 10.0
    patients = {p["patient_ref"]: p for p in report["patients"]}
    assert [p["infections"] for p in patients.values()] == [["CMV"], [], []]
    detail = patients["Patient/p1"]["infection_details"][0]
    assert detail["kind"] == "reactivation"
    assert detail["peak"] == "2500 IU/mL"
    refs = [report["sources"][str(e["source"])]["reference"] for e in detail["evidence"]]
    assert refs[:2] == ["Observation/p1-d10/_history/1", "Observation/p1-d20/_history/1"]


def test_prevalent_patients_counted_when_the_protocol_says_so(engine, tmp_path):
    """Verify the CHOICE prevalent_excludes_incident: switched off, a post-T0 positive counts."""
    RESOURCES.append(_cmv("p2-d12", "p2", "2024-03-22T11:00:00+08:00", 800))
    try:
        variant = load_protocol(
            text='[protocol]\nname="v"\nversion="1"\n'
            "[infections]\nprevalent_excludes_incident = false\n"
        )
        report = _report(engine, tmp_path, variant)
        default = _report(engine, tmp_path / "again")
    finally:
        RESOURCES.pop()
    assert next(r for r in report["infections"] if r["organism"] == "CMV")["patients"] == 2
    assert next(r for r in default["infections"] if r["organism"] == "CMV")["patients"] == 1

"""Daily prednisone-equivalent dose and reduction (CLINICAL-SPEC 4.2-4.3), via the import path."""

from __future__ import annotations

from fractions import Fraction

from registry.outcomes import index_sql, steroid_rows, steroids, timeline
from tests.factories import administration, meta, patient
from tests.registry.outcomes.conftest import ema, load

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM = "http://unitsofmeasure.org"
ORAL = {"coding": [{"system": "http://snomed.info/sct", "code": "26643006"}]}


def _drug(code, name):
    return {
        "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": code, "display": name}]}
    }


def _mg(value):
    return {"value": value, "unit": "mg", "system": UCUM, "code": "mg"}


def _request(rid, pid, code, name, mg, start, end, *, status="active"):
    return {
        "resourceType": "MedicationRequest", "id": rid, "meta": meta(), "status": status,
        "intent": "order", "subject": {"reference": f"Patient/{pid}"},
        "authoredOn": f"{start}T09:00:00+08:00",
        "dosageInstruction": [{
            "timing": {"repeat": {"boundsPeriod": {"start": start, "end": end}, "frequency": 1,
                                  "period": 1, "periodUnit": "d"}},
            "route": ORAL, "doseAndRate": [{"doseQuantity": _mg(mg)}],
        }],
    } | _drug(code, name)  # fmt: skip


def _last_visit(pid):
    return {
        "resourceType": "Encounter", "id": f"{pid}-last", "meta": meta(), "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "subject": {"reference": f"Patient/{pid}"},
        "period": {"start": "2024-06-01T09:00:00+08:00", "end": "2024-06-01T11:00:00+08:00"},
    }  # fmt: skip


def _patient_resources(pid, t0_doses, end_drug, end_mg):
    out = [patient(pid), ema(f"{pid}-ema", "2024-03-10T10:00:00+08:00", pid), _last_visit(pid)]
    for i, (code, name, mg, hhmm) in enumerate(t0_doses):
        out.append(administration(f"{pid}-gc-{i}", patient_id=pid, medication=_drug(code, name),
                                  dose=_mg(mg), when=f"2024-03-10T{hhmm}:00+08:00"))  # fmt: skip
    out.append(_request(f"{pid}-mr", pid, *end_drug, end_mg, "2024-05-20", "2024-06-10"))
    return out


# CLINICAL-SPEC 4.3 hand-worked example (section 8 vector 8).
RESOURCES = [
    # A: methylprednisolone 40 mg IV q12h on the T0 day (80 x 1.25 = 100); prednisone 15 at EOF.
    *_patient_resources("pa", [("6902", "methylprednisolone", 40, "08:00"),
                               ("6902", "methylprednisolone", 40, "20:00")],
                        ("8640", "prednisone"), 15),
    # B: dexamethasone 10 mg IV (10 x 20/3 = 66.667); prednisolone 7.5 at EOF.
    *_patient_resources("pb", [("3264", "dexamethasone", 10, "08:00")],
                        ("8638", "prednisolone"), 7.5),
    # C: methylprednisolone 500 mg pulse (625, pulse day); prednisone 10 at EOF.
    *_patient_resources("pc", [("6902", "methylprednisolone", 500, "08:00")],
                        ("8640", "prednisone"), 10),
]  # fmt: skip


def _courses(engine, protocol, tmp_path):
    load(engine, tmp_path, RESOURCES)
    with engine.connect() as conn:
        events = timeline.load_index_events(conn, index_sql.timeline_subquery(protocol, []))
        given = steroid_rows.load_given(conn, protocol, [])
        orders = steroid_rows.load_instructions(conn, protocol, [])
        weights = steroid_rows.load_weights(conn, protocol, [])
    return {
        ie.patient_id: steroids.course(
            protocol, ie, given[ie.key], orders[ie.key], weights.get(ie.key, [])
        )
        for ie in events
    }


def test_vector8_per_patient_doses_and_reductions(engine, protocol, tmp_path):
    """Verify 4.3 example: 100 -> 15 (85.0 %), 66.667 -> 7.5 (88.75 %), 625 -> 10 (98.4 %)."""
    courses = _courses(engine, protocol, tmp_path)
    got = {
        pid: (c.baseline.mg, c.end.mg, c.reduction, c.baseline.pulse) for pid, c in courses.items()
    }
    assert got == {
        "pa": (Fraction(100), Fraction(15), Fraction(85), False),
        "pb": (Fraction(200, 3), Fraction(15, 2), Fraction(8875, 100), False),
        "pc": (Fraction(625), Fraction(10), Fraction(492, 5), True),  # 98.4 %
    }
    assert courses["pa"].baseline.sources[0][1] == "administration"
    assert courses["pa"].end.sources[0][1] == "request"


def test_vector8_cohort_statistics_both_labelled(engine, protocol, tmp_path):
    """Verify 4.3.10: median of individual reductions 88.75 %; reduction of medians 90.0 %."""
    summary = steroids.cohort_summary(list(_courses(engine, protocol, tmp_path).values()))
    assert summary["median_individual_reduction_percent"] == 88.8  # 88.75 shown half-up
    assert summary["reduction_of_medians_percent"] == 90.0
    assert (summary["baseline_median_mg"], summary["end_median_mg"]) == (100.0, 10.0)
    assert "method a" in summary["median_individual_reduction_label"]


def test_pulse_excluded_from_baseline_when_configured(engine, tmp_path):
    """Verify 4.3.7: exclude_pulse_from_baseline uses an earlier non-pulse day (none here: NA)."""
    from registry.outcomes.protocol import load_protocol

    variant = load_protocol(
        text='[protocol]\nname="v"\nversion="1"\n[steroids]\nexclude_pulse_from_baseline = true\n'
    )
    courses = _courses(engine, variant, tmp_path)
    assert courses["pc"].baseline is None
    assert courses["pc"].reduction is None  # NA, not 0 (4.3.9)
    assert courses["pa"].reduction == 85


def test_source_priority_administration_over_request():
    """Verify 4.3.2: an administration and a request for the same drug and day never add up."""
    from datetime import date

    given = {
        date(2024, 3, 10): [
            steroid_rows.Given(
                1,
                date(2024, 3, 10),
                "prednisone",
                Fraction(20),
                Fraction(1),
                "systemic",
                "completed",
            )
        ]
    }
    order = steroid_rows.Instruction(
        2,
        7,
        "request",
        "active",
        "prednisone",
        Fraction(30),
        Fraction(1),
        date(2024, 3, 1),
        None,
        "systemic",
        False,
    )
    drugs = steroids._day_drugs(date(2024, 3, 10), given, [order], {})
    assert drugs == {"prednisone": ("administration", Fraction(20), Fraction(20), (1,))}
    assert steroids._day_drugs(date(2024, 3, 11), given, [order], {})["prednisone"][0] == "request"

"""Post-load checks: missing patients and medications, mg/kg doses, duplicates, derived ANC."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from registry import models
from registry.ingest import ImportOptions, import_paths
from tests.factories import administration, observation, patient, write_ndjson


def _import(engine, *paths, **kwargs):
    options = ImportOptions(**({"site": "s1", "validate": "off"} | kwargs))
    return import_paths(engine, list(paths), options=options).summary()


def _quarantine(engine) -> dict[tuple[str, str], str]:
    q = models.Quarantine.__table__
    with engine.connect() as conn:
        return {(r.reason_code, r.resource_id): r.status for r in conn.execute(select(q))}


def test_missing_patient_is_quarantined_until_it_arrives(engine, tmp_path):
    first = _import(
        engine, write_ndjson(tmp_path / "obs.ndjson", [observation("o1", patient_id="p9")])
    )
    assert (first["loaded"], first["quarantined"]) == (0, 1)
    assert _quarantine(engine) == {("missing-patient", "o1"): "open"}
    second = _import(engine, write_ndjson(tmp_path / "pat.ndjson", [patient("p9")]))
    assert second["quarantined"] == 0
    assert _quarantine(engine) == {("missing-patient", "o1"): "resolved"}


def test_referenced_medication_resolved_when_it_arrives(engine, tmp_path):
    ma = administration("a1", medication={"medicationReference": {"reference": "Medication/m1"}})
    _import(engine, write_ndjson(tmp_path / "a.ndjson", [patient(), ma]))
    assert _quarantine(engine) == {("missing-medication", "a1"): "open"}
    med = {
        "resourceType": "Medication",
        "id": "m1",
        "code": {
            "coding": [{"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "3264"}]
        },
    }
    _import(engine, write_ndjson(tmp_path / "m.ndjson", [med]))
    table = models.MedicationAdministration.__table__
    with engine.connect() as conn:
        row = conn.execute(select(table)).one()
    # 4.2: dexamethasone 40 mg x 20/3 = 266.666... mg prednisone-equivalent
    assert (row.ingredient, row.drug_class, row.prednisone_factor) == (
        "dexamethasone",
        "glucocorticoid",
        "20/3",
    )
    assert row.prednisone_eq_mg == pytest.approx(800 / 3)
    assert _quarantine(engine) == {("missing-medication", "a1"): "resolved"}


def test_mg_per_kg_uses_latest_weight_within_30_days(engine, tmp_path):
    """Verify 4.3.3: mg/kg x the latest body weight in the 30 days before the dose."""
    weights = [
        observation(
            "w-old",
            loinc="29463-7",
            value=80,
            unit="kg",
            code="kg",
            when="2024-01-01T08:00:00+08:00",
        ),
        observation(
            "w1",
            loinc="29463-7",
            value=62.5,
            unit="kg",
            code="kg",
            when="2024-02-20T08:00:00+08:00",
        ),
        observation(
            "w-after",
            loinc="29463-7",
            value=70,
            unit="kg",
            code="kg",
            when="2024-03-02T08:00:00+08:00",
        ),
    ]
    dose = {"value": 1.5, "unit": "mg/kg", "code": "mg/kg", "system": "http://unitsofmeasure.org"}
    ma = administration("a1", dose=dose, when="2024-03-01T10:00:00+08:00")
    no_weight = administration("a2", dose=dose, when="2024-01-20T10:00:00+08:00", patient_id="p2")
    _import(
        engine,
        write_ndjson(tmp_path / "a.ndjson", [patient(), patient("p2"), *weights, ma, no_weight]),
    )
    table = models.MedicationAdministration.__table__
    with engine.connect() as conn:
        rows = {r.id: r for r in conn.execute(select(table))}
    weighed = next(r for r in rows.values() if r.dose_mg is not None)
    # 1.5 mg/kg x 62.5 kg = 93.75 mg; methylprednisolone x 5/4 = 117.1875 mg prednisone-eq (4.2)
    assert (weighed.dose_mg, weighed.body_weight_kg, weighed.prednisone_eq_mg) == (
        93.75,
        62.5,
        117.1875,
    )
    assert _quarantine(engine) == {("no-body-weight", "a2"): "open"}


def test_identical_duplicates_keep_one_conflicts_quarantine_both(engine, tmp_path):
    """Verify CLINICAL-SPEC 2 Duplicates: identical, keep one; different, quarantine both."""
    same = "2024-03-01T08:00:00+08:00"
    resources = [
        patient(),
        observation("a", value=500, when=same),
        observation("b", value=500, when=same),
        observation("c", loinc="777-3", value=90, unit="10*9/L", code="10*9/L", when=same),
        observation("d", loinc="777-3", value=120, unit="10*9/L", code="10*9/L", when=same),
    ]
    summary = _import(engine, write_ndjson(tmp_path / "a.ndjson", resources))
    obs, sr = models.Observation.__table__, models.SourceRecord.__table__
    with engine.connect() as conn:
        flags = dict(
            conn.execute(
                select(sr.c.resource_id, obs.c.exclusion).join(
                    sr, sr.c.id == obs.c.source_record_id
                )
            ).all()
        )
    assert flags == {
        "a": None,
        "b": "duplicate",
        "c": "conflicting-duplicate",
        "d": "conflicting-duplicate",
    }
    assert summary["quarantined"] == 2
    assert set(_quarantine(engine)) == {
        ("conflicting-duplicate", "c"),
        ("conflicting-duplicate", "d"),
    }


def test_anc_derived_from_wbc_and_percent_of_same_report(engine, tmp_path):
    """Verify 6.4: ANC = WBC x neutrophil% / 100 = 3.2 x 45 / 100 = 1.44 x10^9/L, same report."""
    wbc = observation(
        "wbc",
        loinc="6690-2",
        value=3.2,
        unit="10*9/L",
        code="10*9/L",
        when="2024-03-01T08:00:00+08:00",
    )
    pct = observation(
        "pct", loinc="770-8", value=45, unit="%", code="%", when="2024-03-01T08:05:00+08:00"
    )
    report = {
        "resourceType": "DiagnosticReport",
        "id": "dr1",
        "status": "final",
        "subject": {"reference": "Patient/p1"},
        "code": {"text": "CBC"},
        "result": [{"reference": "Observation/wbc"}, {"reference": "Observation/pct"}],
    }
    _import(engine, write_ndjson(tmp_path / "a.ndjson", [patient(), wbc, pct, report]))
    obs = models.Observation.__table__
    with engine.connect() as conn:
        derived = conn.execute(select(obs).where(obs.c.derivation.is_not(None))).one()
    assert (derived.analyte, derived.unit) == ("ANC", "10*9/L")
    assert derived.value == pytest.approx(1.44)
    # a measured ANC at the WBC's instant wins: no derived row
    anc = observation(
        "anc",
        loinc="751-8",
        value=1.5,
        unit="10*9/L",
        code="10*9/L",
        when="2024-03-01T08:00:00+08:00",
    )
    _import(engine, write_ndjson(tmp_path / "b.ndjson", [anc]))
    with engine.connect() as conn:
        assert conn.execute(select(obs).where(obs.c.derivation.is_not(None))).all() == []


def test_reimport_keeps_postload_state(engine, tmp_path):
    same = "2024-03-01T08:00:00+08:00"
    path = write_ndjson(
        tmp_path / "a.ndjson",
        [
            patient(),
            observation("a", value=500, when=same),
            observation("b", value=700, when=same),
            observation(
                "wbc",
                loinc="6690-2",
                value=4,
                unit="10*9/L",
                code="10*9/L",
                when="2024-03-02T08:00:00+08:00",
            ),
            observation(
                "pct", loinc="770-8", value=50, unit="%", code="%", when="2024-03-02T08:00:00+08:00"
            ),
        ],
    )
    from tests.registry.snapshot import snapshot

    _import(engine, path)
    before = snapshot(engine)
    again = _import(engine, path)
    assert again["quarantined"] == 2  # the conflict is reported again, not hidden
    assert again["unchanged"] == 3
    assert snapshot(engine) == before

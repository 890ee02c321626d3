"""Body weights for mg/kg doses looked up in bulk (CLINICAL-SPEC 4.3.3)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from registry import models
from registry.ingest import ImportOptions, import_paths
from tests.factories import administration, observation, patient, write_ndjson

DOSE = {"value": 2, "unit": "mg/kg", "code": "mg/kg", "system": "http://unitsofmeasure.org"}


def _weight(wid, when, value, patient_id="p1"):
    return observation(
        wid, patient_id=patient_id, loinc="29463-7", value=value, unit="kg", code="kg", when=when
    )


@pytest.mark.parametrize(
    ("weights", "expected_mg"),
    [
        ([("w", "2024-02-01T10:00:00Z", 50)], 100.0),  # exactly 30 days before: used
        ([("w", "2024-02-01T09:59:00Z", 50)], None),  # a minute earlier: too old
        ([("w", "2024-03-02T10:00:01Z", 50)], None),  # after the dose: not used
        ([("a", "2024-02-20T10:00:00Z", 50), ("b", "2024-02-25T10:00:00Z", 60)], 120.0),
        ([("w", "2024-03-02T10:00:00Z", 45)], 90.0),  # at the dose's instant: used
    ],
    ids=["30-days", "31-days", "after", "latest", "same-instant"],
)
def test_dose_uses_the_latest_weight_of_the_30_days_before(engine, tmp_path, weights, expected_mg):
    """Hand-worked: 2 mg/kg x the weight in kg (4.3.3), dose on 2024-03-02T10:00Z."""
    resources = [patient("p1"), patient("p2"), _weight("other", "2024-03-01T00:00:00Z", 99, "p2")]
    resources += [_weight(wid, when, value) for wid, when, value in weights]
    resources.append(administration("a1", dose=DOSE, when="2024-03-02T10:00:00Z"))
    path = write_ndjson(tmp_path / "a.ndjson", resources)
    import_paths(engine, [path], options=ImportOptions(site="s1", validate="off"))
    ma = models.MedicationAdministration.__table__
    with engine.connect() as conn:
        assert conn.scalar(select(ma.c.dose_mg)) == expected_mg

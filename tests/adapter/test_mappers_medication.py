"""Medication mapping: drugs (CLINICAL-SPEC 4.4), doses (4.3), steroid factors (4.2)."""

from __future__ import annotations

from fractions import Fraction

import pytest

from adapter.errors import MappingError
from adapter.mappers import MappingContext, map_resource
from adapter.rows import MedicationAdministrationRow, MedicationOrderRow, MedicationRow
from adapter.terminology import Terminology
from tests.factories import administration

CTX = MappingContext(Terminology.default())
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"


def _ma(resource, ctx=CTX) -> MedicationAdministrationRow:
    (row,) = map_resource(resource, ctx)
    assert isinstance(row, MedicationAdministrationRow)
    return row


def test_methylprednisolone_by_rxnorm_ingredient():
    """Verify 4.4 path 1 (RxNorm IN 6902) and the 4.2 factor 5/4 for methylprednisolone."""
    row = _ma(administration("a1"))
    assert (row.drug.ingredient, row.drug.match_path, row.drug.drug_class) == (
        "methylprednisolone",
        "rxnorm_in",
        "glucocorticoid",
    )
    assert (row.dose_mg, row.route_class, row.prednisone_factor) == (40.0, "systemic", "5/4")
    assert row.medication_source == "concept"


def test_dexamethasone_factor_is_exact_fraction():
    """Verify 4.2: dexamethasone 0.75 mg = 5 mg prednisone, factor 20/3 (not 6.6667)."""
    med = {"medicationCodeableConcept": {"text": "地塞米松注射液"}}
    row = _ma(administration("a1", medication=med, dose={"value": 10, "unit": "mg"}))
    assert (row.drug.ingredient, row.drug.match_path) == ("dexamethasone", "name")
    assert Fraction(row.prednisone_factor) == Fraction(20, 3)


def test_contained_medication_with_strength_and_tablets():
    """Verify a contained Medication is used and '2 tablets of 5 mg' becomes 10 mg (4.3.3)."""
    resource = administration(
        "a1",
        medication={"medicationReference": {"reference": "#m1"}},
        dose={"value": 2, "unit": "tablet"},
        route="26643006",
        contained=[
            {
                "resourceType": "Medication",
                "id": "m1",
                "code": {"coding": [{"system": RXNORM, "code": "8640", "display": "prednisone"}]},
                "ingredient": [
                    {
                        "itemCodeableConcept": {"text": "prednisone"},
                        "strength": {
                            "numerator": {"value": 5, "unit": "mg"},
                            "denominator": {"value": 1, "unit": "tablet"},
                        },
                    }
                ],
            }
        ],
    )
    row = _ma(resource)
    assert (row.drug.ingredient, row.medication_source, row.dose_mg, row.prednisone_factor) == (
        "prednisone",
        "contained",
        10.0,
        "1",
    )


def test_referenced_medication_outside_bundle_is_left_for_after_load():
    row = _ma(
        administration("a1", medication={"medicationReference": {"reference": "Medication/m9"}})
    )
    assert (row.drug.drug_class, row.medication_source, row.medication_ref) == (
        "unresolved",
        "reference",
        "Medication/m9",
    )


def test_r5_occurence_and_codeable_reference():
    """Verify R5 shapes: `occurenceDateTime` (sic) and `medication.concept` (issue 2, item 3)."""
    resource = administration("a1")
    del resource["effectiveDateTime"], resource["medicationCodeableConcept"]
    resource["occurenceDateTime"] = "2024-03-01T10:00:00+08:00"
    resource["medication"] = {"concept": {"text": "Emapalumab"}}
    row = _ma(resource, MappingContext(Terminology.default(), fhir_version="R5"))
    assert (row.drug.ingredient, row.drug.drug_class, row.prednisone_factor) == (
        "emapalumab",
        "emapalumab",
        None,
    )
    assert row.effective_at.isoformat() == "2024-03-01T02:00:00+00:00"


def test_mg_per_kg_waits_for_body_weight():
    row = _ma(administration("a1", dose={"value": 1, "unit": "mg/kg", "code": "mg/kg"}))
    assert (row.dose_mg, row.dose_mg_per_kg) == (None, 1.0)


@pytest.mark.parametrize(
    ("route", "route_class"),
    [("26643006", "systemic"), ("12130007", "intra-articular"), ("6064005", "excluded")],
    ids=["oral", "intra-articular", "topical"],
)
def test_route_classes(route, route_class):
    """Verify 4.3.1: systemic routes only; intra-articular apart; topical excluded."""
    assert _ma(administration("a1", route=route)).route_class == route_class


def test_steroid_dose_in_unknown_unit_is_quarantined():
    with pytest.raises(MappingError) as caught:
        map_resource(administration("a1", dose={"value": 1, "unit": "ampoule"}), CTX)
    assert (caught.value.reason_code, caught.value.field_path) == (
        "unknown-unit",
        "MedicationAdministration.dosage.dose.unit",
    )


def test_other_drug_with_unknown_unit_is_kept_without_mg():
    med = {"medicationCodeableConcept": {"text": "paracetamol"}}
    row = _ma(administration("a1", medication=med, dose={"value": 1, "unit": "ampoule"}))
    assert (row.dose_mg, row.dose_value_original, row.dose_unit_original) == (None, "1", "ampoule")


def _request(dosages, **extra):
    return {
        "resourceType": "MedicationRequest",
        "id": "r1",
        "status": "active",
        "intent": "order",
        "subject": {"reference": "Patient/p1"},
        "authoredOn": "2024-03-10",
        "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": "8640"}]},
        "dosageInstruction": dosages,
    } | extra


def _dose(mg, *, frequency=1, period=1, unit="d", start=None, end=None):
    repeat = {"frequency": frequency, "period": period, "periodUnit": unit}
    if start:
        repeat["boundsPeriod"] = {"start": start, "end": end}
    return {
        "timing": {"repeat": repeat},
        "route": {"coding": [{"system": "http://snomed.info/sct", "code": "26643006"}]},
        "doseAndRate": [
            {
                "doseQuantity": {
                    "value": mg,
                    "unit": "mg",
                    "system": "http://unitsofmeasure.org",
                    "code": "mg",
                }
            }
        ],
    }


def test_q12h_request_gives_daily_dose():
    """Verify 4.3.4: '40 mg q12h' = frequency 1 per 12 h = 80 mg/day."""
    (row,) = map_resource(_request([_dose(40, period=12, unit="h")]), CTX)
    assert isinstance(row, MedicationOrderRow)
    (dose,) = row.doses
    assert (dose.dose_mg, dose.per_day, dose.daily_dose_mg) == (40.0, "2", 80.0)


def test_taper_entries_keep_their_bounds():
    """Verify 4.3.4: a taper is several dosage entries, each with its boundsPeriod."""
    taper = [
        _dose(30, start="2024-03-10", end="2024-03-16"),
        _dose(20, start="2024-03-17", end="2024-03-23"),
        _dose(5, frequency=2, start="2024-03-24", end="2024-04-30"),
    ]
    (row,) = map_resource(_request(taper), CTX)
    assert [(d.daily_dose_mg, d.bounds_start.date().isoformat()) for d in row.doses] == [
        (30.0, "2024-03-10"),
        (20.0, "2024-03-17"),
        (10.0, "2024-03-24"),
    ]
    assert row.prednisone_factor == "1"


def test_bid_timing_code():
    dose = _dose(10)
    dose["timing"] = {"code": {"coding": [{"code": "BID"}]}}
    (row,) = map_resource(_request([dose]), CTX)
    assert row.doses[0].daily_dose_mg == 20.0


def test_cancelled_request_is_kept_and_excluded():
    (row,) = map_resource(_request([_dose(10)], status="cancelled"), CTX)
    assert row.exclusion == "cancelled"


def test_medication_resource_gets_ingredient_and_strength():
    med = {
        "resourceType": "Medication",
        "id": "m1",
        "code": {"text": "Methylprednisolone 4 MG Oral Tablet"},
        "ingredient": [
            {
                "itemCodeableConcept": {"text": "methylprednisolone"},
                "strength": {
                    "numerator": {"value": 4, "unit": "mg"},
                    "denominator": {"value": 1, "unit": "TAB"},
                },
            }
        ],
    }
    (row,) = map_resource(med, CTX)
    assert isinstance(row, MedicationRow)
    assert (row.drug.ingredient, row.strength_mg_per_unit) == ("methylprednisolone", 4.0)

"""Observation mapping: analyte identification (CLINICAL-SPEC 6.1), units (6.4), panels, status."""

from __future__ import annotations

import pytest

from adapter.errors import MappingError
from adapter.mappers import MappingContext, map_resource
from adapter.rows import GroupMemberRow, ObservationRow
from adapter.terminology import Terminology
from tests.factories import observation

CTX = MappingContext(Terminology.default())


def _row(resource) -> ObservationRow:
    rows = [r for r in map_resource(resource, CTX) if isinstance(r, ObservationRow)]
    assert len(rows) == 1
    return rows[0]


@pytest.mark.parametrize(
    ("loinc", "value", "unit", "analyte", "expected", "canonical"),
    [
        # CLINICAL-SPEC 8.7: TG 265 mg/dL x 0.01129 = 2.99185 mmol/L (prints 2.992).
        ("2571-8", 265, "mg/dL", "TG", 2.99185, "mmol/L"),
        # 8.7: fibrinogen 150 mg/dL / 100 = 1.50 g/L.
        ("3255-7", 150, "mg/dL", "fibrinogen", 1.5, "g/L"),
        # 8.7: Hb 9.0 g/dL x 10 = 90 g/L.
        ("718-7", 9.0, "g/dL", "Hb", 90.0, "g/L"),
        # 8.7: PLT 100 x10^3/uL = 100 x10^9/L.
        ("777-3", 100, "10*3/uL", "PLT", 100.0, "10*9/L"),
        # 6.4: 1 ng/mL = 1 ug/L (ferritin).
        ("2276-4", 850, "ug/L", "ferritin", 850.0, "ng/mL"),
        # 6.4: ALT 1 ukat/L = 60 U/L.
        ("1742-6", 2, "ukat/L", "ALT", 120.0, "U/L"),
        # 6.4: temperature (F - 32) x 5/9: 101.3 F = 38.5 C.
        ("8310-5", 101.3, "[degF]", "temperature", 38.5, "Cel"),
        # 6.4: weight lb x 0.45359237: 150 lb = 68.0388555 kg.
        ("29463-7", 150, "[lb_av]", "body_weight", 68.0388555, "kg"),
    ],
    ids=[
        "tg-mgdl",
        "fibrinogen-mgdl",
        "hb-gdl",
        "plt-per-ul",
        "ferritin-ugl",
        "alt-ukat",
        "temp-f",
        "weight-lb",
    ],
)
def test_values_are_converted_exactly_and_originals_kept(
    loinc, value, unit, analyte, expected, canonical
):
    row = _row(observation("o1", loinc=loinc, value=value, unit=unit, code=unit))
    assert (row.analyte, row.analyte_match, row.unit) == (analyte, "loinc", canonical)
    assert row.value == pytest.approx(expected, rel=1e-12)
    assert (row.value_original, row.unit_original, row.unit_code_original) == (
        str(value),
        unit,
        unit,
    )


@pytest.mark.parametrize(
    "unit_text",
    ["×10^9/L", "10^9/L", "10E9/L", "G/L"],
    ids=["times", "caret", "e-notation", "giga"],
)
def test_text_only_units_are_normalised(unit_text):
    """Verify free-text units without a code map through the table (CLINICAL-SPEC 6.2)."""
    row = _row(observation("o1", loinc="777-3", value=42, unit=unit_text, code=None))
    assert (row.value, row.unit, row.unit_original, row.unit_code_original) == (
        42.0,
        "10*9/L",
        unit_text,
        None,
    )


@pytest.mark.parametrize(
    ("loinc", "unit", "reason"),
    [
        ("2276-4", "furlongs", "unknown-unit"),
        ("48065-7", "ug/L DDU", "non-convertible-unit"),
    ],
    ids=["unknown", "feu-vs-ddu"],
)
def test_bad_units_are_refused_with_field_path(loinc, unit, reason):
    with pytest.raises(MappingError) as caught:
        map_resource(observation("o1", loinc=loinc, value=5, unit=unit, code=None), CTX)
    assert caught.value.reason_code == reason
    assert caught.value.field_path == "Observation.valueQuantity.unit"


def test_non_study_analyte_is_kept_without_conversion():
    """Verify a code outside the study lists is loaded as-is (analyte None), not quarantined."""
    row = _row(observation("o1", loinc="39156-5", value=27.5, unit="kg/m2", code="kg/m2"))
    assert (row.analyte, row.value, row.unit) == (None, 27.5, "kg/m2")


def test_chinese_text_match_is_flagged():
    """Verify 铁蛋白 identifies ferritin by text and says so (CLINICAL-SPEC 6.1 rule 3)."""
    resource = observation("o1", value=300)
    resource["code"] = {"text": "铁蛋白"}
    row = _row(resource)
    assert (row.analyte, row.analyte_match) == ("ferritin", "text")


def test_loinc_wins_over_earlier_local_coding():
    resource = observation("o1")
    resource["code"] = {
        "coding": [
            {"system": "http://hospital.example.org/lab", "code": "X"},
            {"system": "http://loinc.org", "code": "2276-4"},
        ]
    }
    row = _row(resource)
    assert (row.analyte, row.code) == ("ferritin", "2276-4")


def test_comparator_interpretation_and_reference_range_are_kept():
    resource = observation("o1", loinc="2571-8", value=1.2, unit="mmol/L", code="mmol/L")
    resource["valueQuantity"]["comparator"] = "<"
    resource["interpretation"] = [{"coding": [{"code": "N"}]}]
    resource["referenceRange"] = [
        {
            "low": {"value": 0, "unit": "mg/dL", "code": "mg/dL"},
            "high": {"value": 150, "unit": "mg/dL", "code": "mg/dL"},
        }
    ]
    row = _row(resource)
    assert (row.comparator, row.interpretation) == ("<", "N")
    # 6.4: 150 mg/dL x 0.01129 = 1.6935 mmol/L
    assert row.reference_high == pytest.approx(1.6935)
    assert row.reference_low == 0


def test_panel_members_and_components():
    panel = observation("cbc", loinc="58410-2")
    del panel["valueQuantity"]
    panel["hasMember"] = [{"reference": "Observation/wbc1"}, {"reference": "Observation/neut1"}]
    panel["component"] = [
        {
            "code": {"coding": [{"system": "http://loinc.org", "code": "6690-2"}]},
            "valueQuantity": {
                "value": 4.2,
                "unit": "10*9/L",
                "system": "http://unitsofmeasure.org",
                "code": "10*9/L",
            },
        }
    ]
    rows = map_resource(panel, CTX)
    members = [r for r in rows if isinstance(r, GroupMemberRow)]
    assert members == [
        GroupMemberRow("Observation", "wbc1"),
        GroupMemberRow("Observation", "neut1"),
    ]
    values = [r for r in rows if isinstance(r, ObservationRow)]
    assert [(r.component_index, r.analyte, r.value) for r in values] == [
        (None, None, None),
        (0, "WBC", 4.2),
    ]


@pytest.mark.parametrize(
    ("status", "exclusion"),
    [
        ("final", None),
        ("amended", None),
        ("entered-in-error", "entered-in-error"),
        ("cancelled", "cancelled"),
    ],
    ids=["final", "amended", "entered-in-error", "cancelled"],
)
def test_status_exclusions(status, exclusion):
    assert _row(observation("o1", status=status)).exclusion == exclusion


@pytest.mark.parametrize(
    ("change", "reason", "path"),
    [
        ({"status": "bogus"}, "invalid-value", "Observation.status"),
        ({"subject": {"reference": "Group/g1"}}, "invalid-value", "Observation.subject.reference"),
        ({"code": {}}, "missing-element", "Observation.code"),
        ({"effectiveDateTime": "yesterday"}, "invalid-value", "Observation.effectiveDateTime"),
    ],
    ids=["status", "subject-group", "empty-code", "bad-date"],
)
def test_unmappable_observations_name_the_field(change, reason, path):
    with pytest.raises(MappingError) as caught:
        map_resource(observation("o1") | change, CTX)
    assert (caught.value.reason_code, caught.value.field_path) == (reason, path)


def test_effective_time_is_utc_with_precision():
    row = _row(observation("o1", when="2024-03-01"))
    assert (row.effective_at.isoformat(), row.effective_precision) == (
        "2024-03-01T00:00:00+00:00",
        "day",
    )


def test_qualitative_analyte_sent_as_number_is_kept_unconverted():
    """Verify a CMV IgG index (a qualitative analyte, 5.1.3) sent with a unit is not quarantined."""
    row = _row(observation("o1", loinc="13949-3", value=12.5, unit="U/mL", code="U/mL"))
    assert (row.analyte, row.value, row.unit_original, row.conversion) == (
        "cmv_igg",
        12.5,
        "U/mL",
        None,
    )


@pytest.mark.parametrize(
    ("loinc", "unit"),
    [("72493-0", "{copies}/mL"), ("29604-6", "[IU]/mL")],
    ids=["iu-code-copies-unit", "copies-code-iu-unit"],
)
def test_viral_load_on_the_other_scale_than_its_code_is_refused(loinc, unit):
    """Verify 6.4: CMV IU/mL and copies/mL are not inter-convertible; the code fixes the scale."""
    with pytest.raises(MappingError) as caught:
        map_resource(observation("o1", loinc=loinc, value=800, unit=unit, code=unit), CTX)
    assert caught.value.reason_code == "non-convertible-unit"

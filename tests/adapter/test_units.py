"""Unit normalisation and exact conversion (CLINICAL-SPEC 4.3.3, 6.2, 6.4, 8.7)."""

from __future__ import annotations

import doctest
from decimal import Decimal
from fractions import Fraction

import pytest

from adapter import unitnorm
from adapter.errors import AdapterError
from adapter.terminology import Terminology
from adapter.units import (
    Converted,
    DoseAmount,
    UnitError,
    convert_quantity,
    dose_to_mg,
    normalise_unit,
)

UCUM = "http://unitsofmeasure.org"
TERM = Terminology.default()


# --- normalise_unit (6.2) -----------------------------------------------------------------
@pytest.mark.parametrize(
    ("unit", "code", "system", "expected"),
    [
        # 6.2: '×10^9/L', '10^9/L', '10E9/L', 'G/L' -> 10*9/L.
        pytest.param("×10^9/L", None, None, "10*9/L", id="times-10-caret-9"),
        pytest.param("10^9/L", None, None, "10*9/L", id="10-caret-9"),
        pytest.param("10E9/L", None, None, "10*9/L", id="10E9"),
        pytest.param("G/L", None, None, "10*9/L", id="giga-per-litre"),
        pytest.param("x10⁹/L", None, None, "10*9/L", id="superscript-9"),
        pytest.param("×10³/µL", None, None, "10*3/uL", id="superscript-3-micro-sign"),
        pytest.param("10^3/uL", None, None, "10*3/uL", id="10-caret-3-per-uL"),
        pytest.param("K/uL", None, None, "10*3/uL", id="K-per-uL"),
        pytest.param("10^3/mm3", None, None, "10*3/mm3", id="per-mm3"),
        pytest.param("cells/uL", None, None, "/uL", id="cells-per-uL"),
        # g/L is grams per litre, only G/L is a count.
        pytest.param("g/l", None, None, "g/L", id="grams-per-litre-lower"),
        pytest.param("mg/dl", None, None, "mg/dL", id="mg-dl"),
        pytest.param("IU/L", None, None, "U/L", id="IU-per-L-is-U-per-L"),
        pytest.param("µmol/L", None, None, "umol/L", id="micro-sign"),
        pytest.param("μmol/L", None, None, "umol/L", id="greek-mu"),
        pytest.param("µkat/L", None, None, "ukat/L", id="ukat"),
        pytest.param("U/mL", None, None, "U/mL", id="U-per-mL"),
        pytest.param("kU/L", None, None, "kU/L", id="kU-per-L"),
        pytest.param("IU/mL", None, None, "[IU]/mL", id="IU-per-mL-stays-IU"),
        pytest.param("copies/mL", None, None, "{copies}/mL", id="copies"),
        pytest.param("拷贝/mL", None, None, "{copies}/mL", id="copies-chinese"),
        pytest.param("log10 IU/mL", None, None, "log10([IU]/mL)", id="log10-IU"),
        pytest.param("Log copies/mL", None, None, "log10({copies}/mL)", id="log-copies"),
        pytest.param("mg/L FEU", None, None, "mg/L{FEU}", id="FEU-annotation"),
        pytest.param("ng/mL (DDU)", None, None, "ng/mL{DDU}", id="DDU-annotation"),
        pytest.param("℃", None, None, "Cel", id="degree-celsius-sign"),
        pytest.param("°F", None, None, "[degF]", id="degree-fahrenheit"),
        pytest.param("lbs", None, None, "[lb_av]", id="pounds"),
        pytest.param("公斤", None, None, "kg", id="kg-chinese"),
        pytest.param("mm/hr", None, None, "mm/h", id="mm-per-hr"),
        pytest.param("%", None, None, "%", id="percent"),
        pytest.param("", "mg/dL", None, "mg/dL", id="code-without-system"),
        pytest.param("whatever", "10*9/L", UCUM, "10*9/L", id="ucum-code-wins"),
        pytest.param(None, "mg/dl", UCUM, "mg/dL", id="ucum-code-respelled"),
        pytest.param(None, "10*9/L", UCUM + "/", "10*9/L", id="ucum-system-trailing-slash"),
        pytest.param(None, "mg/{tot}", UCUM, "mg/{tot}", id="ucum-code-without-rule-kept"),
        pytest.param("bananas", None, None, None, id="unknown-text"),
        pytest.param(None, None, None, None, id="nothing"),
    ],
)
def test_normalise_unit(unit, code, system, expected):
    assert normalise_unit(unit, code, system) == expected


# --- convert_quantity: hand-worked values (6.4, 8.7) ---------------------------------------
@pytest.mark.parametrize(
    ("analyte", "value", "unit", "code", "system", "expected", "canonical", "rounded"),
    [
        # 8.7: TG 265 mg/dL -> 265 x 1129/100000 = 299185/100000 = 59837/20000 = 2.99185.
        pytest.param(
            "TG",
            "265",
            "mg/dL",
            None,
            None,
            Fraction(59837, 20000),
            "mmol/L",
            2.992,
            id="8.7-TG-265-mg-dL",
        ),
        # 6.4 (FOUND pair): TG 156 mg/dL ≈ 1.76 mmol/L; 156 x 0.01129 = 1.76124.
        pytest.param(
            "TG",
            "156",
            "mg/dl",
            None,
            None,
            Fraction(44031, 25000),
            "mmol/L",
            1.761,
            id="6.4-TG-156-mg-dL",
        ),
        pytest.param(
            "TG",
            "3.0",
            "mmol/L",
            None,
            None,
            Fraction(3),
            "mmol/L",
            3.0,
            id="6.4-TG-mmol-unchanged",
        ),
        # 8.7: fibrinogen 150 mg/dL / 100 = 1.50 g/L.
        pytest.param(
            "fibrinogen",
            "150",
            None,
            "mg/dL",
            UCUM,
            Fraction(3, 2),
            "g/L",
            1.5,
            id="8.7-fibrinogen-150-mg-dL",
        ),
        # 6.4 (FOUND pair): 1.5 g/L = 4.41 umol/L -> 4.41 / 2.94 = 1.5 exactly.
        pytest.param(
            "fibrinogen",
            "4.41",
            "µmol/L",
            None,
            None,
            Fraction(3, 2),
            "g/L",
            1.5,
            id="6.4-fibrinogen-4.41-umol-L",
        ),
        # 8.7: Hb 9.0 g/dL x 10 = 90 g/L.
        pytest.param(
            "Hb", "9.0", "g/dL", None, None, Fraction(90), "g/L", 90.0, id="8.7-Hb-9-g-dL"
        ),
        # 6.4: mmol/L = g/dL x 0.6206 -> 5.59 mmol/L = 5.59 x 10/0.6206 = 279500/3103 g/L.
        pytest.param(
            "Hb",
            "5.59",
            "mmol/L",
            None,
            None,
            Fraction(279500, 3103),
            "g/L",
            90.074,
            id="6.4-Hb-5.59-mmol-L",
        ),
        # 8.7: PLT 100 10*3/uL = 100 10*9/L.
        pytest.param(
            "PLT",
            "100",
            None,
            "10*3/uL",
            UCUM,
            Fraction(100),
            "10*9/L",
            100.0,
            id="8.7-PLT-100-10e3-uL",
        ),
        # 6.4 (FOUND, HLH-2004): 100 x 10^9/L = 100 000/uL; /uL x 0.001.
        pytest.param(
            "PLT", "100000", "/uL", None, None, Fraction(100), "10*9/L", 100.0, id="6.4-PLT-per-uL"
        ),
        pytest.param(
            "ANC",
            "0.3",
            "10^3/mm3",
            None,
            None,
            Fraction(3, 10),
            "10*9/L",
            0.3,
            id="6.4-ANC-per-mm3",
        ),
        pytest.param(
            "WBC",
            "4.5",
            "×10^9/L",
            None,
            None,
            Fraction(9, 2),
            "10*9/L",
            4.5,
            id="6.2-WBC-free-text",
        ),
        # 6.4: 1 ukat/L = 60 U/L; U/L = IU/L.
        pytest.param(
            "ALT", "1", "µkat/L", None, None, Fraction(60), "U/L", 60.0, id="6.4-ALT-ukat"
        ),
        pytest.param(
            "AST", "40", "IU/L", None, None, Fraction(40), "U/L", 40.0, id="6.4-AST-IU-per-L"
        ),
        pytest.param(
            "LDH", "250", None, "[IU]/L", UCUM, Fraction(250), "U/L", 250.0, id="6.4-LDH-ucum-IU"
        ),
        # 6.4: CRP mg/L = mg/dL x 10.
        pytest.param(
            "CRP", "1.2", "mg/dL", None, None, Fraction(12), "mg/L", 12.0, id="6.4-CRP-mg-dL"
        ),
        # 6.4 (FOUND): ferritin 1 ng/mL = 1 ug/L.
        pytest.param(
            "ferritin",
            "500",
            "ug/L",
            None,
            None,
            Fraction(500),
            "ng/mL",
            500.0,
            id="6.4-ferritin-ug-L",
        ),
        # 6.4 (RECALLED): 1 ng/mL = 2.247 pmol/L -> 2247 pmol/L = 1000 ng/mL.
        pytest.param(
            "ferritin",
            "2247",
            "pmol/L",
            None,
            None,
            Fraction(1000),
            "ng/mL",
            1000.0,
            id="6.4-ferritin-pmol-L",
        ),
        # 6.4: cytokines pg/mL = ng/L.
        pytest.param(
            "IFN-gamma",
            "50",
            "ng/L",
            None,
            None,
            Fraction(50),
            "pg/mL",
            50.0,
            id="6.4-IFN-gamma-ng-L",
        ),
        pytest.param(
            "IL-6", "0.05", "ng/mL", None, None, Fraction(50), "pg/mL", 50.0, id="6.4-IL-6-ng-mL"
        ),
        # 6.4: D-dimer mg/L = ug/mL, ug/L = ng/mL; FEU canonical mg/L, DDU canonical ug/L.
        pytest.param(
            "D-dimer_FEU",
            "900",
            "ug/L",
            None,
            None,
            Fraction(9, 10),
            "mg/L",
            0.9,
            id="6.4-D-dimer-FEU-ug-L",
        ),
        pytest.param(
            "D-dimer_FEU",
            "0.9",
            "ug/mL FEU",
            None,
            None,
            Fraction(9, 10),
            "mg/L",
            0.9,
            id="6.4-D-dimer-FEU-annotated",
        ),
        pytest.param(
            "D-dimer_DDU",
            "0.5",
            "mg/L",
            None,
            None,
            Fraction(500),
            "ug/L",
            500.0,
            id="6.4-D-dimer-DDU-mg-L",
        ),
        # 6.4: degC = (degF - 32) x 5/9 -> (101.3 - 32) x 5/9 = 69.3 x 5/9 = 38.5.
        pytest.param(
            "temperature",
            "101.3",
            "°F",
            None,
            None,
            Fraction(77, 2),
            "Cel",
            38.5,
            id="6.4-temperature-degF",
        ),
        pytest.param(
            "temperature",
            "311.65",
            None,
            "K",
            UCUM,
            Fraction(77, 2),
            "Cel",
            38.5,
            id="6.4-temperature-kelvin",
        ),
        # 6.4: kg = lb x 0.45359237 -> 154 lb = 69.85322498 kg.
        pytest.param(
            "body_weight",
            "154",
            None,
            "[lb_av]",
            UCUM,
            Fraction("69.85322498"),
            "kg",
            69.853,
            id="6.4-weight-lb",
        ),
        pytest.param(
            "body_weight", "70000", "g", None, None, Fraction(70), "kg", 70.0, id="6.4-weight-g"
        ),
        # 6.4 (RECALLED): bilirubin 1 mg/dL = 17.1 umol/L -> 1.2 mg/dL = 20.52 umol/L.
        pytest.param(
            "bilirubin_total",
            "1.2",
            "mg/dL",
            None,
            None,
            Fraction("20.52"),
            "umol/L",
            20.52,
            id="6.4-bilirubin-mg-dL",
        ),
        # 6.4: albumin g/L = g/dL x 10.
        pytest.param(
            "albumin", "3.5", "g/dL", None, None, Fraction(35), "g/L", 35.0, id="6.4-albumin-g-dL"
        ),
        pytest.param(
            "ESR", "20", "mm/hr", None, None, Fraction(20), "mm/h", 20.0, id="6.4-ESR-mm-hr"
        ),
        pytest.param(
            "neutrophils_pct",
            "65",
            "%",
            None,
            None,
            Fraction(65),
            "%",
            65.0,
            id="6.4-neutrophil-percent",
        ),
    ],
)
def test_convert_quantity_hand_worked(
    analyte, value, unit, code, system, expected, canonical, rounded
):
    converted = convert_quantity(TERM, analyte, Decimal(value), unit, code, system)
    assert converted.value == expected
    assert converted.unit == canonical
    assert round(float(converted.value), 3) == pytest.approx(rounded, abs=5e-4)


def test_conversion_text_states_the_exact_factor():
    # 6.4 / 8.7: the row records "mg/dL -> mmol/L x 1129/100000" for TG.
    converted = convert_quantity(TERM, "TG", Decimal("265"), "mg/dL", None, None)
    assert converted.conversion == "mg/dL -> mmol/L x 1129/100000"
    unchanged = convert_quantity(TERM, "TG", Decimal("3"), None, "mmol/L", UCUM)
    assert unchanged.conversion is None
    fahrenheit = convert_quantity(TERM, "temperature", Decimal("100"), "°F", None, None)
    assert fahrenheit.conversion == "[degF] -> Cel (x - 32) x 5/9"


# --- scales: sCD25, viral loads, D-dimer (6.4) ----------------------------------------------
@pytest.mark.parametrize(
    ("analyte", "value", "unit", "expected", "canonical", "scale"),
    [
        # sCD25 keeps its scale: U/mL family (kU/L = U/mL) or mass family (ng/mL x 1000 pg/mL).
        pytest.param("sCD25", "2400", "U/mL", Fraction(2400), "[U]/mL", "U", id="sCD25-U-mL"),
        pytest.param("sCD25", "2.4", "kU/L", Fraction(12, 5), "[U]/mL", "U", id="sCD25-kU-L"),
        pytest.param("sCD25", "8000", "pg/mL", Fraction(8000), "pg/mL", "mass", id="sCD25-pg-mL"),
        pytest.param("sCD25", "5.2", "ng/mL", Fraction(5200), "pg/mL", "mass", id="sCD25-ng-mL"),
        # CMV/EBV DNA: IU/mL and copies/mL are separate scales.
        pytest.param("cmv_dna", "1200", "IU/mL", Fraction(1200), "[IU]/mL", "IU", id="cmv-IU"),
        pytest.param(
            "cmv_dna", "1200", "copies/mL", Fraction(1200), "{copies}/mL", "copies", id="cmv-copies"
        ),
        # log10 units -> 10**x: log10 3 IU/mL = 1000 IU/mL.
        pytest.param(
            "cmv_dna", "3", "log10 IU/mL", Fraction(1000), "[IU]/mL", "IU", id="cmv-log10-IU"
        ),
        pytest.param(
            "ebv_dna",
            "4",
            "log copies/mL",
            Fraction(10000),
            "{copies}/mL",
            "copies",
            id="ebv-log-copies",
        ),
        pytest.param("D-dimer_FEU", "0.5", "mg/L", Fraction(1, 2), "mg/L", "FEU", id="FEU"),
    ],
)
def test_scales_are_reported(analyte, value, unit, expected, canonical, scale):
    converted = convert_quantity(TERM, analyte, Decimal(value), unit, None, None)
    assert (converted.value, converted.unit, converted.scale) == (expected, canonical, scale)


def test_log10_non_integer_is_computed_to_28_digits():
    # 6.4: value = 10^x; 10^2.5 = 316.2277660168379... (irrational: 28 significant digits kept).
    converted = convert_quantity(TERM, "cmv_dna", Decimal("2.5"), "log10 copies/mL", None, None)
    assert float(converted.value) == pytest.approx(316.22776601683796, rel=1e-15)
    assert converted.conversion == "log10({copies}/mL) -> {copies}/mL 10**x"


def test_target_unit_selects_a_scale():
    # 6.4: ng/mL and pg/mL are one (mass) scale of sCD25, so a pg/mL target accepts ng/mL.
    converted = convert_quantity(
        TERM, "sCD25", Decimal("5.2"), "ng/mL", None, None, target_unit="pg/mL"
    )
    assert converted.value == Fraction(5200)


@pytest.mark.parametrize(
    ("analyte", "value", "unit", "target", "kind"),
    [
        # 8.7: sCD25 2400 U/mL vs baseline 8000 pg/mL -> NE: U/mL vs pg/mL non-convertible.
        pytest.param("sCD25", "8000", "pg/mL", "[U]/mL", "non-convertible", id="8.7-sCD25-pg-to-U"),
        pytest.param("sCD25", "2400", "U/mL", "pg/mL", "non-convertible", id="8.7-sCD25-U-to-pg"),
        # 6.4: CMV IU vs copies never converted into each other.
        pytest.param(
            "cmv_dna", "1200", "copies/mL", "[IU]/mL", "non-convertible", id="6.4-cmv-copies-to-IU"
        ),
        # 6.4: FEU vs DDU never converted: a DDU unit on the FEU analyte, and the reverse.
        pytest.param(
            "D-dimer_FEU", "900", "ng/mL DDU", None, "non-convertible", id="6.4-DDU-on-FEU"
        ),
        pytest.param(
            "D-dimer_DDU", "0.9", "mg/L FEU", None, "non-convertible", id="6.4-FEU-on-DDU"
        ),
        # 6.2: unknown unit strings are refused, never guessed.
        pytest.param("ferritin", "500", "bananas", None, "unknown", id="6.2-unknown-text"),
        pytest.param("TG", "1.5", "U/L", None, "unknown", id="6.4-no-rule-for-unit"),
        pytest.param("sCD25", "2400", "IU/mL", None, "unknown", id="6.4-sCD25-IU-not-a-scale"),
        pytest.param("ferritin", "500", None, None, "unknown", id="no-unit-quantitative"),
        pytest.param("cmv_igg", "12", "U/mL", None, "unknown", id="qualitative-with-unit"),
        pytest.param("ferritin", "500", "ng/mL", "[IU]/mL", "unknown", id="bad-target"),
    ],
)
def test_unit_errors(analyte, value, unit, target, kind):
    with pytest.raises(UnitError) as caught:
        convert_quantity(TERM, analyte, Decimal(value), unit, None, None, target_unit=target)
    assert caught.value.kind == kind
    # The message names the unit (or the target unit) and the analyte; the mapper adds the rest.
    assert analyte in str(caught.value)
    assert (target or unit or "no unit") in str(caught.value)


def test_qualitative_analyte_without_unit():
    # 6.1: CMV IgG is ordinal; a number without a unit is kept with unit "".
    assert convert_quantity(TERM, "cmv_igg", Decimal(1), None, None, None) == Converted(
        Fraction(1), "", None
    )


def test_unit_error_is_an_adapter_error():
    assert issubclass(UnitError, AdapterError)


def test_unknown_analyte_and_non_finite_value():
    with pytest.raises(KeyError, match="nope"):
        convert_quantity(TERM, "nope", Decimal(1), "mg/L", None, None)
    with pytest.raises(ValueError, match="finite"):
        convert_quantity(TERM, "ferritin", Decimal("NaN"), "ng/mL", None, None)


def test_config_analyte_without_rules_converts_only_its_own_unit():
    term = Terminology.from_mapping({"analytes": {"vas": {"canonical_unit": "cm"}}})
    assert convert_quantity(term, "vas", Decimal("0.5"), "cm", None, None).value == Fraction(1, 2)
    with pytest.raises(UnitError):
        convert_quantity(term, "vas", Decimal("5"), "mm", None, None)


# --- dose_to_mg (4.3.3) -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "unit", "code", "expected"),
    [
        # 4.3.3: mg as is; g x 1000; ug x 0.001; mg/kg -> mg_per_kg.
        pytest.param("40", "mg", "mg", DoseAmount(Fraction(40), None, "mg"), id="4.3.3-mg"),
        pytest.param("1", "g", None, DoseAmount(Fraction(1000), None, "g"), id="4.3.3-g"),
        pytest.param("500", "ug", None, DoseAmount(Fraction(1, 2), None, "ug"), id="4.3.3-ug"),
        pytest.param("500", "mcg", None, DoseAmount(Fraction(1, 2), None, "ug"), id="4.3.3-mcg"),
        pytest.param("500", "µg", None, DoseAmount(Fraction(1, 2), None, "ug"), id="4.3.3-micro"),
        pytest.param("500", "微克", None, DoseAmount(Fraction(1, 2), None, "ug"), id="4.3.3-weike"),
        pytest.param("40", "毫克", None, DoseAmount(Fraction(40), None, "mg"), id="4.3.3-haoke"),
        pytest.param("6", "mg/kg", None, DoseAmount(None, Fraction(6), "mg/kg"), id="4.1-mg-kg"),
        pytest.param("3", None, "mg/kg", DoseAmount(None, Fraction(3), "mg/kg"), id="code-mg-kg"),
        pytest.param("40", "tablet", "mg", DoseAmount(Fraction(40), None, "mg"), id="code-wins"),
    ],
)
def test_dose_to_mg(value, unit, code, expected):
    assert dose_to_mg(Decimal(value), unit, code) == expected


@pytest.mark.parametrize(
    ("unit", "code"),
    [
        pytest.param("tablet", None, id="tablet"),
        pytest.param("mL", "mL", id="millilitre"),
        pytest.param("片", None, id="pian"),
        pytest.param(None, None, id="none"),
    ],
)
def test_dose_to_mg_unknown(unit, code):
    with pytest.raises(UnitError) as caught:
        dose_to_mg(Decimal(1), unit, code)
    assert caught.value.kind == "unknown"


def test_unitnorm_doctests():
    assert doctest.testmod(unitnorm).failed == 0

"""Rule sets (CLINICAL-SPEC 3) with the hand-worked vectors of section 8, and response tables."""

from __future__ import annotations

import pytest

from registry.outcomes.response import Assessment, best_to_date, response_table
from registry.outcomes.rules import RULE_SETS, Verdict
from tests.registry.outcomes.conftest import rule_input, temp, val

CN = "cn_hlh_dep"


def _markers(verdict: Verdict) -> dict[str, object]:
    return {m.marker: m for m in verdict.markers}


def _vector1(protocol, **overrides):
    # CLINICAL-SPEC 8 vector 1 (3.2): baseline and week 1.
    baseline = [
        val("ferritin", 12000),
        val("TG", 4.0),
        val("sCD25", 20000, "pg/mL", high=6400),
        val("ANC", 0.3),
        val("ALT", 520),
    ]
    week1 = [
        val("ferritin", 8000),
        val("TG", 3.2),
        val("sCD25", 12000, "pg/mL", high=6400),
        val("ANC", 0.7),
        val("ALT", 300),
    ]
    return rule_input(protocol, CN, baseline, week1, **overrides)


def test_cn_hlh_dep_vector1_three_markers_improved_is_pr(protocol):
    """Verify CLINICAL-SPEC 8 vector 1: ferritin, sCD25 and ANC improve, TG and ALT do not: PR."""
    verdict = RULE_SETS[CN](_vector1(protocol))
    markers = _markers(verdict)
    # ferritin 8000 < 9000; sCD25 12000 <= 13333; ANC 0.7 > 0.6 and > 0.5 (3.2 table)
    assert [m for m in ("ferritin", "sCD25", "ANC") if markers[m].improved] == [
        "ferritin",
        "sCD25",
        "ANC",
    ]
    assert markers["TG"].improved is False  # 3.2 not < 3.0
    assert markers["ALT"].improved is False  # 300 not < 260
    assert markers["ferritin"].normal is False  # still abnormal: not CR
    assert verdict.status == "PR"


def test_cn_hlh_dep_pr_threshold_is_a_protocol_setting(protocol):
    """Verify that changing pr_min_markers changes the verdict (3 improved < 4 needed: NR)."""
    assert RULE_SETS[CN](_vector1(protocol, pr_min_markers=4)).status == "NR"


@pytest.mark.parametrize(
    ("baseline", "now", "improved"),
    [
        (0.8, 1.9, False),  # 8 vector 2: 1.9 > 1.6 but < 2.0
        (0.8, 2.0, True),  # >= 2.0 and > 2 x 0.8
        (0.3, 0.6, False),  # < 0.5 band: 0.6 is not > 2 x 0.3
        (0.3, 0.61, True),
    ],
    ids=[
        "vector2-1.9-not-improved",
        "band-0.5-2-reaches-2.0",
        "low-band-not-doubled",
        "low-band-doubled",
    ],
)
def test_cn_hlh_dep_anc_bands(protocol, baseline, now, improved):
    """Verify the ANC improvement rules of 3.2 (vector 2 included)."""
    inp = rule_input(protocol, CN, [val("ANC", baseline)], [val("ANC", now)])
    assert _markers(RULE_SETS[CN](inp))["ANC"].improved is improved


def test_cn_hlh_dep_alt_not_eligible_at_350(protocol):
    """Verify CLINICAL-SPEC 8 vector 3: baseline ALT 350 (<= 400) never counts towards PR."""
    inp = rule_input(protocol, CN, [val("ALT", 350)], [val("ALT", 20)])
    alt = _markers(RULE_SETS[CN](inp))["ALT"]
    assert alt.eligible is False
    assert alt.improved is None


def test_cn_hlh_dep_scd25_units_differ_is_not_evaluable(protocol):
    """Verify CLINICAL-SPEC 8 vector 7 (6.4): sCD25 2400 U/mL vs baseline 8000 pg/mL: NE."""
    inp = rule_input(
        protocol, CN, [val("sCD25", 8000, "pg/mL", high=6400)], [val("sCD25", 2400, "[U]/mL")]
    )
    scd25 = _markers(RULE_SETS[CN](inp))["sCD25"]
    assert scd25.eligible is True
    assert scd25.improved is None
    assert "units differ" in scd25.note


@pytest.mark.parametrize(
    ("value", "improved"),
    [(6000 / 1.5, True), (4001, False)],
    ids=["exactly-baseline-over-1.5", "just-above"],
)
def test_cn_hlh_dep_scd25_fold_is_inclusive(protocol, value, improved):
    """Verify 3.2: "> 1.5-fold decrease" is read as value <= baseline / 1.5 (inclusive)."""
    inp = rule_input(protocol, CN, [val("sCD25", 6000)], [val("sCD25", value)])
    assert _markers(RULE_SETS[CN](inp))["sCD25"].improved is improved


def test_cn_hlh_dep_ferritin_boundary_is_strict(protocol):
    """Verify 3.2: "> 25 %" decrease means value < 0.75 x baseline; exactly 0.75 x is not."""
    inp = rule_input(protocol, CN, [val("ferritin", 1000)], [val("ferritin", 750)])
    assert _markers(RULE_SETS[CN](inp))["ferritin"].improved is False


def _normal_set(**extra):
    return [
        val("ferritin", 100),
        val("TG", 1.2),
        val("sCD25", 500),
        val("ANC", 3.0),
        val("PLT", 200),
        val("Hb", 130),
        val("WBC", 6.0),
    ]


@pytest.mark.parametrize(
    ("fever", "setting", "status"),
    [
        (temp(37.2), "ignore", "CR"),
        (temp(38.0), "ignore", "PR"),  # 3.2 rule 4: max temperature must be < 38.0
        (None, "ignore", "CR"),  # CHOICE: no reading, criterion ignored
        (None, "not_cr", "PR"),
    ],
    ids=["afebrile", "fever-38.0-blocks-cr", "no-reading-ignored", "no-reading-blocks-cr"],
)
def test_cn_hlh_dep_cr_needs_afebrile(protocol, fever, setting, status):
    """Verify 3.2 CR: all measured markers normal and afebrile (default on)."""
    baseline = [val("ferritin", 5000), val("TG", 3.0), val("ANC", 0.4), val("PLT", 40)]
    inp = rule_input(protocol, CN, baseline, _normal_set(), fever_now=fever, fever_missing=setting)
    assert RULE_SETS[CN](inp).status == status


def test_cn_hlh_dep_cr_needs_baseline_abnormal_markers_measured(protocol):
    """Verify 3.2 CR rule 2: a marker abnormal at baseline and missing at t: not CR (PR here)."""
    baseline = [val("ferritin", 5000), val("TG", 3.0), val("PLT", 40)]
    current = [val("ferritin", 100), val("TG", 1.0)]
    verdict = RULE_SETS[CN](rule_input(protocol, CN, baseline, current, fever_now=temp(36.8)))
    assert verdict.status == "PR"
    assert "PLT" in verdict.notes[0]


def test_cn_hlh_dep_no_eligible_marker_measured_is_ne(protocol):
    """Verify 3.2 NE: nothing measured at t for any eligible marker."""
    inp = rule_input(protocol, CN, [val("ferritin", 5000)], [val("Hb", 90)])
    assert RULE_SETS[CN](inp).status == "NE"


def test_pHLH_04_vector4_three_normalized_is_pr(protocol):
    """Verify CLINICAL-SPEC 8 vector 4 (3.3): fever, PLT, fibrinogen normalized: PR."""
    baseline = [
        val("PLT", 40),
        val("ferritin", 9000),
        val("fibrinogen", 1.0),
        val("D-dimer_FEU", 3.0),
    ]  # 3000 ug/L = 3.0 mg/L FEU
    week4 = [val("PLT", 120), val("ferritin", 2500), val("fibrinogen", 1.8),
             val("D-dimer_FEU", 0.9)]  # fmt: skip
    inp = rule_input(protocol, "emapalumab_pHLH_04", baseline, week4,
                     fever_baseline=temp(39.0), fever_now=temp(36.9))  # fmt: skip
    verdict = RULE_SETS["emapalumab_pHLH_04"](inp)
    markers = _markers(verdict)
    assert verdict.status == "PR"
    assert verdict.responded  # ORR counts PR
    assert [m for m in ("temperature", "PLT", "fibrinogen") if markers[m].normal] == [
        "temperature",
        "PLT",
        "fibrinogen",
    ]
    # ferritin -72 % and D-dimer -70 % improved >= 50 % but not normalized
    assert (markers["ferritin"].normal, markers["ferritin"].improved) == (False, True)
    assert (markers["D-dimer_FEU"].normal, markers["D-dimer_FEU"].improved) == (False, True)


def test_pHLH_04_three_improved_not_normalized_is_hlh_improvement(protocol):
    """Verify 3.3: >= 3 improved by >= 50 % but < 3 normalized: HI (counts in ORR)."""
    baseline = [val("PLT", 20), val("ferritin", 9000), val("D-dimer_FEU", 3.0)]
    current = [val("PLT", 30), val("ferritin", 4000), val("D-dimer_FEU", 1.0)]
    inp = rule_input(protocol, "emapalumab_pHLH_04", baseline, current)
    verdict = RULE_SETS["emapalumab_pHLH_04"](inp)
    assert (verdict.status, verdict.responded) == ("HI", True)  # PLT 30 >= 1.5 x 20


@pytest.mark.parametrize(
    ("current", "status"),
    [
        (
            {
                "WBC": 5,
                "PLT": 200,
                "LDH": 300,
                "ALT": 55,
                "AST": 50,
                "fibrinogen": 1.1,
                "ferritin": 1900,
            },
            "CR",
        ),
        (
            {
                "WBC": 3,
                "PLT": 200,
                "LDH": 300,
                "ALT": 60,
                "AST": 50,
                "fibrinogen": 1.1,
                "ferritin": 1900,
            },
            "NR",
        ),
        ({"WBC": 5, "PLT": 200}, "NE"),
    ],
    ids=["all-components-met", "wbc-below-lln", "components-missing"],
)
def test_emapalumab_mas_cr_components(protocol, current, status):
    """Verify 3.4 (RECALLED): WBC > LLN 3.5, LDH < 1.5 x 250, ALT < 1.5 x 40, AST < 1.5 x 35..."""
    inp = rule_input(protocol, "emapalumab_mas_cr", [val("ferritin", 12000)],
                     [val(k, v) for k, v in current.items()])  # fmt: skip
    assert RULE_SETS["emapalumab_mas_cr"](inp).status == status


@pytest.mark.parametrize(
    ("plt_now", "status"),
    [(200, "CR"), (100, "PR"), (None, "PR")],
    ids=["all-resolved", "one-persists", "one-missing-persists"],
)
def test_aosd_remission_ruijin(protocol, plt_now, status):
    """Verify 3.5: complete = all initial abnormalities resolved; partial = all but one."""
    baseline = [val("ferritin", 5000), val("PLT", 40)]
    current = [val("ferritin", 100)] + ([val("PLT", plt_now)] if plt_now else [])
    inp = rule_input(protocol, "aosd_remission_ruijin", baseline, current)
    assert RULE_SETS["aosd_remission_ruijin"](inp).status == status


def _assessment(slot, status):
    return Assessment(slot, 7, CN, Verdict(status, ()))


def test_best_response_to_date_keeps_the_best_so_far():
    """Verify the best_response_to_date extra output of 3.2 (CR > PR > HI > NR > NE)."""
    items = [_assessment("week_1", "PR"), _assessment("week_2", "NE"), _assessment("week_4", "CR")]
    assert best_to_date(items) == {"week_1": "PR", "week_2": "PR", "week_4": "CR"}


def test_response_table_counts_missing_patients_as_ne(protocol):
    """Verify Decisions 3: the denominator is N; a patient without an assessment counts as NE."""
    per_patient = [[_assessment(t.name, "PR") for t in protocol.timepoints]]
    table = response_table(protocol, per_patient, n=3)
    week1 = table[0]
    assert (week1["pr"], week1["ne"], week1["orr"]["count"], week1["orr"]["percent"]) == (
        1,
        2,
        1,
        33.3,
    )

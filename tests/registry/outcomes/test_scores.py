"""HScore and MAS 2016 classification (CLINICAL-SPEC 3.6) with section 8 vectors 5 and 6."""

from __future__ import annotations

from registry.outcomes.scores import hscore, mas_2016
from tests.registry.outcomes.conftest import val


def test_hscore_vector5_is_241():
    """Verify 8 vector 5: 18 + 33 + 23 + 24 + 50 + 44 + 30 + 19 + 0 = 241, probability 99 %."""
    values = {v.analyte: v for v in [
        val("Hb", 85), val("PLT", 90), val("WBC", 6.0),  # 2 lineages (Hb <= 92, PLT <= 110)
        val("ferritin", 8000), val("TG", 2.5), val("fibrinogen", 2.0), val("AST", 85),
    ]}  # fmt: skip
    score = hscore(values, max_temperature=39.0, immunosuppressed=True, organomegaly=1)
    assert score.value == 241
    assert score.value >= 169
    assert score.label == "probability 99%"  # the 240 row; 250 would give > 99 %
    assert score.items["cytopenias"] == 24


def test_mas_2016_vector6_classified():
    """Verify 8 vector 6: ferritin 5000 plus PLT, AST, fibrinogen (3 of 4; TG 140 mg/dL not)."""
    values = {v.analyte: v for v in [
        val("ferritin", 5000), val("PLT", 150), val("AST", 60),
        val("TG", 140 * 0.01129),  # 140 mg/dL = 1.58 mmol/L, not > 1.76
        val("fibrinogen", 3.0),  # 300 mg/dL
    ]}  # fmt: skip
    score = mas_2016(values)
    assert score.value is True
    assert score.items["TG > 1.76 mmol/L"] is False
    assert score.label == "3 of 4 criteria besides ferritin"
    assert mas_2016(values, febrile=False).value is False

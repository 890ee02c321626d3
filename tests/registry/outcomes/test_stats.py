"""Small-n statistics (issue 3 item 7; CLINICAL-SPEC "Decisions" 3 and 1.3)."""

from __future__ import annotations

from fractions import Fraction

import pytest

from registry.outcomes import stats


@pytest.mark.parametrize(
    ("count", "n", "shown"),
    [(2, 3, 66.7), (1, 3, 33.3), (3, 9, 33.3), (6, 9, 66.7), (7, 9, 77.8), (8, 9, 88.9),
     (1, 16, 6.3), (0, 9, 0.0)],
    ids=["2/3", "1/3", "3/9-not-33.9", "6/9", "7/9", "8/9", "1/16-half-up", "0/9"],
)  # fmt: skip
def test_percent_one_decimal_half_up(count, n, shown):
    """Verify 1.3: one decimal, half-up via Decimal (round() would give 6.2 for 6.25)."""
    assert stats.percent(count, n) == shown


@pytest.mark.parametrize(
    ("count", "n", "interval"),
    [(6, 9, (29.9, 92.5)), (3, 9, (7.5, 70.1)), (0, 9, (0.0, 33.6)), (9, 9, (66.4, 100.0))],
    ids=["6/9", "3/9", "0/9", "9/9"],
)
def test_clopper_pearson_exact_interval(count, n, interval):
    """Verify Decisions 3: exact 95 % intervals (6/9: 0.2993-0.9251 in Clopper-Pearson tables)."""
    assert stats.clopper_pearson(count, n) == interval


def test_proportion_with_no_patients_has_no_percent():
    assert stats.proportion(0, 0) == {"count": 0, "n": 0, "percent": None, "ci95": None}


def test_median_and_quartiles():
    """Verify the median (exact for Fractions) and type-7 quartiles."""
    assert stats.median([Fraction(170, 2), Fraction(1775, 20), Fraction(984, 10)]) == Fraction(
        355, 4
    )
    assert stats.describe([1.0, 2.0, 3.0, 4.0]) == {"n": 4, "median": 2.5, "q1": 1.75, "q3": 3.25}
    assert stats.describe([]) == {"n": 0, "median": None, "q1": None, "q3": None}

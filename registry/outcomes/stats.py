"""Small-n statistics (issue 3 item 7; CLINICAL-SPEC "Decisions" 3).

Proportions are count/N with the percent to one decimal rounded half-up (Decimal, never round())
and an exact Clopper-Pearson 95 % interval from the beta distribution (scipy.stats.beta).
Medians and quartiles use the linear-interpolation definition (Hyndman-Fan type 7, the
`statistics.quantiles(method="inclusive")` and R / numpy default).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

TENTH = Decimal("0.1")


def round_half_up(value: Fraction | Decimal | float, places: str = "0.1") -> float:
    """Round half-up to `places` (exact for Fractions and Decimals; floats via their repr)."""
    if isinstance(value, Fraction):
        exact = Decimal(value.numerator) / Decimal(value.denominator)
    elif isinstance(value, float):
        exact = Decimal(repr(value))
    else:
        exact = value
    return float(exact.quantize(Decimal(places), rounding=ROUND_HALF_UP))


def percent(count: int, n: int) -> float | None:
    """count/n as a percent, one decimal, half-up; None when n is 0.

    >>> percent(2, 3), percent(1, 3), percent(8, 9)
    (66.7, 33.3, 88.9)
    """
    if n == 0:
        return None
    return round_half_up(Fraction(100 * count, n))


def clopper_pearson(count: int, n: int, level: float = 0.95) -> tuple[float, float] | None:
    """Exact two-sided interval for a binomial proportion, as percents (one decimal).

    >>> clopper_pearson(6, 9)
    (29.9, 92.5)
    """
    if n == 0:
        return None
    from scipy.stats import beta  # on use: half a second to import, and report helpers never do

    alpha = 1 - level
    lower = 0.0 if count == 0 else float(beta.ppf(alpha / 2, count, n - count + 1))
    upper = 1.0 if count == n else float(beta.ppf(1 - alpha / 2, count + 1, n - count))
    return round_half_up(lower * 100), round_half_up(upper * 100)


def proportion(count: int, n: int) -> dict[str, Any]:
    """The JSON form of a proportion: count, n, percent, ci95 [lower, upper] (percent)."""
    interval = clopper_pearson(count, n)
    return {
        "count": count,
        "n": n,
        "percent": percent(count, n),
        "ci95": list(interval) if interval else None,
    }


def median(values: Sequence[Fraction] | Sequence[float]) -> Fraction | float | None:
    """The median, or None for no values (exact for Fractions)."""
    if not values:
        return None
    middle: Fraction | float = statistics.median(values)  # type: ignore[type-var,assignment]
    return middle


def quartiles(values: Sequence[float]) -> tuple[float, float] | None:
    """(Q1, Q3), type 7; None for fewer than two values."""
    if len(values) < 2:
        return None
    q1, _q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, q3


def describe(values: Sequence[float], places: str = "0.01") -> dict[str, Any]:
    """n, median and IQR of a sample, rounded for display (half-up)."""
    mid = median(values)
    iqr = quartiles(values)
    return {
        "n": len(values),
        "median": None if mid is None else round_half_up(float(mid), places),
        "q1": None if iqr is None else round_half_up(iqr[0], places),
        "q3": None if iqr is None else round_half_up(iqr[1], places),
    }

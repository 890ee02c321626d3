"""What "normal" means for a value (CLINICAL-SPEC 6.3) and how comparator values read (6.4).

Precedence: the Observation's own referenceRange (canonical unit), then its interpretation
(N normal; H, HH, L, LL, A abnormal), then the protocol's default adult range (sex-specific when
the sex is known, else the union), which applies only in the analyte's canonical unit. Bounds are
inclusive. A comparator value `<x` is normal when x <= ULN (with no lower bound), `>x` is abnormal
when x >= ULN; anything else a comparator leaves open is undetermined (None).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NamedTuple

from registry.outcomes.protocol import Protocol, RefRange
from registry.outcomes.values import Value

_ABNORMAL = frozenset({"H", "HH", "L", "LL", "A", "AA", "HU", "LU"})
_DECIDING = _ABNORMAL | {"N"}  # interpretation codes that decide normality on their own
_HIGH = {"H", "HH", "HU"}
_LOW = {"L", "LL", "LU"}


class Judged(NamedTuple):
    """A value's range and the basis it came from."""

    low: float | None
    high: float | None
    basis: str  # lab-range | interpretation | default-range | none
    interpretation: frozenset[str]


class Ranges:
    """Normal/abnormal judgements for one protocol and one patient's sex."""

    def __init__(self, protocol: Protocol, sex: str | None, canonical: dict[str, str]) -> None:
        """Bind the protocol's default ranges to a sex; `canonical` maps analyte -> unit."""
        self.protocol = protocol
        self.sex = sex
        self.canonical = canonical
        self._defaults: dict[tuple[str, str | None], RefRange | None] = {}
        self._judged: dict[int, Judged] | None = None  # by id(value), inside `remembering`
        self._normal: dict[int, bool | None] | None = None

    @contextmanager
    def remembering(self) -> Iterator[None]:
        """Judge each value once inside the block (one patient's verdicts under every rule set).

        Judgements are remembered by the value object's identity, so the caller must keep the
        values alive for the whole block (a patient's selected values are).
        """
        self._judged, self._normal = {}, {}
        try:
            yield
        finally:
            self._judged = self._normal = None

    def judge(self, value: Value) -> Judged:
        """The range that applies to a value."""
        memo = self._judged
        if memo is None:
            return self._judge(value)
        found = memo.get(id(value))
        if found is None:
            found = memo[id(value)] = self._judge(value)
        return found

    def _judge(self, value: Value) -> Judged:
        codes = _codes(value.interpretation)
        if value.reference_low is not None or value.reference_high is not None:
            return Judged(value.reference_low, value.reference_high, "lab-range", codes)
        if codes & _DECIDING:
            return Judged(None, None, "interpretation", codes)
        default = self._default(value)
        if default is not None:
            return Judged(default.low, default.high, "default-range", codes)
        return Judged(None, None, "none", codes)

    def _default(self, value: Value) -> RefRange | None:
        key = (value.analyte, value.unit)
        if key not in self._defaults:
            unit = self.protocol.reference_unit(value.analyte) or self.canonical.get(value.analyte)
            fits = unit is None or value.unit == unit
            found = self.protocol.reference_range(value.analyte, self.sex) if fits else None
            self._defaults[key] = found
        return self._defaults[key]

    def is_normal(self, value: Value) -> bool | None:
        """True normal, False abnormal, None undetermined."""
        memo = self._normal
        if memo is None:
            return self._is_normal(value)
        key = id(value)
        if key not in memo:
            memo[key] = self._is_normal(value)
        return memo[key]

    def _is_normal(self, value: Value) -> bool | None:
        judged = self.judge(value)
        if judged.basis == "interpretation":
            return "N" in judged.interpretation and not judged.interpretation & _ABNORMAL
        if judged.basis == "none" or value.value is None:
            return None
        return _within(value.value, value.comparator, judged.low, judged.high)

    def above_uln(self, value: Value) -> bool | None:
        """Whether a value is above the upper limit of normal."""
        judged = self.judge(value)
        if judged.basis == "interpretation":
            return bool(judged.interpretation & _HIGH) or (
                None if judged.interpretation & {"A"} else False
            )
        if judged.high is None or value.value is None:
            return None
        return _beyond(value.value, value.comparator, judged.high, above=True)

    def below_lln(self, value: Value) -> bool | None:
        """Whether a value is below the lower limit of normal."""
        judged = self.judge(value)
        if judged.basis == "interpretation":
            return bool(judged.interpretation & _LOW) or (
                None if judged.interpretation & {"A"} else False
            )
        if judged.low is None or value.value is None:
            return None
        return _beyond(value.value, value.comparator, judged.low, above=False)

    def limits(self, value: Value) -> tuple[float | None, float | None]:
        """(LLN, ULN) of a value, None where unknown."""
        judged = self.judge(value)
        return judged.low, judged.high


@functools.lru_cache(maxsize=256)
def _codes(interpretation: str | None) -> frozenset[str]:
    """Interpretation codes of a value (stored comma-joined)."""
    return frozenset(c.strip() for c in (interpretation or "").split(",") if c.strip())


def _within(x: float, comparator: str | None, low: float | None, high: float | None) -> bool | None:
    """Inclusive range test, with comparators (6.4)."""
    if comparator in ("<", "<="):
        if low is not None and x <= low:
            return False
        if low is None and high is not None and x <= high:
            return True
        return None
    if comparator in (">", ">="):
        if high is not None and x >= high:
            return False
        if high is None and low is not None and x >= low:
            return True
        return None
    return (low is None or x >= low) and (high is None or x <= high)


def _beyond(x: float, comparator: str | None, limit: float, *, above: bool) -> bool | None:
    """Whether a value lies strictly beyond a limit (above the ULN or below the LLN)."""
    if comparator in ("<", "<="):
        return False if above and x <= limit else (True if not above and x <= limit else None)
    if comparator in (">", ">="):
        return True if above and x >= limit else (False if not above and x >= limit else None)
    return x > limit if above else x < limit

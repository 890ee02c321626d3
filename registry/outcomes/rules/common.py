"""Types shared by the rule sets: their input, per-marker evidence, and the verdict."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple, TypeVar

from registry.outcomes.ranges import Ranges
from registry.outcomes.values import Value

NO_READING = "no temperature reading in the lookback"
RESPONSES = ("CR", "PR", "HI")  # count towards the overall response rate
ORDER = ("CR", "PR", "HI", "NR", "NE")  # best first


class RuleInput(NamedTuple):
    """What a rule set judges: baseline and current values of one patient at one time point."""

    baseline: Mapping[str, Value]
    current: Mapping[str, Value]
    fever_now: Value | None
    fever_baseline: Value | None
    ranges: Ranges
    params: Mapping[str, Any]


class MarkerResult(NamedTuple):
    """How one marker was judged, with the values (and so the rows) that decided it.

    Named tuples, not dataclasses, for the result types of the rules: a large report builds
    millions of them.
    """

    marker: str
    role: str
    baseline: Value | None = None
    value: Value | None = None
    baseline_normal: bool | None = None
    normal: bool | None = None
    eligible: bool | None = None
    improved: bool | None = None
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        """JSON form; the values as observation ids (of the patient's `observations`)."""
        return {
            "marker": self.marker,
            "role": self.role,
            "baseline": self.baseline.row_id if self.baseline else None,
            "value": self.value.row_id if self.value else None,
            "baseline_normal": self.baseline_normal,
            "normal": self.normal,
            "eligible": self.eligible,
            "improved": self.improved,
            "note": self.note,
        }


class Verdict(NamedTuple):
    """CR, PR, HI (HLH improvement), NR or NE, with the evidence of every marker."""

    status: str
    markers: tuple[MarkerResult, ...]
    notes: tuple[str, ...] = ()

    @property
    def responded(self) -> bool:
        """Whether the verdict counts towards the overall response rate."""
        return self.status in RESPONSES


RuleFunction = Callable[[RuleInput], Verdict]
T = TypeVar("T")
_PLANS: dict[tuple[int, Any], tuple[Mapping[str, Any], Any]] = {}


def planned(params: Mapping[str, Any], build: Callable[[Mapping[str, Any]], T]) -> T:
    """`build(params)`, computed once per rule-set parameters (a rule's constants and texts).

    Keyed by the mapping's identity and kept with it, so the key cannot be reused; protocols
    keep their parameters unchanged for life.
    """
    key = (id(params), build)
    found = _PLANS.get(key)
    if found is None or found[0] is not params:
        if len(_PLANS) > 256:
            _PLANS.clear()
        found = _PLANS[key] = (params, build(params))
    plan: T = found[1]
    return plan


def fever_marker(reading: Value | None, threshold: float, role: str = "afebrile") -> MarkerResult:
    """The fever criterion: the highest reading in the lookback below the threshold."""
    if reading is None or reading.value is None:
        return MarkerResult("temperature", role, None, None, None, None, None, None, NO_READING)
    afebrile = reading.value < threshold
    note = f"highest {reading.value:g} C {'<' if afebrile else '>='} {threshold:g} C"
    return MarkerResult("temperature", role, None, reading, None, afebrile, None, None, note)


def same_scale(base: Value, now: Value) -> bool:
    """Ratios are unit-free only when both values are on the same unit (CLINICAL-SPEC 3.2)."""
    return base.unit == now.unit

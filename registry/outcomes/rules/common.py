"""Types shared by the rule sets: their input, per-marker evidence, and the verdict."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from registry.outcomes.ranges import Ranges
from registry.outcomes.values import Value

RESPONSES = ("CR", "PR", "HI")  # count towards the overall response rate
ORDER = ("CR", "PR", "HI", "NR", "NE")  # best first


@dataclass(frozen=True)
class RuleInput:
    """What a rule set judges: baseline and current values of one patient at one time point."""

    baseline: Mapping[str, Value]
    current: Mapping[str, Value]
    fever_now: Value | None
    fever_baseline: Value | None
    ranges: Ranges
    params: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class MarkerResult:
    """How one marker was judged, with the values (and so the rows) that decided it."""

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
        """JSON form."""
        return {
            "marker": self.marker,
            "role": self.role,
            "baseline": self.baseline.evidence() if self.baseline else None,
            "value": self.value.evidence() if self.value else None,
            "baseline_normal": self.baseline_normal,
            "normal": self.normal,
            "eligible": self.eligible,
            "improved": self.improved,
            "note": self.note,
        }


@dataclass(frozen=True, slots=True)
class Verdict:
    """CR, PR, HI (HLH improvement), NR or NE, with the evidence of every marker."""

    status: str
    markers: tuple[MarkerResult, ...]
    notes: tuple[str, ...] = ()

    @property
    def responded(self) -> bool:
        """Whether the verdict counts towards the overall response rate."""
        return self.status in RESPONSES


RuleFunction = Callable[[RuleInput], Verdict]


def fever_marker(reading: Value | None, threshold: float, role: str = "afebrile") -> MarkerResult:
    """The fever criterion: the highest reading in the lookback below the threshold."""
    if reading is None or reading.value is None:
        return MarkerResult("temperature", role, note="no temperature reading in the lookback")
    afebrile = reading.value < threshold
    note = f"highest {reading.value:g} C {'<' if afebrile else '>='} {threshold:g} C"
    return MarkerResult("temperature", role, value=reading, normal=afebrile, note=note)


def same_scale(base: Value, now: Value) -> bool:
    """Ratios are unit-free only when both values are on the same unit (CLINICAL-SPEC 3.2)."""
    return base.unit == now.unit

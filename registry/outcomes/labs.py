"""Laboratory trajectories (issue 3 item 4).

Per analyte and time point: n, missing, median, IQR in the canonical unit, and the change from
baseline. An analyte reported on two scales (sCD25 in
U/mL and pg/mL) gets one trajectory per unit; a change is computed only on the same unit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from registry.outcomes import stats
from registry.outcomes.protocol import Protocol
from registry.outcomes.timeline import EOF_SLOT, Key
from registry.outcomes.values import IndexEvent, PatientValues


class _Points:
    """The values of one analyte, unit and slot across the cohort, and their change."""

    __slots__ = ("change", "comparators", "now", "relative")

    def __init__(self) -> None:
        self.now: list[float] = []
        self.change: list[float] = []
        self.relative: list[float] = []
        self.comparators = 0


def _collect(
    analyte: str,
    slots: Sequence[str],
    cohort: Sequence[IndexEvent],
    values: Mapping[Key, PatientValues],
) -> tuple[set[str], dict[tuple[str, str], _Points]]:
    """One pass over the cohort: the units reported, and the points per (unit, slot)."""
    units: set[str] = set()
    points: dict[tuple[str, str], _Points] = {}
    for ie in cohort:
        patient = values.get(ie.key)
        if patient is None:
            continue
        base = patient.baseline.get(analyte)
        for slot in slots:
            value = patient.at(slot).get(analyte)
            if value is None:
                continue
            units.add(value.unit or "")
            if value.unit is None or value.value is None:
                continue  # counted as missing (a unit-less value joins no unit's row)
            found = points.get((value.unit, slot))
            if found is None:
                found = points[(value.unit, slot)] = _Points()
            found.now.append(value.value)
            found.comparators += value.comparator is not None
            if (
                slot != "baseline"
                and base is not None
                and base.unit == value.unit
                and (base.value is not None)
            ):
                found.change.append(value.value - base.value)
                if base.value:
                    found.relative.append((value.value - base.value) / base.value * 100)
    return units, points


def _slot_row(slot: str, found: _Points | None, n: int) -> dict[str, Any]:
    """One time point of one analyte's trajectory."""
    found = found or _Points()
    row = {"timepoint": slot, **stats.describe(found.now)}
    row["missing"] = n - len(found.now)
    row["comparator_values"] = found.comparators
    if slot != "baseline":
        row["change_from_baseline"] = stats.describe(found.change)
        row["percent_change_from_baseline"] = stats.describe(found.relative, "0.1")
    return row


LabPoints = dict[str, tuple[set[str], dict[tuple[str, str], _Points]]]


def collect(
    protocol: Protocol, cohort: Sequence[IndexEvent], values: Mapping[Key, PatientValues]
) -> LabPoints:
    """Per configured analyte: the units reported and the points per (unit, slot).

    Points of two groups of patients add up (`merge`): a report computed in several processes
    collects each share's and tabulates them once.
    """
    slots = ["baseline", *(t.name for t in protocol.timepoints), EOF_SLOT]
    return {a: _collect(a, slots, cohort, values) for a in protocol.section("labs")["analytes"]}


def merge(into: LabPoints, other: LabPoints) -> None:
    """Add another group's points to `into` (statistics are order-free: medians, quartiles)."""
    for analyte, (units, points) in other.items():
        mine_units, mine = into.setdefault(analyte, (set(), {}))
        mine_units |= units
        for key, found in points.items():
            target = mine.get(key)
            if target is None:
                mine[key] = found
                continue
            target.now.extend(found.now)
            target.change.extend(found.change)
            target.relative.extend(found.relative)
            target.comparators += found.comparators


def tables(protocol: Protocol, points: LabPoints, n: int) -> list[dict[str, Any]]:
    """Every configured analyte's trajectory, per unit on which it was reported, over n patients."""
    slots = ["baseline", *(t.name for t in protocol.timepoints), EOF_SLOT]
    out = []
    for analyte in protocol.section("labs")["analytes"]:
        units, found = points.get(analyte, (set(), {}))
        for unit in sorted(units):
            rows = [_slot_row(slot, found.get((unit, slot)), n) for slot in slots]
            out.append({"analyte": analyte, "unit": unit or None, "timepoints": rows})
    return out


def trajectories(
    protocol: Protocol, cohort: Sequence[IndexEvent], values: Mapping[Key, PatientValues]
) -> list[dict[str, Any]]:
    """Every configured analyte's trajectory, per unit on which it was reported."""
    return tables(protocol, collect(protocol, cohort, values), len(cohort))

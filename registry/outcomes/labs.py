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


def _slot_row(
    slot: str,
    analyte: str,
    unit: str,
    cohort: Sequence[IndexEvent],
    values: Mapping[Key, PatientValues],
) -> dict[str, Any]:
    """One time point of one analyte's trajectory."""
    now, change, relative, comparators = [], [], [], 0
    for ie in cohort:
        patient = values.get(ie.key)
        value = patient.at(slot).get(analyte) if patient else None
        if value is None or value.unit != unit or value.value is None:
            continue
        now.append(value.value)
        comparators += value.comparator is not None
        base = patient.baseline.get(analyte) if patient else None
        if slot != "baseline" and base is not None and base.unit == unit and base.value is not None:
            change.append(value.value - base.value)
            if base.value:
                relative.append((value.value - base.value) / base.value * 100)
    row = {"timepoint": slot, **stats.describe(now)}
    row["missing"] = len(cohort) - len(now)
    row["comparator_values"] = comparators
    if slot != "baseline":
        row["change_from_baseline"] = stats.describe(change)
        row["percent_change_from_baseline"] = stats.describe(relative, "0.1")
    return row


def trajectories(
    protocol: Protocol, cohort: Sequence[IndexEvent], values: Mapping[Key, PatientValues]
) -> list[dict[str, Any]]:
    """Every configured analyte's trajectory, per unit on which it was reported."""
    slots = ["baseline", *(t.name for t in protocol.timepoints), EOF_SLOT]
    out = []
    for analyte in protocol.section("labs")["analytes"]:
        units = sorted(
            {
                v.unit or ""
                for ie in cohort
                if ie.key in values
                for slot in slots
                if (v := values[ie.key].at(slot).get(analyte)) is not None
            }
        )
        for unit in units:
            rows = [_slot_row(slot, analyte, unit, cohort, values) for slot in slots]
            out.append({"analyte": analyte, "unit": unit or None, "timepoints": rows})
    return out

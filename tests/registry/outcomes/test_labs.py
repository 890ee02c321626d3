"""Laboratory trajectories (issue 3 item 4): n, missing, median, IQR, change from baseline."""

from __future__ import annotations

from datetime import UTC, datetime

from registry.outcomes.labs import trajectories
from registry.outcomes.values import IndexEvent, PatientValues, Source
from tests.registry.outcomes.conftest import val


def _event(pid):
    when = datetime(2024, 3, 1, tzinfo=UTC)
    source = Source("MedicationAdministration", pid, "1", None)
    return IndexEvent("local", pid, "female", when, "second", "administration", 1, source,
                      when, None, 28800)  # fmt: skip


def test_trajectory_per_unit_with_change_from_baseline(protocol):
    """Verify: n/missing out of N, type-7 IQR, change only on the same unit (sCD25 scales apart)."""
    cohort = [_event("a"), _event("b"), _event("c")]
    values = {
        ("local", "a"): PatientValues(baseline={"ferritin": val("ferritin", 1000)},
                                      timepoints={"week_1": {"ferritin": val("ferritin", 400)}}),
        ("local", "b"): PatientValues(baseline={"ferritin": val("ferritin", 3000)},
                                      timepoints={"week_1": {"ferritin": val("ferritin", 1000)}}),
        ("local", "c"): PatientValues(baseline={"sCD25": val("sCD25", 9000, "pg/mL")}),
    }  # fmt: skip
    rows = {(t["analyte"], t["unit"]): t for t in trajectories(protocol, cohort, values)}
    ferritin = {r["timepoint"]: r for r in rows[("ferritin", "ng/mL")]["timepoints"]}
    assert (ferritin["baseline"]["n"], ferritin["baseline"]["missing"]) == (2, 1)
    assert ferritin["week_1"]["median"] == 700.0
    assert ferritin["week_1"]["change_from_baseline"]["median"] == -1300.0  # (-600, -2000)
    assert ferritin["week_1"]["percent_change_from_baseline"]["median"] == -63.3  # (-60, -66.7)
    assert ferritin["week_4"]["n"] == 0
    assert ("sCD25", "pg/mL") in rows

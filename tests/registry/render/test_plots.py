"""Plots: deterministic inline SVG, label-safe, and usable for a cohort of any size."""

from __future__ import annotations

import copy
from datetime import date, timedelta

from registry.render import fmt, plots, swimmer


def test_plots_are_deterministic_inline_svg(example):
    first = plots.all_plots(example)
    assert [p.id for p in first] == ["plot-ferritin", "plot-plt", "plot-swimmer", "plot-steroid"]
    assert [p.svg for p in first] == [p.svg for p in plots.all_plots(example)]
    for plot in first:
        assert plot.svg.startswith('<svg xmlns:xlink="http://www.w3.org/1999/xlink"')
        assert f'id="{plot.id}"' in plot.svg.split(">", 1)[0]
        for absent in ("<?xml", "<!DOCTYPE", "<metadata", "dc:date", "matplotlib.org"):
            assert absent not in plot.svg


def test_patient_labels_are_text_not_math(example):
    """A reference with `$` (math markup for matplotlib) is drawn as it is, escaped."""
    example["patients"][0]["patient_ref"] = "Patient/a$b$<c>"
    plot = plots.trajectory(example, "ferritin", "Ferritin", log=True)
    assert plot is not None
    assert ">a$b$&lt;c&gt;</text>" in plot.svg


def test_steroid_runs_expand_to_one_row_per_day(example):
    """The report stores a course as runs of equal days; the daily table and plot see each day."""
    patient = example["patients"][0]
    runs = patient["steroid"]["daily"]
    days = fmt.daily_doses(patient)
    assert len(days) == sum(r["days"] for r in runs) > len(runs)
    assert [d["study_day"] for d in days] == list(
        range(days[0]["study_day"], days[-1]["study_day"] + 1)
    )
    longest = max(runs, key=lambda r: r["days"])
    covered = [
        d
        for d in days
        if longest["study_day"] <= d["study_day"] < longest["study_day"] + longest["days"]
    ]
    assert {d["mg"] for d in covered} == {longest["mg"]}
    assert covered[-1]["date"] == str(
        date.fromisoformat(longest["date"]) + timedelta(days=longest["days"] - 1)
    )


def test_large_cohort_grey_lines_and_capped_swimmer(example):
    """A pooled registry: no per-patient legend beyond 12 patients; at most 60 swimmer lanes."""
    many = copy.deepcopy(example)
    many["patients"] = [
        {**copy.deepcopy(p), "patient_ref": f"Patient/x{i:03d}"}
        for i, p in enumerate(example["patients"] * 7)
    ]
    plot = plots.trajectory(many, "ferritin", "Ferritin", log=True)
    assert plot is not None
    assert "x000" not in plot.svg
    assert "cohort median" in plot.svg
    lanes = plots.response_swimmer(many)
    assert lanes is not None
    assert f"The first {swimmer.MAX_LANES} of 63 patients are shown." in lanes.caption
    assert "x059" in lanes.svg
    assert "x060" not in lanes.svg


def test_no_patients_no_plots(example):
    empty = {**example, "patients": []}
    assert plots.all_plots(empty) == []

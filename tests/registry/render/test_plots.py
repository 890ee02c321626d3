"""Plots: deterministic inline SVG, label-safe, and usable for a cohort of any size."""

from __future__ import annotations

import copy

from registry.render import plots, swimmer


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


def test_trajectories_from_the_evidence_when_the_report_has_no_patient_labs(example):
    """An older report (no `patients[].labs`) plots the markers of the verdicts' evidence."""
    for patient in example["patients"]:
        del patient["labs"]
    plot = plots.trajectory(example, "PLT", "Platelets", log=False)
    assert plot is not None
    assert "mas-09" in plot.svg


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

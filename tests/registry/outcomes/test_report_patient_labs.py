"""Per-patient lab trajectories in the report (`patients[].labs`), for the plots and listings."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from registry.ingest import ImportOptions, import_paths
from registry.outcomes.protocol import load_protocol
from registry.outcomes.report import build_report
from registry.render.fmt import lab_points

REPO = Path(__file__).resolve().parents[3]
FIXTURE = REPO / "fixtures" / "nine_patients"
SCHEMA = json.loads((REPO / "registry" / "schemas" / "report.schema.json").read_text("utf-8"))


def test_patient_labs_are_the_selected_values_with_study_days(engine):
    """Verify CLINICAL-SPEC 2: the baseline and window values behind the verdicts, per patient.

    mas-01 ferritin (fixtures/nine_patients, the same rows as the cn_hlh_dep evidence): baseline
    2600 ng/mL at 08:10 local on T0's date, T0 09:40, so study day floor(-1.5 h / 24 h) = -1;
    then 820, 180, 150, 140 at days 7, 14, 28, 56 and 120 at end of follow-up (day 120).
    """
    import_paths(engine, [FIXTURE], options=ImportOptions(site="local"))
    with engine.connect() as conn:
        report = build_report(conn, load_protocol())
    jsonschema.validate(json.loads(json.dumps(report)), SCHEMA)
    first = report["patients"][0]
    ferritin = [(p["timepoint"], p["study_day"], p["value"]) for p in lab_points(first, "ferritin")]
    assert ferritin == [
        ("baseline", -1, 2600.0), ("week_1", 7, 820.0), ("week_2", 14, 180.0),
        ("week_4", 28, 150.0), ("week_8", 56, 140.0), ("end_of_follow_up", 120, 120.0),
    ]  # fmt: skip
    assert {p["unit"] for p in lab_points(first, "PLT")} == {"10*9/L"}
    # The same observation as the evidence of the primary rule set's week-1 verdict.
    week1 = first["assessments"]["cn_hlh_dep"][0]
    plt = next(m for m in week1["markers"] if m["marker"] == "PLT")
    assert first["labs"]["PLT"]["week_1"] == plt["value"]
    assert first["observations"][str(plt["value"])]["analyte"] == "PLT"
    # Every observation id the labs and verdicts name is listed, and so is its source.
    named = {i for series in first["labs"].values() for i in series.values()}
    named |= {m[k] for a in week1["markers"] for m in [a] for k in ("baseline", "value") if m[k]}
    assert {str(i) for i in named} <= set(first["observations"])
    for shown in first["observations"].values():
        assert report["sources"][str(shown["source"])]["reference"].startswith("Observation/")
    # Every patient has a per-patient ferritin series; nobody has an empty analyte list.
    assert all(p["labs"]["ferritin"] for p in report["patients"])
    assert all(points for p in report["patients"] for points in p["labs"].values())

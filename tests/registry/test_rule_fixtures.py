"""The rule fixtures import with exactly the results their READMEs hand-work.

fixtures/rules/*/README.md; on SQLite and PostgreSQL.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest
from sqlalchemy import select

from registry import tables
from registry.ingest import ImportOptions, import_paths
from tests.registry.snapshot import snapshot

RULES = Path(__file__).resolve().parents[2] / "fixtures" / "rules"
BUCKETS = ("loaded", "updated", "unchanged", "quarantined", "skipped")


def _import(engine, *paths: Path, validate: str = "off") -> dict:
    summary = import_paths(
        engine, list(paths), options=ImportOptions(site="rules", validate=validate)
    ).summary()
    assert summary["read"] == sum(summary[b] for b in BUCKETS)
    return summary


def _observations(engine) -> dict[str, object]:
    obs, sr = tables.OBSERVATION, tables.SOURCE_RECORD
    stmt = (
        select(sr.c.resource_id, obs)
        .join(sr, sr.c.id == obs.c.source_record_id)
        .where(obs.c.derivation.is_(None))
    )
    with engine.connect() as conn:
        return {row.resource_id: row for row in conn.execute(stmt)}


def _quarantined(engine) -> dict[str, str]:
    with engine.connect() as conn:
        return {
            r.resource_id or r.locator: r.reason_code
            for r in conn.execute(select(tables.QUARANTINE))
        }


def test_units_alternative(engine):
    """Verify every alternative unit of 6.4 converts exactly (README table, 8.7 vectors)."""
    summary = _import(engine, RULES / "units_alternative")
    assert (summary["read"], summary["loaded"], summary["quarantined"]) == (16, 16, 0)
    rows = _observations(engine)
    expected = {
        "ua-tg-mgdl": (Fraction(265) * Fraction(1129, 100000), "mmol/L"),
        "ua-tg-fasting-mgdl": (Fraction(156) * Fraction(1129, 100000), "mmol/L"),
        "ua-fib-mgdl": (Fraction(3, 2), "g/L"),
        "ua-fib-umol": (Fraction(441, 100) * Fraction(50, 147), "g/L"),
        "ua-hb-gdl": (Fraction(90), "g/L"),
        "ua-plt-10e3ul": (Fraction(100), "10*9/L"),
        "ua-plt-per-ul": (Fraction(150), "10*9/L"),
        "ua-anc-10e3mm3": (Fraction(8, 5), "10*9/L"),
        "ua-alt-ukat": (Fraction(45), "U/L"),
        "ua-crp-mgdl": (Fraction(15), "mg/L"),
        "ua-ddimer-ugml": (Fraction(6, 5), "mg/L"),
        "ua-temp-degf": (Fraction(77, 2), "Cel"),
        "ua-weight-lb": (Fraction(154) * Fraction(45359237, 10**8), "kg"),
    }
    for rid, (value, unit) in expected.items():
        assert (rows[rid].value, rows[rid].unit) == (
            pytest.approx(float(value), rel=1e-12),
            unit,
        ), rid
        assert rows[rid].value_original is not None
        assert rows[rid].unit_original is not None


def test_units_text_only(engine):
    summary = _import(engine, RULES / "units_text_only")
    assert (summary["read"], summary["loaded"], summary["quarantined"]) == (9, 9, 0)
    rows = _observations(engine)
    assert {
        rid: rows[rid].unit for rid in ("ut-wbc-times", "ut-wbc-caret", "ut-plt-e9", "ut-anc-gl")
    } == dict.fromkeys(("ut-wbc-times", "ut-wbc-caret", "ut-plt-e9", "ut-anc-gl"), "10*9/L")
    assert rows["ut-wbc-times"].unit_original == "×10^9/L"
    assert rows["ut-tg-mgdl-lower"].value == pytest.approx(2.258)  # 200 x 0.01129
    assert rows["ut-hb-gdl-lower"].value == pytest.approx(105.0)


def test_units_bad(engine):
    summary = _import(engine, RULES / "units_bad")
    assert (summary["read"], summary["loaded"], summary["quarantined"]) == (15, 10, 5)
    assert {k: v for k, v in _quarantined(engine).items()} == {
        "ub-ferritin-unknown-text": "unknown-unit",
        "ub-ferritin-wrong-dimension": "unknown-unit",
        "ub-ddimer-feu-code-ddu-unit": "non-convertible-unit",
        "ub-cmv-iu-code-copies-unit": "non-convertible-unit",
        "ub-cmv-copies-code-iu-unit": "non-convertible-unit",
    }
    rows = _observations(engine)
    assert (rows["ub-scd25-d000-pgml"].unit, rows["ub-scd25-d007-uml"].unit) == ("pg/mL", "[U]/mL")
    assert rows["ub-ddimer-ddu-ok"].analyte == "D-dimer_DDU"


def test_r5_shapes(engine):
    summary = _import(engine, RULES / "r5_shapes", validate="full")
    assert (summary["read"], summary["loaded"], summary["quarantined"]) == (9, 9, 0)
    with engine.connect() as conn:
        versions = set(conn.scalars(select(tables.SOURCE_RECORD.c.fhir_version)))
        ma = {r.id: r for r in conn.execute(select(tables.MEDICATION_ADMINISTRATION))}
        aes = {r.term_code: r for r in conn.execute(select(tables.ADVERSE_EVENT))}
        criteria = set(conn.scalars(select(tables.ADVERSE_EVENT_CRITERION.c.criterion)))
    assert versions == {"R5"}
    assert sorted((r.ingredient, r.prednisone_eq_mg) for r in ma.values()) == [
        ("emapalumab", None),
        ("methylprednisolone", 50.0),
        ("methylprednisolone", 50.0),
    ]
    cmv, pneumonia = aes["28944009"], aes["233604007"]
    assert (cmv.infection_organism, cmv.is_serious, cmv.severity, cmv.ctcae_grade) == (
        "CMV",
        False,
        "moderate",
        2,
    )
    assert (pneumonia.is_serious, pneumonia.ctcae_grade, pneumonia.severity) == (True, 3, "severe")
    assert criteria == {"hospitalization"}


def test_medications(engine):
    summary = _import(engine, RULES / "medications")
    assert (summary["read"], summary["loaded"], summary["quarantined"]) == (19, 17, 2)
    assert {k: v for k, v in _quarantined(engine).items()} == {
        "med-ma-missing-med": "missing-medication",
        "med-ma-ema-mgkg-noweight": "no-body-weight",
    }
    ma, sr = tables.MEDICATION_ADMINISTRATION, tables.SOURCE_RECORD
    with engine.connect() as conn:
        rows = {
            r.resource_id: r
            for r in conn.execute(select(sr.c.resource_id, ma).join(sr, sr.c.id == ma.c.id))
        }
    got = {
        rid: (r.ingredient, r.ingredient_match, r.route_class, r.dose_mg, r.prednisone_eq_mg)
        for rid, r in rows.items()
    }
    assert got["med-ma-mp-concept"] == ("methylprednisolone", "rxnorm_in", "systemic", 40.0, 50.0)
    assert got["med-ma-dex-contained"][:2] == ("dexamethasone", "rxnorm_in")
    assert got["med-ma-dex-contained"][4] == pytest.approx(200 / 3)
    assert got["med-ma-prednisolone-ref"] == ("prednisolone", "rxnorm_in", "systemic", 20.0, 20.0)
    assert got["med-ma-zh-brand"][:2] == ("methylprednisolone", "name")
    assert got["med-ma-zh-dex"][4] == pytest.approx(100 / 3)
    assert got["med-ma-ema-mgkg-weight"][:4] == ("emapalumab", "atc", "systemic", 70.0)
    assert got["med-ma-ia-triamcinolone"][2] == "intra-articular"
    assert got["med-ma-topical-hydrocortisone"][2] == "excluded"
    assert rows["med-ma-dex-contained"].medication_source == "contained"
    assert rows["med-ma-prednisolone-ref"].medication_source == "reference"


def test_versions_any_order_same_state_and_deletion(engine):
    """Verify item 5: v1, v2, v3 in any order end at v3; an old copy never overwrites it."""
    base = RULES / "versions"
    _import(engine, base / "Patient.ndjson", base / "MedicationRequest.ndjson")
    counts = [_import(engine, base / v)["updated"] for v in ("v1", "v2", "v3")]
    assert counts == [0, 1, 1]
    again = _import(engine, base / "v1")
    assert (again["unchanged"], again["updated"]) == (3, 0)
    rows = _observations(engine)
    current = rows["ver-obs-ferritin"]
    assert (current.status, current.value) == ("corrected", 1260.0)
    assert rows["ver-obs-eie"].exclusion == "entered-in-error"
    with engine.connect() as conn:
        history = sorted(
            conn.scalars(
                select(tables.HISTORY.c.version_id).where(
                    tables.HISTORY.c.resource_id == "ver-obs-ferritin"
                )
            )
        )
        orders = dict(
            conn.execute(
                select(tables.MEDICATION_ORDER.c.status, tables.MEDICATION_ORDER.c.exclusion)
            ).all()
        )
    assert history == ["1", "2"]
    assert orders == {"active": None, "cancelled": "cancelled"}
    deleted = _import(engine, base / "deleted")
    assert deleted["deletions"] == {"applied": 1}
    assert _observations(engine)["ver-obs-todelete"].exclusion == "deleted"


def test_versions_reverse_order_converges(engine, tmp_path):
    base = RULES / "versions"
    for part in ("Patient.ndjson", "MedicationRequest.ndjson", "v3", "v1", "v2"):
        _import(engine, base / part)
    rows = _observations(engine)
    assert (rows["ver-obs-ferritin"].status, rows["ver-obs-ferritin"].value) == (
        "corrected",
        1260.0,
    )


def test_chinese_displays(engine):
    summary = _import(engine, RULES / "chinese_displays")
    assert (summary["read"], summary["loaded"], summary["quarantined"]) == (14, 14, 0)
    rows = _observations(engine)
    analytes = {rid: (r.analyte, r.analyte_match, r.patient_source_id) for rid, r in rows.items()}
    assert analytes["zh-obs-ferritin"] == ("ferritin", "text", "zh-p1")
    assert analytes["zh-obs-sil2r"][:2] == ("sCD25", "text")
    assert analytes["zh-obs-local-display"][:2] == ("ferritin", "text")
    assert analytes["zh-obs-uric-acid"][0] is None
    with engine.connect() as conn:
        conditions = {r.concept for r in conn.execute(select(tables.CONDITION))}
    assert {"AOSD", "SLE", "CMV"} <= conditions


def test_broken(engine):
    summary = _import(engine, RULES / "broken")
    assert (summary["read"], summary["loaded"], summary["quarantined"]) == (12, 4, 8)
    reasons = _quarantined(engine)
    assert reasons["brk-obs-missing-patient"] == "missing-patient"
    assert (reasons["brk-dup-a"], reasons["brk-dup-b"]) == (
        "conflicting-duplicate",
        "conflicting-duplicate",
    )
    assert reasons["brk-obs-status-bogus"] == "invalid-value"
    assert reasons["brk-obs-no-code"] == "missing-element"
    assert reasons["brk-obs-bad-date"] == "invalid-value"
    rows = _observations(engine)
    assert sorted(r.exclusion or "" for rid, r in rows.items() if rid.startswith("brk-same")) == [
        "",
        "duplicate",
    ]


def test_panels_derive_two_anc_values(engine):
    summary = _import(engine, RULES / "panels")
    assert (summary["read"], summary["loaded"], summary["skipped"], summary["quarantined"]) == (
        14,
        13,
        1,
        0,
    )
    obs = tables.OBSERVATION
    with engine.connect() as conn:
        derived = sorted(conn.scalars(select(obs.c.value).where(obs.c.derivation.is_not(None))))
    assert derived == [pytest.approx(0.6), pytest.approx(3.1)]  # 2.4 x 25/100, 5.0 x 62/100 (6.4)
    before = snapshot(engine)
    _import(engine, RULES / "panels")
    assert snapshot(engine) == before


def test_seriousness(engine):
    summary = _import(engine, RULES / "seriousness")
    assert (summary["read"], summary["loaded"], summary["quarantined"]) == (16, 16, 0)
    ae, sr = tables.ADVERSE_EVENT, tables.SOURCE_RECORD
    with engine.connect() as conn:
        rows = {
            r.resource_id: r
            for r in conn.execute(select(sr.c.resource_id, ae).join(sr, sr.c.id == ae.c.id))
        }
    assert rows["ser-ae-serious-tho"].is_serious is True
    assert rows["ser-ae-nonserious-r4"].is_serious is False
    assert rows["ser-ae-grade4"].ctcae_grade == 4
    assert rows["ser-ae-outcome-fatal"].outcome == "fatal"
    assert rows["ser-ae-potential"].actuality == "potential"
    assert rows["ser-ae-unstated"].is_serious is None

"""CSV: one file per table or one long CSV with a `table` column; formulas neutralised."""

from __future__ import annotations

import csv
import io

import pytest

from registry.render.csv import TABLE_NAMES, render_csv, safe_cell, write_csv_folder
from tests.registry.render.conftest import FORMULA, SCRIPT


def _rows(text):
    return list(csv.DictReader(io.StringIO(text, newline="")))


def paper_numbers(rows):
    """The paper's numbers from the one-file CSV rows (issue 3 "Done when")."""
    response = [r for r in rows if r["table"] == "response" and r["primary"] == "true"]
    orr = [(r["timepoint"], r["orr_count"], r["orr_n"]) for r in response if r["orr_count"]]
    eof = next(r for r in response if r["timepoint"] == "end_of_follow_up")
    steroids = {r["measure"]: r["value"] for r in rows if r["table"] == "steroids"}
    cmv = next(r for r in rows if r["table"] == "infections" and r["organism"] == "CMV")
    sae = next(r for r in rows if r["term"] == "any serious adverse event")
    return {
        "orr": orr,
        "cr_eof": (eof["cr_rate_count"], eof["cr_rate_n"]),
        "reduction": steroids["median_individual_reduction"],
        "cmv": (cmv["patients_count"], cmv["patients_n"], cmv["patients_percent"]),
        "sae": (sae["patients"], sae["events"]),
    }


PAPER = {
    "orr": [("week_1", "6", "9"), ("week_2", "7", "9"), ("week_4", "8", "9"), ("week_8", "8", "9")],
    "cr_eof": ("8", "9"),
    "reduction": "85.5",
    "cmv": ("3", "9", "33.3"),
    "sae": ("0", "0"),
}


def test_one_file_has_every_table_and_the_papers_numbers(example):
    """Verify issue 3: ORR 6/9, 7/9, 8/9, 8/9; CR 8/9; 85.5 %; CMV 3/9 (33.3 %); SAE 0."""
    text = render_csv(example)
    lines = list(csv.reader(io.StringIO(text, newline="")))
    assert lines[0][0] == "table"
    assert {len(line) for line in lines} == {len(lines[0])}  # rectangular
    rows = _rows(text)
    assert list(dict.fromkeys(r["table"] for r in rows)) == list(TABLE_NAMES)
    assert paper_numbers(rows) == PAPER
    report = {r["key"]: r["value"] for r in rows if r["table"] == "report"}
    assert (report["protocol_name"], report["protocol_rule_set"]) == (
        "emapalumab-mas",
        "cn_hlh_dep",
    )
    assert {r["protocol"] for r in rows if r["table"] != "report"} == {"emapalumab-mas 1.0.0"}
    assert text.endswith("\r\n")


def test_folder_has_one_file_per_table(example, tmp_path):
    written = write_csv_folder(example, tmp_path / "out")
    assert [p.name for p in written] == [f"{name}.csv" for name in TABLE_NAMES]
    patients = _rows(written[TABLE_NAMES.index("patients")].read_text("utf-8"))
    assert [p["patient_ref"] for p in patients][:2] == ["Patient/mas-01", "Patient/mas-02"]
    assert patients[0]["response_week_1"] == "PR"
    labs = _rows((tmp_path / "out" / "patient_labs.csv").read_text("utf-8"))
    first = [(r["timepoint"], r["study_day"], r["value"]) for r in labs
             if r["patient_ref"] == "Patient/mas-01" and r["analyte"] == "ferritin"]  # fmt: skip
    assert first[0] == ("baseline", "-1", "2600.0")
    daily = _rows((tmp_path / "out" / "steroid_daily.csv").read_text("utf-8"))
    assert len(daily) == sum(r["days"] for p in example["patients"] for r in p["steroid"]["daily"])


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"), ("@A1", "'@A1"),
        ("\tx", "'\tx"), ("\rx", "'\rx"), ("\nx", "'\nx"), ("\uff1d1", "'\uff1d1"),
        ("a=1", "a=1"), (-2700.0, "-2700.0"), (3, "3"), (None, ""), (False, "false"),
    ],
    ids=["equals", "plus", "minus-text", "at", "tab", "cr", "lf", "fullwidth-equals",
         "inner-equals", "negative-number", "int", "none", "bool"],
)  # fmt: skip
def test_safe_cell(value, expected):
    assert safe_cell(value) == expected


def test_formula_injection_neutralised_everywhere(hostile):
    """A patient ref or AE term starting with =, +, -, @, tab, CR never reaches a cell as is."""
    rows = list(csv.reader(io.StringIO(render_csv(hostile), newline="")))
    cells = [c for row in rows for c in row]
    assert "'" + FORMULA in cells
    assert FORMULA not in cells
    for term in ("@SUM(A1)", "-2+3", "\tHYPERLINK", "\rcmd", "\uff1d1+1", "+AOSD", "=site"):
        assert "'" + term in cells
        assert term not in cells
    assert SCRIPT in cells  # markup is harmless in CSV: kept as text
    risky = [c for c in cells if c and c[0] in "=+@\t\r\uff1d"]
    assert risky == []
    negatives = [c for c in cells if c.startswith("-")]
    assert negatives  # changes from baseline stay numbers, not text
    assert all(float(c) < 0 for c in negatives)

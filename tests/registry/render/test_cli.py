"""`masreg report` and `masreg demo` in every format, from a real registry (issue 3 items 8-9)."""

from __future__ import annotations

import csv
import io
import json

import pytest
from click.testing import CliRunner

from registry.cli import main
from registry.render import render
from tests.factories import meta, observation, patient, write_ndjson
from tests.registry.outcomes.conftest import ema
from tests.registry.render import test_csv, test_html, test_markdown

FORMULA_TERM = '=HYPERLINK("x") <script>alert(1)</script>'


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory):
    """The nine-patient demo's report, computed once by `masreg demo --format json`."""
    out = tmp_path_factory.mktemp("demo") / "demo.json"
    result = CliRunner().invoke(main, ["demo", "--format", "json", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return json.loads(out.read_text("utf-8"))


def test_demo_html_out(tmp_path):
    """`masreg demo --format html --out x.html` writes the self-contained report."""
    out = tmp_path / "x.html"
    result = CliRunner().invoke(main, ["demo", "--format", "html", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert f"report written to {out}" in result.stderr
    text = out.read_text("utf-8")
    test_html.assert_paper_numbers(text)
    assert text.count("<svg") == 4


@pytest.mark.parametrize("fmt", ["csv", "markdown", "html", "table"], ids=str)
def test_demo_papers_numbers_in_every_format(demo_report, fmt):
    """Verify issue 3: ORR 6/9, 7/9, 8/9, 8/9; CR 8/9; 85.5 %; CMV 3/9 (33.3 %); SAE 0."""
    text = render(demo_report, fmt)
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(text, newline="")))
        assert test_csv.paper_numbers(rows) == test_csv.PAPER
    elif fmt == "markdown":
        test_markdown.assert_paper_numbers(test_markdown.paper_lines(text))
    elif fmt == "html":
        test_html.assert_paper_numbers(text)
    else:
        for shown in ("6/9 (66.7%", "7/9 (77.8%", "8/9 (88.9%", "85.5%", "3/9 (33.3%",
                      "serious: 0 events"):  # fmt: skip
            assert shown in text


def _registry(db_url, tmp_path):
    """One patient with a T0, a ferritin, and an adverse event whose term looks like a formula."""
    event = {
        "resourceType": "AdverseEvent", "id": "ae1", "meta": meta(), "actuality": "actual",
        "event": {"text": FORMULA_TERM}, "subject": {"reference": "Patient/p1"},
        "date": "2024-03-05T10:00:00+08:00",
    }  # fmt: skip
    resources = [
        patient(),
        ema("e1", "2024-03-01T10:00:00+08:00"),
        observation("o1", when="2024-03-01T08:00:00+08:00"),
        observation("o2", value=600, when="2024-03-08T08:00:00+08:00"),
        event,
    ]
    write_ndjson(tmp_path / "in" / "a.ndjson", resources)
    result = CliRunner().invoke(main, ["import", str(tmp_path / "in"), "--db", db_url])
    assert result.exit_code == 0, result.output


def _report(db_url, *args):
    result = CliRunner().invoke(main, ["report", "--db", db_url, *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_report_formats_from_a_real_registry(db_url, tmp_path):
    _registry(db_url, tmp_path)
    rows = list(csv.DictReader(io.StringIO(_report(db_url, "--format", "csv"), newline="")))
    terms = [r["term"] for r in rows if r["table"] == "adverse_events"]
    assert terms[0] == "'" + FORMULA_TERM
    assert next(r for r in rows if r["table"] == "response")["n"] == "1"
    markdown = _report(db_url, "--format", "markdown")
    assert "\\<script\\>" in markdown
    assert "| Week 1 | 7 (5-9) |" in markdown
    html = _report(db_url, "--format", "html")
    assert "<script>" not in html
    assert "=HYPERLINK(&quot;x&quot;) &lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<dt>Cohort</dt><dd>N = 1 (" in html
    assert 'id="plot-ferritin"' in html


def test_report_csv_folder_and_refusals(db_url, tmp_path):
    _registry(db_url, tmp_path)
    folder = tmp_path / "tables"
    result = CliRunner().invoke(
        main, ["report", "--db", db_url, "--format", "csv", "--out", f"{folder}/"]
    )
    assert result.exit_code == 0, result.output
    assert "report written to 10 CSV files" in result.stderr
    assert (folder / "response.csv").read_text("utf-8").startswith("protocol,rule_set,primary,")
    refused = CliRunner().invoke(
        main, ["report", "--db", db_url, "--format", "html", "--out", str(folder)]
    )
    assert refused.exit_code == 2
    assert "only --format csv writes to one" in refused.stderr
    missing = tmp_path / "no" / "such" / "report.md"
    unwritable = CliRunner().invoke(
        main, ["report", "--db", db_url, "--format", "markdown", "--out", str(missing)]
    )
    assert unwritable.exit_code == 2
    assert "cannot write --out" in unwritable.stderr


def test_report_of_an_empty_selection_renders(db_url, tmp_path):
    """No patient at the selected site: every format still renders (no plots, N = 0)."""
    _registry(db_url, tmp_path)
    for fmt in ("csv", "markdown", "html"):
        text = _report(db_url, "--format", fmt, "--site", "elsewhere")
        assert text
    html = _report(db_url, "--format", "html", "--site", "elsewhere")
    assert "<svg" not in html
    assert "N = 0" in html

"""Markdown: GitHub pipe tables with the paper's numbers; cell text escaped."""

from __future__ import annotations

from registry.render.markdown import escape, render_markdown
from tests.registry.render.conftest import SCRIPT


def _row(text, first_cell):
    return next(line for line in text.splitlines() if line.startswith(f"| {first_cell} |"))


def paper_lines(text):
    """The lines of the Markdown report that carry the paper's numbers."""
    return {
        "week_1": _row(text, "Week 1"),
        "week_2": _row(text, "Week 2"),
        "week_4": _row(text, "Week 4"),
        "week_8": _row(text, "Week 8"),
        "cr_eof": _row(text, "End of follow-up"),
        "reduction": _row(text, "Median of individual reductions"),
        "cmv": _row(text, "CMV"),
        "sae": _row(text, "Any serious adverse event"),
    }


def assert_paper_numbers(lines):
    """Verify issue 3: ORR 6/9, 7/9, 8/9, 8/9; CR 8/9; 85.5 %; CMV 3/9 (33.3 %); SAE 0."""
    assert "| 6/9 (66.7%, 95% CI 29.9-92.5) |" in lines["week_1"]
    assert "| 7/9 (77.8%, 95% CI 40.0-97.2) |" in lines["week_2"]
    assert "| 8/9 (88.9%, 95% CI 51.8-99.7) |" in lines["week_4"]
    assert "| 8/9 (88.9%, 95% CI 51.8-99.7) |" in lines["week_8"]
    assert "| 8/9 (88.9%, 95% CI 51.8-99.7) |" in lines["cr_eof"]
    assert "| 85.5% |" in lines["reduction"]
    assert "| 3/9 (33.3%, 95% CI 7.5-70.1) |" in lines["cmv"]
    assert lines["sae"] == "| Any serious adverse event | 0 | 0 |  |"


def test_markdown_has_the_papers_numbers_and_names_the_protocol(example):
    text = render_markdown(example)
    assert text.startswith("# Study report: emapalumab-mas 1.0.0\n")
    assert "- **Response rule set:** cn\\_hlh\\_dep v1" not in text  # intraword _ left alone
    assert "- **Response rule set:** cn_hlh_dep v1" in text
    assert_paper_numbers(paper_lines(text))


def test_every_table_row_has_the_header_width(example):
    lines = render_markdown(example).splitlines()
    width = None
    for line in lines:
        if not line.startswith("|"):
            width = None
            continue
        cells = line.replace("\\|", "").count("|")
        width = width or cells
        assert cells == width, line


def test_markup_and_pipes_escaped(hostile):
    hostile["adverse_events"]["by_term"][1]["term"] = "a | b"
    text = render_markdown(hostile)
    assert SCRIPT not in text
    assert "\\<script\\>alert(1)\\</script\\>" in text
    assert "| a \\| b |" in text


def test_escape_flattens_line_breaks():
    assert escape("two\nlines\r\there") == "two lines here"

"""HTML: one self-contained, escaped, deterministic file with the tables and the plots."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from registry.render.html import render_html
from tests.registry.render.conftest import SCRIPT

EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", re.IGNORECASE)


class _Tags(HTMLParser):
    """Collects start tags and their attributes."""

    def __init__(self):
        super().__init__()
        self.tags = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def _tags(text):
    parser = _Tags()
    parser.feed(text)
    return parser.tags


def assert_paper_numbers(text):
    """Verify issue 3: ORR 6/9, 7/9, 8/9, 8/9; CR 8/9; 85.5 %; CMV 3/9 (33.3 %); SAE 0."""
    for week, shown in (
        ("1", "6/9 (66.7%, 95% CI 29.9-92.5)"), ("2", "7/9 (77.8%, 95% CI 40.0-97.2)"),
        ("4", "8/9 (88.9%, 95% CI 51.8-99.7)"), ("8", "8/9 (88.9%, 95% CI 51.8-99.7)"),
    ):  # fmt: skip
        assert f"<dt>Overall response, week {week}</dt><dd>{shown}</dd>" in text
    assert (
        "<dt>Complete remission at end of follow-up</dt><dd>8/9 (88.9%, 95% CI 51.8-99.7)</dd>"
        in text
    )
    assert "<dd>85.5% (reduction of medians 82.5%)</dd>" in text
    assert "<dt>CMV infection after T0</dt><dd>3/9 (33.3%, 95% CI 7.5-70.1)</dd>" in text
    assert "<dt>Serious adverse events</dt><dd>0 events in 0 patients</dd>" in text


def test_html_has_protocol_tables_plots_and_the_papers_numbers(example):
    text = render_html(example)
    assert text.startswith("<!DOCTYPE html>")
    assert "<dt>Protocol</dt><dd>emapalumab-mas 1.0.0 (builtin:emapalumab-mas" in text
    assert "<dt>Response rule set</dt><dd>cn_hlh_dep v1</dd>" in text
    assert "<dt>Baseline rule</dt><dd>latest_within_lookback: latest valid value &lt;= T0" in text
    assert "week_1 day 7 (5-9)" in text
    assert_paper_numbers(text)
    ids = [attrs.get("id") for tag, attrs in _tags(text) if tag == "svg"]
    assert ids == ["plot-swimmer", "plot-steroid", "plot-ferritin", "plot-plt"]
    sections = [attrs.get("id") for tag, attrs in _tags(text) if tag == "section"]
    assert sections[:4] == ["summary", "response", "alternatives", "plot-swimmer"]
    assert '<td class="st st-PR">PR</td>' in text  # the case table's status cells


def test_html_is_self_contained(example):
    """No external CSS, scripts, fonts or images: nothing fetched when the file is opened."""
    text = render_html(example)
    assert not EXTERNAL.search(text)
    tags = _tags(text)
    assert not [t for t, _a in tags if t in ("script", "link", "img", "iframe", "object")]
    assert "@import" not in text
    assert re.findall(r"url\((.)", text) == ["#"] * text.count("url(")  # SVG clip paths only
    assert not [a for _t, attrs in tags for a in attrs if a.startswith("on")]  # no handlers
    hrefs = [v for _t, attrs in tags for k, v in attrs.items() if k in ("href", "xlink:href")]
    assert hrefs
    assert all(v.startswith("#") for v in hrefs)  # table of contents, SVG <use>


def test_html_escapes_every_text_value(hostile):
    text = render_html(hostile)
    assert SCRIPT not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert not [t for t, _a in _tags(text) if t == "script"]


def test_html_is_deterministic(example):
    """Two renders of one report are the same bytes (no timestamps, fixed SVG hash salt)."""
    assert render_html(example) == render_html(example)

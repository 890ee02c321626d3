"""Renderers of the study report (issue 3 item 8): CSV, Markdown, self-contained HTML, plots.

Each renderer works from the JSON report dict of `registry.outcomes.report.build_report` only (the
shape of `registry/schemas/report.schema.json`), so it renders any registry's report, a pooled one
too, and a report read back from a JSON file.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

TEXT_FORMATS = ("table", "json", "csv", "markdown", "html")


def render_json(report: Mapping[str, Any], *, compact: bool = False) -> bytes:
    """The JSON report as UTF-8 bytes, indented by two spaces (`compact`: on one line).

    orjson: the standard library's encoder runs in Python when it indents, 18 s for the report
    of 10,000 patients where orjson takes half a second. Keys that are not text (none are
    expected) are written as text, as the standard library would. Compact is about half the
    size of indented (10,000 patients: 284 against 537 MB).
    """
    import orjson

    option = orjson.OPT_NON_STR_KEYS | (0 if compact else orjson.OPT_INDENT_2)
    return orjson.dumps(report, option=option) + b"\n"


def render(report: Mapping[str, Any], fmt: str) -> str:
    """The report as text in one of `TEXT_FORMATS` (CSV: the one-file layout).

    Renderers are imported on use, so the table and JSON formats never load matplotlib.
    """
    if fmt == "table":
        from registry.outcomes.table import render_table

        return render_table(report)
    if fmt == "json":
        return render_json(report).decode("utf-8")
    if fmt == "csv":
        from registry.render.csv import render_csv

        return render_csv(report)
    if fmt == "markdown":
        from registry.render.markdown import render_markdown

        return render_markdown(report)
    if fmt == "html":
        from registry.render.html import render_html

        return render_html(report)
    raise ValueError(f"unknown report format {fmt!r}")

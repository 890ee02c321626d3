"""Renderers of the study report (issue 3 item 8): CSV, Markdown, self-contained HTML, plots.

Each renderer works from the JSON report dict of `registry.outcomes.report.build_report` only (the
shape of `registry/schemas/report.schema.json`), so it renders any registry's report, a pooled one
too, and a report read back from a JSON file.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

TEXT_FORMATS = ("table", "json", "csv", "markdown", "html")


def render(report: Mapping[str, Any], fmt: str) -> str:
    """The report as text in one of `TEXT_FORMATS` (CSV: the one-file layout).

    Renderers are imported on use, so the table and JSON formats never load matplotlib.
    """
    if fmt == "table":
        from registry.outcomes.table import render_table

        return render_table(report)
    if fmt == "json":
        import json

        return json.dumps(report, indent=1) + "\n"
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

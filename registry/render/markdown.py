"""The report as GitHub-flavoured Markdown: the protocol facts, then one pipe table per section."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from registry.render.display import DisplayTable, protocol_facts
from registry.render.sections import sections

# Characters with a meaning in a GFM table cell; `_` only at a word edge (GFM ignores intraword).
_SPECIAL = re.compile(r"([\\|*`\[\]<>~]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9]))")


def escape(text: str) -> str:
    r"""A cell's text with Markdown syntax escaped and line breaks flattened.

    >>> escape("a|b <script> week_1 _x_")
    'a\\|b \\<script\\> week_1 \\_x\\_'
    """
    return _SPECIAL.sub(r"\\\1", " ".join(text.split()))


def table(t: DisplayTable) -> list[str]:
    """One section: a heading, the pipe table, and its note."""
    rule = ["---:" if i in t.numeric else "---" for i in range(len(t.headers))]
    lines = [f"## {escape(t.title)}", ""]
    lines += [
        "| " + " | ".join(escape(h) for h in t.headers) + " |",
        "| " + " | ".join(rule) + " |",
    ]
    lines += ["| " + " | ".join(escape(c) for c in row) + " |" for row in t.rows]
    if t.note:
        lines += ["", escape(t.note)]
    return [*lines, ""]


def render_markdown(report: Mapping[str, Any]) -> str:
    """The whole report as one Markdown document."""
    proto = report["protocol"]
    lines = [f"# Study report: {escape(proto['name'])} {escape(proto['version'])}", ""]
    lines += [f"- **{label}:** {escape(value)}" for label, value in protocol_facts(report)]
    lines.append("")
    for section in sections(report):
        lines += table(section)
    return "\n".join(lines)

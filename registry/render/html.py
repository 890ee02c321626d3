"""The report as one self-contained HTML file a clinician can open, print or attach.

No external CSS, JavaScript, fonts or images: the style sheet is inline and the plots are inline
SVG. Every text value from the report is HTML-escaped. The file carries no timestamp, so the
same report renders to the same bytes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from registry.render import plots
from registry.render.display import DisplayTable, protocol_facts
from registry.render.fmt import STATUSES, num, prop, slot_label
from registry.render.sections import sections
from registry.render.style import CSS

# Document order: tables (by key) and plots (by id) interleaved as a clinician reads them.
ORDER = (
    "response", "alternatives", "plot-swimmer", "patients", "steroids", "plot-steroid",
    "infections", "adverse_events", "event_listing", "plot-ferritin", "plot-plt", "labs",
    "labs_change",
)  # fmt: skip


def _cell(text: str, tag: str = "td", numeric: bool = False, wrap: bool = False) -> str:
    classes = []
    if text in STATUSES:
        classes.append(f"st st-{text}")
    if numeric:
        classes.append("num")
    if wrap:
        classes.append("wrap")
    attr = f' class="{" ".join(classes)}"' if classes else ""
    return f"<{tag}{attr}>{escape(text)}</{tag}>"


def table(t: DisplayTable) -> str:
    """One section: heading, the table (scrollable when wide), its note."""
    head = "".join(_cell(h, "th", i in t.numeric) for i, h in enumerate(t.headers))
    body = "\n".join(
        "<tr>"
        + "".join(_cell(c, numeric=i in t.numeric, wrap=i in t.wrap) for i, c in enumerate(row))
        + "</tr>"
        for row in t.rows
    )
    note = f'<p class="note">{escape(t.note)}</p>' if t.note else ""
    return (
        f'<section id="{escape(t.key)}">\n<h2>{escape(t.title)}</h2>\n'
        f'<div class="scroll"><table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n'
        f"</tbody></table></div>\n{note}\n</section>"
    )


def figure(plot: plots.Plot) -> str:
    """One plot: heading, the inline SVG, the caption."""
    return (
        f'<section id="{escape(plot.id)}" class="plot">\n<h2>{escape(plot.title)}</h2>\n'
        f"<figure>\n{plot.svg}<figcaption>{escape(plot.caption)}</figcaption>\n</figure>\n"
        "</section>"
    )


def headline(report: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The paper's abstract numbers: response by time point, remission, steroids, safety."""
    items = [
        (f"Overall response, {slot_label(r['timepoint']).lower()}", prop(r["orr"]))
        for r in report["response"]
    ]
    items.append(
        ("Complete remission at end of follow-up", prop(report["remission_end_of_follow_up"]))
    )
    s = report["steroids"]
    items.append(
        ("Prednisone-equivalent dose, median of individual reductions",
         f"{num(s['median_individual_reduction_percent'], '%')} (reduction of medians "
         f"{num(s['reduction_of_medians_percent'], '%')})")
    )  # fmt: skip
    items += [
        (f"{r['organism']} infection after T0", prop(r, "patients"))
        for r in report["infections"]
        if r["patients"]
    ]
    sae = report["serious_adverse_events"]
    items.append(
        ("Serious adverse events", f"{sae['events']} events in {sae['patients']} patients")
    )
    return items


def _pairs(items: Sequence[tuple[str, str]], cls: str) -> str:
    rows = "\n".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in items)
    return f'<dl class="{cls}">\n{rows}\n</dl>'


def _toc(parts: Sequence[tuple[str, str, str]]) -> str:
    links = "".join(
        f'<li><a href="#{escape(key)}">{escape(title)}</a></li>' for key, title, _h in parts
    )
    return f"<nav><h2>Contents</h2><ol>{links}</ol></nav>"


def _parts(report: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(anchor, title, html) of every table and plot, in `ORDER` (unknown keys last)."""
    found: dict[str, tuple[str, str, str]] = {}
    for t in sections(report):
        found[t.key] = (t.key, t.title, table(t))
    for p in plots.all_plots(report):
        found[p.id] = (p.id, p.title, figure(p))
    rank = {key: i for i, key in enumerate(ORDER)}
    return [found[k] for k in sorted(found, key=lambda k: (rank.get(k, len(ORDER)), k))]


def render_html(report: Mapping[str, Any]) -> str:
    """The whole report as one HTML document."""
    proto = report["protocol"]
    title = f"Study report: {proto['name']} {proto['version']}"
    parts = _parts(report)
    body = "\n".join(html for _k, _t, html in parts)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<style>{CSS}</style>
</head>
<body>
<header>
<h1>{escape(title)}</h1>
<p class="sub">mas-registry outcome report. Rule set {escape(proto["rule_set"])}; all numbers
are computed from the registry; every count is patients out of the cohort N.</p>
{_pairs(protocol_facts(report), "facts")}
</header>
<section id="summary">
<h2>Summary</h2>
{_pairs(headline(report), "headline")}
</section>
{_toc(parts)}
{body}
</body>
</html>
"""

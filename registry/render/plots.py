"""The report's plots as inline SVG strings (matplotlib, SVG backend, no pyplot state).

Per-patient ferritin and platelet trajectories against study day, a swimmer plot of response
status by time point, and the daily prednisone-equivalent dose over time. Output is
deterministic: a fixed `svg.hashsalt` per plot, no date or creator metadata, text as SVG text
(`svg.fonttype = none`, so it stays searchable), and no math parsing of labels.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import matplotlib as mpl
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from registry.render import swimmer
from registry.render.fmt import daily_doses, lab_points, unit_label

LEGEND_MAX = 12  # more patients than this: grey lines, no per-patient legend
# Okabe-Ito and Tol colours, black left for the cohort median, yellow darkened to show on white.
COLORS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#999933",
          "#999999", "#882255", "#117733", "#332288", "#AA4499")  # fmt: skip
_PROLOGUE = re.compile(r"\A.*?(?=<svg)", re.DOTALL)


@dataclass(frozen=True)
class Plot:
    """One figure: its id, title, caption and the SVG markup to inline."""

    id: str
    title: str
    caption: str
    svg: str


@contextmanager
def _style(plot_id: str) -> Iterator[None]:
    """Deterministic, label-safe matplotlib settings for one figure."""
    with mpl.rc_context(
        {
            "svg.hashsalt": f"mas-registry-{plot_id}",
            "svg.id": plot_id,
            "svg.fonttype": "none",
            "text.parse_math": False,
            "font.size": 9,
            "axes.spines.top": False,
            "axes.spines.right": False,
        }
    ):
        yield


def to_svg(fig: Figure) -> str:
    """The figure as an `<svg>` element (no XML prologue or metadata), ready to inline."""
    buffer = io.StringIO()
    fig.savefig(
        buffer,
        format="svg",
        metadata={"Date": None, "Creator": None, "Format": None, "Type": None},
        bbox_inches="tight",
    )
    return _PROLOGUE.sub("", buffer.getvalue()).strip() + "\n"


def short_ref(ref: str) -> str:
    """'Patient/mas-01' -> 'mas-01' (legend labels)."""
    return ref.removeprefix("Patient/")


def _series(patient: Mapping[str, Any], analyte: str, unit: str | None) -> list[tuple[int, float]]:
    points = lab_points(patient, analyte)
    return [(p["study_day"], p["value"]) for p in points if p.get("unit") == unit]


def _main_unit(report: Mapping[str, Any], analyte: str) -> tuple[str | None, bool]:
    """The analyte's first reported unit, and whether the report has it at all."""
    for lab in report["labs"]:
        if lab["analyte"] == analyte:
            return lab["unit"], True
    return None, False


def _median_line(
    report: Mapping[str, Any], analyte: str, unit: str | None
) -> list[tuple[int, float]]:
    """The cohort median at baseline (day 0) and at each time point's target day."""
    days = {"baseline": 0} | {t["name"]: t["day"] for t in report["protocol"]["timepoints"]}
    lab = next(x for x in report["labs"] if x["analyte"] == analyte and x["unit"] == unit)
    return [
        (days[row["timepoint"]], row["median"])
        for row in lab["timepoints"]
        if row["timepoint"] in days and row.get("median") is not None
    ]


def log_axis(ax: Axes) -> None:
    """A log y axis ticked 1-2-5 with plain numbers (no math text: labels are not parsed)."""
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def _draw_patients(
    ax: Axes, series: Sequence[tuple[str, list[tuple[int, float]]]], *, steps: bool = False
) -> None:
    """One coloured line per patient (a legend) or, for many patients, thin grey lines."""
    if len(series) <= LEGEND_MAX:
        style: dict[str, Any] = (
            {"drawstyle": "steps-post"} if steps else {"marker": "o", "markersize": 3}
        )
        for i, (ref, pts) in enumerate(series):
            xs, ys = zip(*pts, strict=True)
            ax.plot(xs, ys, linewidth=1.2, color=COLORS[i % len(COLORS)], label=short_ref(ref),
                    **style)  # fmt: skip
        return
    lines = LineCollection([list(pts) for _ref, pts in series], colors="#999999",
                           linewidths=0.6, alpha=0.4, label="patients")  # fmt: skip
    ax.add_collection(lines)
    ax.autoscale_view()


def trajectory(report: Mapping[str, Any], analyte: str, name: str, *, log: bool) -> Plot | None:
    """Every patient's selected values of one analyte against study day, with the cohort median."""
    unit, found = _main_unit(report, analyte)
    series = [(p["patient_ref"], s) for p in report["patients"] if (s := _series(p, analyte, unit))]
    if not found or not series:
        return None
    plot_id = f"plot-{analyte.lower()}"
    with _style(plot_id):
        fig = Figure(figsize=(8.0, 4.2))
        ax = fig.add_subplot()
        _draw_patients(ax, series)
        median = _median_line(report, analyte, unit)
        if median:
            xs, ys = zip(*median, strict=True)
            ax.plot(xs, ys, color="black", linestyle="--", linewidth=2, marker="D",
                    markersize=5, label="cohort median")  # fmt: skip
        if log and all(v > 0 for _r, pts in series for _d, v in pts):
            log_axis(ax)
        for t in report["protocol"]["timepoints"]:
            ax.axvline(t["day"], color="#dddddd", linewidth=0.8, zorder=0)
        ax.set_xlabel("Study day (T0 = first emapalumab dose = day 0)")
        ax.set_ylabel(f"{name} ({unit_label(unit)})")
        ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
        svg = to_svg(fig)
    caption = (
        f"{name} per patient: the values selected at baseline, in each time point's window "
        "(vertical lines: the target days) and at the end of follow-up, as the response "
        "assessment used them; dashed: the cohort median at baseline and each target day."
    )
    return Plot(plot_id, f"{name} by study day", caption, svg)


def steroid_dose(report: Mapping[str, Any]) -> Plot | None:
    """Daily prednisone-equivalent dose per patient over study days; pulse days marked."""
    series = [
        (p["patient_ref"], [(d["study_day"], d["mg"]) for d in daily_doses(p) if d["mg"]])
        for p in report["patients"]
    ]
    series = [(ref, pts) for ref, pts in series if pts]
    if not series:
        return None
    with _style("plot-steroid"):
        fig = Figure(figsize=(8.0, 4.2))
        ax = fig.add_subplot()
        _draw_patients(ax, series, steps=True)
        pulses = [(d["study_day"], d["mg"]) for p in report["patients"]
                  for d in daily_doses(p) if d["pulse"] and d["mg"]]  # fmt: skip
        if pulses:
            xs, ys = zip(*pulses, strict=True)
            ax.scatter(xs, ys, marker="^", s=30, color="#D55E00", zorder=3, label="pulse day")
        weeks = report["steroids"]["weeks_median_mg"]
        days = {t["name"]: t["day"] for t in report["protocol"]["timepoints"]}
        median = [(days[k], v["median"]) for k, v in weeks.items() if v.get("median") and k in days]
        if median:
            xs, ys = zip(*median, strict=True)
            ax.plot(xs, ys, linestyle="none", marker="D", markersize=6, color="black",
                    label="cohort median of window means")  # fmt: skip
        log_axis(ax)
        ax.axvline(0, color="#dddddd", linewidth=0.8, zorder=0)
        ax.set_xlabel("Study day (T0 = day 0)")
        ax.set_ylabel("Prednisone-equivalent dose (mg/day, log scale)")
        ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
        svg = to_svg(fig)
    caption = (
        "Daily prednisone-equivalent dose of every patient (days without a dose are not drawn); "
        "triangles: methylprednisolone pulse days; diamonds: the cohort median at each time point."
    )
    return Plot("plot-steroid", "Prednisone-equivalent dose over time", caption, svg)


def response_swimmer(report: Mapping[str, Any]) -> Plot | None:
    """The swimmer plot of response status by time point (see `swimmer`)."""
    if not report["patients"]:
        return None
    with _style("plot-swimmer"):
        fig, shown = swimmer.figure(report)
        svg = to_svg(fig)
    total = len(report["patients"])
    more = f" The first {shown} of {total} patients are shown." if shown < total else ""
    caption = (
        f"One lane per patient from T0 to the end of follow-up, coloured by the response status "
        f"({report['protocol']['rule_set']}) from each assessment to the next; triangles: first "
        f"positive test of an incident infection; cross: death.{more}"
    )
    return Plot("plot-swimmer", "Response over time (swimmer plot)", caption, svg)


def all_plots(report: Mapping[str, Any]) -> list[Plot]:
    """Every plot the report has data for, in document order."""
    found = [
        trajectory(report, "ferritin", "Ferritin", log=True),
        trajectory(report, "PLT", "Platelets", log=False),
        response_swimmer(report),
        steroid_dose(report),
    ]
    return [p for p in found if p is not None]

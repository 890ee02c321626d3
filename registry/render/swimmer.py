"""The swimmer plot: one lane per patient, coloured by response status from each assessment on."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

MAX_LANES = 60  # a pooled registry: the first 60 patients (the caption says so)
STATUS_COLORS = {
    "CR": "#0072B2", "PR": "#56B4E9", "HI": "#009E73", "NR": "#D55E00", "NE": "#BBBBBB",
}  # fmt: skip
STATUS_NAMES = {
    "CR": "CR complete", "PR": "PR partial", "HI": "HI haematologic improvement",
    "NR": "NR no response", "NE": "NE not evaluable",
}  # fmt: skip
BEFORE = "#EEEEEE"
DARK_TEXT = {"PR", "NE"}  # light fills get dark letters


def _day_of(patient: Mapping[str, Any], when: str) -> int:
    """Study day of an ISO date or instant, by calendar date (as the report's own days)."""
    return (date.fromisoformat(when[:10]) - date.fromisoformat(patient["t0"][:10])).days


def _segments(report: Mapping[str, Any], patient: Mapping[str, Any]) -> list[tuple[int, int, str]]:
    """(start, end, status) from each assessment to the next, within follow-up."""
    end = patient["follow_up_days"]
    marks = [(t["day"], t["name"]) for t in report["protocol"]["timepoints"] if t["day"] <= end]
    out = []
    for i, (day, name) in enumerate(marks):
        nxt = marks[i + 1][0] if i + 1 < len(marks) else end
        status = patient["response"].get(name)
        if status and nxt > day:
            out.append((day, nxt, status))
    return out


def _lane(ax: Axes, y: int, report: Mapping[str, Any], patient: Mapping[str, Any]) -> set[str]:
    """Draw one patient's lane; the statuses it used."""
    segments = _segments(report, patient)
    first = segments[0][0] if segments else patient["follow_up_days"]
    ax.barh(y, first, left=0, height=0.6, color=BEFORE, edgecolor="#BBBBBB", linewidth=0.5)
    for start, end, status in segments:
        ax.barh(y, end - start, left=start, height=0.6, color=STATUS_COLORS.get(status, "#777777"))
        if end - start >= 5:
            ax.text((start + end) / 2, y, status, ha="center", va="center", fontsize=7,
                    color="black" if status in DARK_TEXT else "white")  # fmt: skip
    final = patient["response"].get("end_of_follow_up")
    used = {s for _a, _b, s in segments} | ({final} if final else set())
    if final:
        ax.plot(patient["follow_up_days"], y, marker="D", markersize=7, markeredgecolor="black",
                color=STATUS_COLORS.get(final, "#777777"), linestyle="none")  # fmt: skip
    for infection in patient.get("infection_details", []):
        day = infection.get("first_positive_day")
        if infection.get("incident") and day is not None:
            ax.plot(day, y + 0.42, marker="v", markersize=6, color="black", linestyle="none")
            ax.text(day + 1.5, y + 0.42, infection["organism"], fontsize=6.5, va="center")
            used.add("infection")
    if patient.get("deceased"):
        ax.plot(_day_of(patient, patient["deceased"]), y, marker="X", markersize=9, color="black")
        used.add("death")
    return used


def _legend(ax: Axes, used: set[str]) -> None:
    """Only what the plot shows: the statuses used, infections and deaths if any."""
    handles: list[Any] = [Patch(color=BEFORE, label="before the first assessment")]
    handles += [
        Patch(color=c, label=STATUS_NAMES[s]) for s, c in STATUS_COLORS.items() if s in used
    ]
    handles.append(Line2D([], [], marker="D", color="#777777", markeredgecolor="black",
                          linestyle="none", label="status at end of follow-up"))  # fmt: skip
    if "infection" in used:
        handles.append(Line2D([], [], marker="v", color="black", linestyle="none",
                              label="infection, first positive"))  # fmt: skip
    if "death" in used:
        handles.append(Line2D([], [], marker="X", color="black", linestyle="none", label="death"))
    ax.legend(handles=handles, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)


def _ticks(report: Mapping[str, Any], patients: list[Mapping[str, Any]]) -> list[int]:
    """Day 0, the time points, then every 28 days up to the longest follow-up."""
    days = {0, *(t["day"] for t in report["protocol"]["timepoints"])}
    longest = max((p["follow_up_days"] for p in patients), default=0)
    step = 28 if longest <= 400 else 91
    days |= set(range(max(days) + step, longest + 1, step))
    return sorted(days)


def figure(report: Mapping[str, Any]) -> tuple[Figure, int]:
    """The swimmer figure and how many patients it shows (at most `MAX_LANES`)."""
    patients = report["patients"][:MAX_LANES]
    fig = Figure(figsize=(8.0, max(2.4, 0.42 * len(patients) + 1.2)))
    ax = fig.add_subplot()
    used: set[str] = set()
    for i, patient in enumerate(patients):
        used |= _lane(ax, len(patients) - 1 - i, report, patient)
    ax.set_yticks(range(len(patients)))
    ax.set_yticklabels([p["patient_ref"].removeprefix("Patient/") for p in reversed(patients)])
    for t in report["protocol"]["timepoints"]:
        ax.axvline(t["day"], color="#CCCCCC", linewidth=0.8, linestyle=":", zorder=0)
    ax.set_xticks(_ticks(report, patients))
    ax.set_xlim(left=0)
    ax.set_xlabel("Study day (T0 = day 0); dotted: the time points")
    _legend(ax, used)
    return fig, len(patients)

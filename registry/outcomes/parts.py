"""One process's share of a report, and how shares travel and add up (`workers`).

A share carries its patients' finished listing entries and cited sources, plus only what the
cohort tables read: each verdict's status, the lab points, steroid courses without their daily
runs (pulses kept), infection statuses. Entries and sources are plain JSON-ready data and cross
the pipe with `marshal` (several times faster than pickle for them); the rest is pickled.
"""

from __future__ import annotations

import dataclasses
import marshal
import pickle
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from registry.outcomes import labs, response, steroids
from registry.outcomes.infections import Infection
from registry.outcomes.rules import Verdict

Key = tuple[str, str]
Statuses = dict[str, dict[Key, list[tuple[str, int, str]]]]  # rule set -> patient -> verdicts


@dataclass
class Part:
    """A share of the patients: listing entries, cited sources and the cohort tables' inputs."""

    entries: dict[Key, dict[str, Any]]
    sources: dict[str, Any]  # `Citations.as_json()` of these patients
    statuses: Statuses
    points: labs.LabPoints
    courses: dict[Key, steroids.SteroidCourse]
    infected: dict[Key, dict[str, Infection]]


def statuses(verdicts: Mapping[str, Mapping[Key, Sequence[response.Assessment]]]) -> Statuses:
    """Each verdict as (slot, study day, status): what the response tables count."""
    return {
        name: {key: [(a.slot, a.day, a.status) for a in items] for key, items in by.items()}
        for name, by in verdicts.items()
    }


def assessments(found: Statuses) -> dict[str, dict[Key, list[response.Assessment]]]:
    """Assessments back from statuses, without marker evidence (the entries hold that)."""
    return {
        name: {
            key: [
                response.Assessment(slot, day, name, Verdict(status, ()))
                for slot, day, status in items
            ]
            for key, items in by.items()
        }
        for name, by in found.items()
    }


def light_course(course: steroids.SteroidCourse) -> steroids.SteroidCourse:
    """A course as the cohort tables read it: reference doses and weeks, pulse runs only."""
    return dataclasses.replace(course, runs=tuple(d for d in course.runs if d.pulse))


def merged(parts: Sequence[Part]) -> Part:
    """All shares as one (entries by patient; sources, statuses and points added up)."""
    first, *rest = parts
    for part in rest:
        first.entries.update(part.entries)
        first.sources.update(part.sources)
        for name, by in part.statuses.items():
            first.statuses.setdefault(name, {}).update(by)
        labs.merge(first.points, part.points)
        first.courses.update(part.courses)
        first.infected.update(part.infected)
    return first


def sorted_sources(tables: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The report's `sources`: several `Citations.as_json()` tables as one, by record id."""
    found: dict[str, Any] = {}
    for table in tables:
        found.update(table)
    return {k: found[k] for k in sorted(found, key=int)}


def _pack(value: Any) -> tuple[str, bytes]:
    """Marshal for plain data, pickle for anything marshal refuses."""
    try:
        return "m", marshal.dumps(value)
    except ValueError:
        return "p", pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


def _unpack(packed: tuple[str, bytes]) -> Any:
    kind, data = packed
    if kind == "m":
        return marshal.loads(data)  # noqa: S302 - bytes from this program's own helper
    return pickle.loads(data)  # noqa: S301 - idem


def encode(part: Part) -> bytes:
    """A share as bytes for the pipe (from a helper process this program started)."""
    plain = (list(part.entries.items()), part.sources, part.statuses)
    rest = (part.points, part.courses, part.infected)
    return pickle.dumps((_pack(plain), rest), protocol=pickle.HIGHEST_PROTOCOL)


def decode(data: bytes) -> Part:
    """A share back from `encode`."""
    plain, (points, courses, infected) = pickle.loads(data)  # noqa: S301 - own helper's bytes
    entries, sources, found = _unpack(plain)
    return Part(dict(entries), sources, found, points, courses, infected)

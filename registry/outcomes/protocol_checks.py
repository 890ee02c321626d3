"""Shape checks for study protocol files: the default protocol is the schema.

Every key a site's file may set is a key of the shipped default (`registry/protocols/
emapalumab-mas.toml`), with a value of the same type. A few tables are open (new entries allowed,
named by the caller): sites, reference ranges, per-organism lab rules.
"""

from __future__ import annotations

from collections.abc import Mapping
from itertools import pairwise
from typing import Any

from registry.errors import ProtocolError

# Tables whose entries are names chosen by the protocol (checked elsewhere against known names).
OPEN_TABLES = frozenset({"sites", "reference_ranges", "infections.lab", "terminology"})
# Open tables whose existing entries a site's file replaces whole (a range given as "any" replaces
# the default's "male"/"female").
REPLACED_ENTRIES = frozenset({"reference_ranges"})
# Entries new under an open table take their shape from this template (None: any shape).
ENTRY_TEMPLATES: dict[str, Mapping[str, Any] | None] = {
    "sites": {"utc_offset": "+00:00"},
    "reference_ranges": {"male": [0.0, 0.0], "female": [0.0, 0.0], "any": [0.0, 0.0], "unit": ""},
    "infections.lab": {"dna_analytes": [""], "igg_analyte": "", "treatment_ingredients": [""]},
    "terminology": None,
}


def _kind(value: Any) -> str:
    """A value's TOML kind; int and float are both numbers."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, Mapping):
        return "table"
    return type(value).__name__


def merge(base: Mapping[str, Any], override: Mapping[str, Any], path: str = "") -> dict[str, Any]:
    """Merge `override` over `base`: tables merge, everything else replaces, with shape checks.

    Raises:
        ProtocolError: a key the default does not know, or a value of another kind.
    """
    out = dict(base)
    for key, value in override.items():
        where = f"{path}.{key}" if path else key
        if key not in base or path in REPLACED_ENTRIES:
            template = _template(path)
            if template is _CLOSED:
                raise ProtocolError(f"unknown protocol setting '{where}'")
            out[key] = value if template is None else merge(_blank(template), value, where)
            continue
        _check_kind(where, base[key], value)
        if isinstance(value, Mapping):
            out[key] = merge(base[key], value, where)
        else:
            out[key] = value
    return out


_CLOSED: Mapping[str, Any] = {}


def _template(path: str) -> Mapping[str, Any] | None:
    """The shape of a new entry under `path`, None for any shape, or _CLOSED."""
    if path in OPEN_TABLES:
        return ENTRY_TEMPLATES[path]
    if path.startswith("terminology"):
        return None
    return _CLOSED


def _blank(template: Mapping[str, Any]) -> dict[str, Any]:
    """An entry with the template's keys but no values (the template only gives kinds)."""
    return {key: _Unset(value) for key, value in template.items()}


class _Unset:
    """A template value: the kind a key of a new open-table entry must have."""

    def __init__(self, example: Any) -> None:
        self.example = example


def _check_kind(where: str, old: Any, new: Any) -> None:
    """Refuse a value of another kind than the default's."""
    example = old.example if isinstance(old, _Unset) else old
    if _kind(example) != _kind(new) and not (isinstance(example, list) and isinstance(new, list)):
        raise ProtocolError(
            f"protocol setting '{where}' must be a {_kind(example)}, not a {_kind(new)}"
        )


def strip_unset(data: Mapping[str, Any]) -> dict[str, Any]:
    """Drop template placeholders that a new open-table entry left unset."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, _Unset):
            continue
        out[key] = strip_unset(value) if isinstance(value, Mapping) else value
    return out


def require_names(kind: str, names: list[str], known: set[str] | frozenset[str]) -> None:
    """Refuse names that are not among the known ones, listing the known ones."""
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise ProtocolError(
            f"unknown {kind} {', '.join(repr(n) for n in unknown)} "
            f"(known: {', '.join(sorted(known))})"
        )


def check_windows(timepoints: list[tuple[str, int, int, int]]) -> None:
    """Refuse windows that overlap, start on or before day 0, or repeat a name (CLINICAL-SPEC 2).

    Args:
        timepoints: (name, target day, days before, days after).
    """
    names = [name for name, *_ in timepoints]
    if len(set(names)) != len(names):
        raise ProtocolError("time point names must be unique")
    spans = sorted((day - before, day + after, name) for name, day, before, after in timepoints)
    for start, end, name in spans:
        if start <= 0:
            raise ProtocolError(f"time point {name} window starts on day {start}: must be > 0")
        if end < start:
            raise ProtocolError(f"time point {name} window is empty")
    for (_s1, end1, name1), (start2, _e2, name2) in pairwise(spans):
        if start2 <= end1:
            raise ProtocolError(
                f"time point windows overlap: {name1} ends on day {end1}, "
                f"{name2} starts on day {start2}"
            )

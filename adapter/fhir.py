"""Pure FHIR datatype helpers: times with precision, references, CodeableConcepts, extensions.

Every mapper parses FHIR datatypes through this module, so that partial dates, time zones,
`urn:uuid:` references and multi-coding concepts are handled once and tested once
(STYLE 6.6 and anti-pattern 4).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from adapter.errors import MappingError

_DATETIME = re.compile(
    r"^(?P<y>\d{4})(?:-(?P<m>\d{2})(?:-(?P<d>\d{2})"
    r"(?:T(?P<H>\d{2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:\.(?P<f>\d+))?)?"
    r"(?P<tz>Z|[+-]\d{2}:\d{2})?)?)?)?$"
)


@dataclass(frozen=True, slots=True)
class FhirTime:
    """A FHIR date/dateTime/instant: a UTC instant plus the precision it was written with.

    For `year`, `month` and `day` precision the value is midnight UTC of the first day and must
    be read as a floating local date (a date has no time zone); for `minute`/`second` it is the
    real instant in UTC.
    """

    value: datetime
    precision: str  # year | month | day | minute | second

    @property
    def is_date_only(self) -> bool:
        """True when no time of day was given."""
        return self.precision in ("year", "month", "day")


class ReferenceResolver(Protocol):
    """What a Bundle offers its entries: resolving references to sibling resources."""

    def resolve(self, reference: str) -> Mapping[str, Any] | None:
        """Return the sibling resource a reference points to, if it is in the Bundle."""

    def canonical_ref(self, reference: str) -> str | None:
        """Return `Type/id` for a reference to a sibling (e.g. a `urn:uuid:` fullUrl)."""


def parse_time(text: Any, *, assume_tz: tzinfo | None = None) -> FhirTime:
    """Parse a FHIR date, dateTime or instant.

    Args:
        text: the JSON value.
        assume_tz: zone for a time of day written without an offset (not valid FHIR, but
            sent by some servers); without it such a value is refused.

    Returns:
        The UTC instant and its precision.

    Raises:
        ValueError: not a FHIR date/time, or a time without a zone and no `assume_tz`.

    >>> parse_time("2024-03").precision
    'month'
    >>> parse_time("2024-03-05T08:00:00+08:00").value.isoformat()
    '2024-03-05T00:00:00+00:00'
    """
    if not isinstance(text, str) or not (match := _DATETIME.match(text)):
        raise ValueError(f"{text!r} is not a FHIR date or dateTime")
    parts = match.groupdict()
    year, month, day = int(parts["y"]), int(parts["m"] or 1), int(parts["d"] or 1)
    if parts["H"] is None:
        precision = "day" if parts["d"] else "month" if parts["m"] else "year"
        return FhirTime(datetime(year, month, day, tzinfo=UTC), precision)
    zone: tzinfo | None
    if parts["tz"] is None:
        if assume_tz is None:
            raise ValueError(f"{text!r} has a time of day but no time zone")
        zone = assume_tz
    elif parts["tz"] == "Z":
        zone = UTC
    else:
        sign = -1 if parts["tz"][0] == "-" else 1
        hours, minutes = int(parts["tz"][1:3]), int(parts["tz"][4:6])
        zone = timezone(sign * timedelta(hours=hours, minutes=minutes))
    micro = int((parts["f"] or "0")[:6].ljust(6, "0"))
    local = datetime(
        year,
        month,
        day,
        int(parts["H"]),
        int(parts["M"]),
        int(parts["S"] or 0),
        micro,
        tzinfo=zone,
    )
    return FhirTime(local.astimezone(UTC), "second" if parts["S"] else "minute")


def parse_date(text: Any) -> tuple[date, str]:
    """Parse a FHIR `date` (YYYY, YYYY-MM, YYYY-MM-DD) into its first day and precision.

    Raises:
        ValueError: not a FHIR date.
    """
    parsed = parse_time(text)
    if not parsed.is_date_only:
        raise ValueError(f"{text!r} is a dateTime where a date was expected")
    return parsed.value.date(), parsed.precision


def decimal_of(value: Any) -> Decimal:
    """Return a JSON number as an exact Decimal (floats via their shortest repr: 0.1 -> 0.1).

    Raises:
        ValueError: not a number (booleans are not numbers).
    """
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a number")  # noqa: TRY004 - callers catch ValueError
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, str):
        try:
            return Decimal(value.strip())
        except InvalidOperation as exc:
            raise ValueError(f"{value!r} is not a number") from exc
    raise ValueError(f"{value!r} is not a number")


def split_reference(reference: str) -> tuple[str | None, str]:
    """Split a literal reference into (resource type, id); contained refs give (None, '#id').

    Handles `Type/id`, `Type/id/_history/v`, absolute URLs ending in `Type/id[/_history/v]` and
    `#id`. A `urn:uuid:` reference returns (None, the urn): resolve it through the Bundle.

    >>> split_reference("https://h.example/fhir/Patient/12/_history/3")
    ('Patient', '12')
    """
    if reference.startswith(("#", "urn:")):
        return None, reference
    parts = [p for p in reference.split("?")[0].split("/") if p]
    if len(parts) >= 4 and parts[-2] == "_history":
        parts = parts[:-2]
    if len(parts) >= 2 and parts[-2][:1].isupper():
        return parts[-2], parts[-1]
    return None, reference


def reference_to(
    element: Any,
    expected_type: str,
    *,
    field_path: str,
    bundle: ReferenceResolver | None,
) -> str:
    """Return the id a Reference element points to, checking its type.

    Raises:
        MappingError: missing, contained, logical-only, or of another resource type.
    """
    if not isinstance(element, Mapping):
        raise MappingError("missing-element", field_path, f"{field_path} is missing")
    reference = element.get("reference")
    if not isinstance(reference, str) or not reference:
        reason = "given only as an identifier" if "identifier" in element else "missing"
        raise MappingError(
            "missing-element", f"{field_path}.reference", f"{field_path} reference is {reason}"
        )
    if reference.startswith("urn:") and bundle is not None:
        reference = bundle.canonical_ref(reference) or reference
    ref_type, ref_id = split_reference(reference)
    if ref_type is None:
        raise MappingError(
            "invalid-value",
            f"{field_path}.reference",
            f"{field_path} reference cannot be resolved to a {expected_type}",
        )
    if ref_type != expected_type:
        raise MappingError(
            "invalid-value",
            f"{field_path}.reference",
            f"{field_path} points to a {ref_type}, expected a {expected_type}",
        )
    return ref_id


def as_object(value: Any) -> Mapping[str, Any]:
    """Return `value` when it is a JSON object, else an empty mapping (tolerates junk)."""
    return value if isinstance(value, Mapping) else {}


def iter_codings(concept: Any) -> Iterator[Mapping[str, Any]]:
    """Yield the codings of a CodeableConcept that are objects (tolerates junk)."""
    if isinstance(concept, Mapping):
        for coding in concept.get("coding") or ():
            if isinstance(coding, Mapping):
                yield coding


def pick_coding(concept: Any, systems: Sequence[str]) -> Mapping[str, Any] | None:
    """Return the coding of the most preferred system present, else the first coding.

    The preference order is explicit so that "first coding" is never picked by accident when a
    preferred system is further down the list.
    """
    codings = list(iter_codings(concept))
    for system in systems:
        for coding in codings:
            if coding.get("system") == system and coding.get("code"):
                return coding
    return codings[0] if codings else None


def code_in(concept: Any, system: str) -> str | None:
    """Return the code of the first coding from `system`, if any."""
    for coding in iter_codings(concept):
        if coding.get("system") == system and isinstance(coding.get("code"), str):
            return str(coding["code"])
    return None


def concept_text(concept: Any) -> str | None:
    """Return CodeableConcept.text, else the first coding display."""
    if not isinstance(concept, Mapping):
        return None
    text = concept.get("text")
    if isinstance(text, str) and text.strip():
        return text
    for coding in iter_codings(concept):
        display = coding.get("display")
        if isinstance(display, str) and display.strip():
            return display
    return None


def extension_values(element: Any, url: str) -> list[Any]:
    """Return the `value[x]` of every extension with this URL (any value type)."""
    if not isinstance(element, Mapping):
        return []
    found: list[Any] = []
    for extension in element.get("extension") or ():
        if isinstance(extension, Mapping) and extension.get("url") == url:
            found.extend(v for k, v in extension.items() if k.startswith("value"))
            if any(k == "extension" for k in extension):
                found.append(extension)
    return found


def choice(element: Mapping[str, Any], prefix: str) -> tuple[str, Any] | None:
    """Return (type suffix, value) of a choice element `prefix[x]`, e.g. ('Quantity', {...}).

    >>> choice({"valueString": "x"}, "value")
    ('String', 'x')
    """
    for key, value in element.items():
        if key.startswith(prefix) and key[len(prefix) : len(prefix) + 1].isupper():
            return key[len(prefix) :], value
    return None


def contained(resource: Mapping[str, Any], local_id: str) -> Mapping[str, Any] | None:
    """Return the contained resource `#id` of `resource`, if present."""
    wanted = local_id.removeprefix("#")
    for item in resource.get("contained") or ():
        if isinstance(item, Mapping) and item.get("id") == wanted:
            return item
    return None

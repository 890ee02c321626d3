"""What a mapper knows besides the resource: terminology, FHIR version, its Bundle, time zone."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from decimal import Decimal
from typing import Any, TypeVar

import orjson

from adapter.errors import MappingError
from adapter.fhir import FhirTime, ReferenceResolver, parse_time, reference_to
from adapter.terminology import Terminology

T = TypeVar("T")


class Memo:
    """Bounded per-run caches of pure mapping steps (analyte matches, unit conversions, ...).

    Bulk exports repeat the same codes, units and reference ranges hundreds of thousands of
    times; the steps behind them (text normalisation, exact `Fraction` conversions) cost far more
    than a dict lookup. Each step's results depend only on their key and the run's terminology,
    which a run does not change. A table that grows past `limit` entries is emptied, so memory
    stays bounded whatever the input size.
    """

    def __init__(self, limit: int = 4096) -> None:
        self.limit = limit
        self._tables: dict[str, dict[Hashable, Any]] = {}

    def get(self, table: str, key: Hashable, compute: Callable[..., T], *args: Any) -> T:
        """Return the cached value of `key` in `table`, else `compute(*args)`, kept.

        An exception from `compute` is not kept: the next call computes again.
        """
        cache = self._tables.get(table)
        if cache is None:
            cache = self._tables[table] = {}
        try:
            found: T = cache[key]
        except KeyError:
            if len(cache) >= self.limit:
                cache.clear()
            found = cache[key] = compute(*args)
        return found


def _number(value: Any) -> orjson.Fragment:
    if isinstance(value, Decimal):
        return orjson.Fragment(str(value).encode("ascii"))
    raise TypeError(f"{type(value).__name__} is not JSON")


def json_key(element: Any) -> bytes:
    """A `Memo` key for a JSON element: its compact JSON (key order kept, decimals exact)."""
    return orjson.dumps(element, default=_number)


# A dateTime to the second (or finer) with its zone: the common shape, which the standard
# library parses into the same instant as `parse_time`.
_FULL_INSTANT = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:Z|[+-][0-9]{2}:[0-9]{2})"
)


@functools.lru_cache(maxsize=8192)
def cached_time(value: str, assume_tz: tzinfo | None = None) -> FhirTime:
    """`parse_time`, cached and with a fast path for full instants (the same results).

    Resources of one export repeat their instants (effective, issued, meta.lastUpdated).

    Raises:
        ValueError: as `parse_time`.
    """
    if _FULL_INSTANT.fullmatch(value):
        try:
            return FhirTime(datetime.fromisoformat(value).astimezone(UTC), "second")
        except ValueError:
            pass  # e.g. hour 24: `parse_time` says why
    return parse_time(value, assume_tz=assume_tz)


@dataclass(frozen=True, slots=True)
class MappingContext:
    """Per-resource mapping context; build one per run and `with_source()` per resource."""

    terminology: Terminology
    fhir_version: str = "R4"
    bundle: ReferenceResolver | None = None
    assume_tz: tzinfo | None = None
    memo: Memo = field(default_factory=Memo, compare=False, repr=False)

    def with_source(self, fhir_version: str, bundle: ReferenceResolver | None) -> MappingContext:
        """Return this context for a resource of the given version and Bundle."""
        if fhir_version == self.fhir_version and bundle is self.bundle:
            return self
        return MappingContext(self.terminology, fhir_version, bundle, self.assume_tz, self.memo)

    @property
    def is_r5(self) -> bool:
        """True for R5 content (renamed and restructured elements)."""
        return self.fhir_version == "R5"

    def time(self, value: Any, field_path: str) -> FhirTime | None:
        """Parse an optional date/dateTime element, quarantining a malformed one.

        Raises:
            MappingError: present but not a valid FHIR date/dateTime.
        """
        if value is None:
            return None
        try:
            if isinstance(value, str):
                return cached_time(value, self.assume_tz)
            return parse_time(value, assume_tz=self.assume_tz)
        except ValueError as exc:
            raise MappingError("invalid-value", field_path, f"{field_path}: {exc}") from exc

    def patient_of(self, resource: Mapping[str, Any], field: str = "subject") -> str:
        """Return the id of the Patient a resource is about.

        Raises:
            MappingError: no subject, or a subject that is not a Patient.
        """
        element = resource.get(field)
        reference = element.get("reference") if isinstance(element, dict) else None
        if self.bundle is None and isinstance(reference, str):
            # Without a Bundle the answer depends on the reference text alone: remembered.
            return self.memo.get("patient", reference, self._patient_ref, resource, field)
        return self._patient_ref(resource, field)

    def _patient_ref(self, resource: Mapping[str, Any], field: str) -> str:
        path = f"{resource.get('resourceType')}.{field}"
        return reference_to(resource.get(field), "Patient", field_path=path, bundle=self.bundle)


def status_of(
    resource: Mapping[str, Any], allowed: frozenset[str], *, required: bool = True
) -> str:
    """Return `status`, refusing codes outside the resource's value set.

    Raises:
        MappingError: missing when required, or not one of `allowed`.
    """
    rtype = resource.get("resourceType")
    status = resource.get("status")
    if status is None and not required:
        return ""
    if not isinstance(status, str) or status not in allowed:
        shown = "missing" if status is None else f"{status!r}, not one of {sorted(allowed)}"
        raise MappingError("invalid-value", f"{rtype}.status", f"{rtype}.status is {shown}")
    return status


def exclusion_for(status: str | None) -> str | None:
    """Statuses kept and flagged but excluded from outcomes (issue: entered-in-error, cancelled)."""
    if status in ("entered-in-error", "cancelled", "not-done"):
        return status
    return None

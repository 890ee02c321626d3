"""What a mapper knows besides the resource: terminology, FHIR version, its Bundle, time zone."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any

from adapter.errors import MappingError
from adapter.fhir import FhirTime, ReferenceResolver, parse_time, reference_to
from adapter.terminology import Terminology


@dataclass(frozen=True, slots=True)
class MappingContext:
    """Per-resource mapping context; build one per run and `with_source()` per resource."""

    terminology: Terminology
    fhir_version: str = "R4"
    bundle: ReferenceResolver | None = None
    assume_tz: tzinfo | None = None

    def with_source(self, fhir_version: str, bundle: ReferenceResolver | None) -> MappingContext:
        """Return this context for a resource of the given version and Bundle."""
        if fhir_version == self.fhir_version and bundle is self.bundle:
            return self
        return MappingContext(self.terminology, fhir_version, bundle, self.assume_tz)

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
            return parse_time(value, assume_tz=self.assume_tz)
        except ValueError as exc:
            raise MappingError("invalid-value", field_path, f"{field_path}: {exc}") from exc

    def patient_of(self, resource: Mapping[str, Any], field: str = "subject") -> str:
        """Return the id of the Patient a resource is about.

        Raises:
            MappingError: no subject, or a subject that is not a Patient.
        """
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

"""The adapter's error tree: families that tell the caller what to do.

`MappingError` is *skippable*: the resource is quarantined with the reason and the run goes on.
Everything else under `AdapterError` is fatal for the operation that raised it.
"""

from __future__ import annotations

from typing import Any


class AdapterError(Exception):
    """Root of every error the adapter raises."""


class ConfigError(AdapterError):
    """Bad, missing or conflicting configuration (URLs, credentials, code lists)."""


class AuthError(AdapterError):
    """The authorization server refused or failed to issue a token."""


class HTTPError(AdapterError):
    """An HTTP exchange failed; `status` is None for transport errors."""

    def __init__(self, message: str, *, status: int | None = None, response: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.response = response


class TemporaryHTTPError(HTTPError):
    """A failure worth retrying (timeouts, resets, 408/429/5xx)."""


class FatalHTTPError(HTTPError):
    """A failure that retrying will not fix (other 4xx, exhausted retries)."""


class PagingError(AdapterError):
    """A search's paging went wrong: a repeated or cross-origin next link, or the page cap."""


class ReadError(AdapterError):
    """A source file or directory could not be opened at all."""


class MappingError(AdapterError):
    """A resource could not be mapped; it is quarantined with this reason (skippable).

    Attributes:
        reason_code: a stable machine-readable code, one of `QUARANTINE_REASONS`.
        field_path: the FHIR path of the offending element, e.g. ``Observation.valueQuantity.unit``.
    """

    def __init__(self, reason_code: str, field_path: str, message: str) -> None:
        super().__init__(message)
        self.reason_code = reason_code
        self.field_path = field_path
        self.message = message


# Every reason a resource can be quarantined for, with the sentence a data manager reads.
QUARANTINE_REASONS: dict[str, str] = {
    "invalid-json": "the line or file is not valid JSON",
    "not-a-resource": "the JSON object has no resourceType",
    "validation-failed": "the resource fails FHIR structural validation",
    "missing-element": "an element the registry needs is missing",
    "invalid-value": "an element has a value the registry cannot interpret",
    "unknown-unit": "the unit is not one the registry knows for this analyte",
    "non-convertible-unit": "the unit is on a scale that cannot be converted to the canonical unit",
    "unmatched-code": "a required code matches nothing in the configured code lists",
    "missing-patient": "the subject Patient is not in the registry",
    "missing-medication": "the referenced Medication is not in the registry",
    "no-body-weight": "no body weight within 30 d for a mg/kg dose",
    "conflicting-duplicate": (
        "same patient, analyte and time as another result but a different value"
    ),
    "conflicting-version": "same resource and version as a stored one but different content",
    "unsupported-version": "the content is of a FHIR version the registry does not read",
    "unreadable-file": "the file could not be opened, decompressed or read to its end",
    "unsupported-file": "the file is not of a kind the registry reads (.json, .ndjson, .gz)",
    "unsupported-entry": "a Bundle entry that is neither content nor a deletion (e.g. PATCH)",
    "mapping-failed": "the registry could not map this resource (a defect: please report it)",
}


class OriginError(AdapterError):
    """A URL points to another origin (scheme, host, port), where credentials must never go."""


class CapabilityError(AdapterError):
    """The server lacks a FHIR version, resource type, search parameter or operation we need."""


class BulkExportError(AdapterError):
    """A Bulk Data export failed: bad manifest, vanished job, or state file of another export."""

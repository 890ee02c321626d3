"""Patient -> PatientRow: sex, birth date with its precision, deceased. No identifiers."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapter.errors import MappingError
from adapter.fhir import parse_date
from adapter.mappers.context import MappingContext
from adapter.rows import PatientRow

_GENDERS = frozenset({"male", "female", "other", "unknown"})


def map_patient(resource: Mapping[str, Any], ctx: MappingContext) -> list[PatientRow]:
    """Map a Patient; names, identifiers and addresses are never copied into rows.

    Raises:
        MappingError: an invalid gender, birth date or deceased element.
    """
    gender = resource.get("gender")
    if gender is not None and gender not in _GENDERS:
        raise MappingError("invalid-value", "Patient.gender", f"Patient.gender {gender!r} unknown")
    birth_date = birth_precision = None
    if (raw_birth := resource.get("birthDate")) is not None:
        try:
            birth_date, birth_precision = parse_date(raw_birth)
        except ValueError as exc:
            raise MappingError("invalid-value", "Patient.birthDate", str(exc)) from exc
    deceased: bool | None = None
    deceased_time = None
    if "deceasedBoolean" in resource:
        deceased = bool(resource["deceasedBoolean"])
    elif "deceasedDateTime" in resource:
        deceased = True
        deceased_time = ctx.time(resource["deceasedDateTime"], "Patient.deceasedDateTime")
    return [
        PatientRow(
            sex=gender,
            birth_date=birth_date,
            birth_date_precision=birth_precision,
            deceased=deceased,
            deceased_at=deceased_time.value if deceased_time else None,
            deceased_precision=deceased_time.precision if deceased_time else None,
        )
    ]

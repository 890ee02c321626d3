"""Structural validation of resources with the fhir.resources 8 models.

R4 and R4B content is checked with the R4B models (``fhir.resources.R4B``), R5 content with the
default (R5) models. The check is structural: element names, cardinality, datatypes, primitive
formats, one value per choice element. It does not check terminology bindings or invariants.

R4 versus R4B: every HL7 R4 (4.0.1) specification example of a resource type that R4B still has
passes the R4B models. R4B removed some R4 types (`R4_TYPES_NOT_IN_R4B`: the MedicinalProduct*
family, SubstanceSpecification and the Substance* polymer/protein types, the EvidenceSynthesis
types) and reworked Evidence and EvidenceVariable; R4 resources of those types cannot be checked
with R4B models, so they are passed unchecked and counted in `Validator.unchecked` (the registry
maps none of them).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pydantic
from fhir.resources import get_fhir_model_class as _r5_model
from fhir.resources.R4B import get_fhir_model_class as _r4b_model

from adapter.errors import ConfigError
from adapter.versions import normalise_version

R4_TYPES_NOT_IN_R4B = frozenset(
    (
        "EffectEvidenceSynthesis",
        "Evidence",
        "EvidenceVariable",
        "MedicinalProduct",
        "MedicinalProductAuthorization",
        "MedicinalProductContraindication",
        "MedicinalProductIndication",
        "MedicinalProductIngredient",
        "MedicinalProductInteraction",
        "MedicinalProductManufactured",
        "MedicinalProductPackaged",
        "MedicinalProductPharmaceutical",
        "MedicinalProductUndesirableEffect",
        "RiskEvidenceSynthesis",
        "SubstanceNucleicAcid",
        "SubstancePolymer",
        "SubstanceProtein",
        "SubstanceReferenceInformation",
        "SubstanceSourceMaterial",
        "SubstanceSpecification",
    )
)

_SAMPLE = re.compile(r"^sample:(\d+)$")
_MAX_MESSAGE = 300
_FRIENDLY = {
    "extra_forbidden": "element not known in FHIR {version}",
    "missing": "required element is missing",
    "model_field_validation.missing": "required element is missing",
}


@dataclass(frozen=True, slots=True)
class ValidationIssue:
    """One structural error: where (``Observation.valueQuantity.value``) and what."""

    path: str
    message: str


def fhir_path(resource_type: str, location: tuple[int | str, ...]) -> str:
    """Turn a pydantic error location into a FHIR path.

    >>> fhir_path("Observation", ("code", "coding", 0, "system"))
    'Observation.code.coding[0].system'
    """
    path = resource_type
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _models_for(version: str) -> Callable[[str], type[Any]]:
    return _r5_model if version == "R5" else _r4b_model


class Validator:
    """Structural validator with a sampling mode.

    Modes: ``off`` (validate nothing), ``full`` (everything), ``sample:N`` (the resources at
    index 0, N, 2N, ... of a run: deterministic, so a re-run checks the same resources).
    """

    def __init__(self, mode: str, *, zoneless_times_ok: bool = False) -> None:
        """Parse the mode.

        Args:
            mode: ``off``, ``full`` or ``sample:N``.
            zoneless_times_ok: the site declared the zone its times are written in (`--timezone`),
                so a dateTime without an offset is not a validation error (the mapper applies the
                declared zone; without one, the mapper refuses such times).

        Raises:
            ConfigError: not ``off``, ``full`` or ``sample:N`` with N >= 1.
        """
        cleaned = str(mode).strip().lower()
        sample = _SAMPLE.match(cleaned)
        if cleaned == "off":
            self.every = 0
        elif cleaned == "full":
            self.every = 1
        elif sample and int(sample.group(1)) >= 1:
            self.every = int(sample.group(1))
        else:
            raise ConfigError(
                f"unknown validation mode {mode!r}: use off, full or sample:N (N >= 1)"
            )
        self.mode = cleaned
        self.zoneless_times_ok = zoneless_times_ok
        # resource type -> count of R4 resources passed unchecked (types R4B models lack).
        self.unchecked: dict[str, int] = {}

    def should_validate(self, index: int) -> bool:
        """Return True when the resource at this 0-based index of the run is to be validated."""
        return self.every > 0 and index % self.every == 0

    def validate(self, resource: Mapping[str, Any], fhir_version: str) -> list[ValidationIssue]:
        """Return the structural errors of a resource (empty when it is valid).

        Raises:
            ConfigError: `fhir_version` is not a FHIR version the registry reads.
        """
        version = normalise_version(fhir_version)
        rtype = resource.get("resourceType")
        if not isinstance(rtype, str) or not rtype:
            return [ValidationIssue("resourceType", "resourceType is missing")]
        if version == "R4" and rtype in R4_TYPES_NOT_IN_R4B:
            self.unchecked[rtype] = self.unchecked.get(rtype, 0) + 1
            return []
        try:
            model = _models_for(version)(rtype)
        except ValueError:
            models = "R5" if version == "R5" else "R4B"
            message = f"{rtype} is not a resource type of FHIR {version} ({models} models)"
            return [ValidationIssue(rtype, message)]
        content = _with_zones(resource) if self.zoneless_times_ok else dict(resource)
        try:
            model.model_validate(content)
        except pydantic.ValidationError as exc:
            return [_issue(rtype, error, version) for error in exc.errors()]
        return []


_ZONELESS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$")


def _with_zones(value: Any) -> Any:
    """Return a copy in which dateTimes written without an offset carry "Z" (validation only)."""
    if isinstance(value, Mapping):
        return {key: _with_zones(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_with_zones(item) for item in value]
    if isinstance(value, str) and _ZONELESS.match(value):
        return value + "Z"
    return value


def _issue(rtype: str, error: Any, version: str) -> ValidationIssue:
    friendly = _FRIENDLY.get(str(error.get("type")))
    message = friendly.format(version=version) if friendly else str(error.get("msg", ""))
    path = fhir_path(rtype, tuple(error.get("loc", ())))
    return ValidationIssue(path, message[:_MAX_MESSAGE])

"""What a server says it can do, from its CapabilityStatement (``GET [base]/metadata``).

Servers silently ignore search parameters they do not support, so the client checks the
CapabilityStatement before searching and says clearly what is missing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from adapter.errors import CapabilityError

ExportLevel = Literal["system", "patient", "group"]

# FHIR version prefix -> release name; 4.1/4.2 were ballots, 3.x is STU3: both unsupported.
RELEASES = {"4.0": "R4", "4.3": "R4B", "5.0": "R5"}
_EXPORT_NAMES = frozenset({"export", "patient-export", "group-export"})
_EXPORT_TYPES: tuple[tuple[ExportLevel, str], ...] = (("patient", "Patient"), ("group", "Group"))
# Search parameters every server handles without listing them (FHIR R4 3.1.1.5.x "common").
_ALWAYS = frozenset({"_id"})


@dataclass(frozen=True)
class ResourceCapability:
    """What the server supports for one resource type."""

    resource_type: str
    interactions: frozenset[str]
    search_params: frozenset[str]
    search_includes: frozenset[str]
    operations: frozenset[str]


@dataclass(frozen=True)
class ServerCapabilities:
    """The parts of a CapabilityStatement the adapter adapts its queries to.

    Attributes:
        fhir_version: the declared version, e.g. ``4.0.1``.
        release: ``R4``, ``R4B`` or ``R5``.
        software: ``software.name`` and version, for the run record.
        resources: per resource type.
        common_params: search parameters declared for all types (``rest.searchParam``).
        system_operations: operation names at system level (e.g. ``export``).
    """

    fhir_version: str
    release: str
    software: str | None
    resources: Mapping[str, ResourceCapability]
    common_params: frozenset[str]
    system_operations: frozenset[str]

    def supports_type(self, resource_type: str) -> bool:
        """Tell whether the type is listed at all."""
        return resource_type in self.resources

    def supports_search(self, resource_type: str, param: str) -> bool:
        """Tell whether a search parameter (``patient``, ``_count``, ``_include`` ...) is declared.

        ``_include`` counts as supported when the type lists at least one ``searchInclude``.
        """
        resource = self.resources.get(resource_type)
        if resource is None:
            return False
        if param == "_include":
            return bool(resource.search_includes)
        return param in resource.search_params or param in self.common_params or param in _ALWAYS

    def supports_include(self, resource_type: str, include: str) -> bool:
        """Tell whether ``_include=<include>`` (e.g. ``MedicationRequest:medication``) is listed."""
        resource = self.resources.get(resource_type)
        if resource is None:
            return False
        return include in resource.search_includes or "*" in resource.search_includes

    def patient_param(self, resource_type: str) -> str:
        """The parameter that selects a type's resources by patient: ``patient`` or ``subject``.

        Raises:
            CapabilityError: the server declares neither for this type.
        """
        for param in ("patient", "subject"):
            if self.supports_search(resource_type, param):
                return param
        raise CapabilityError(
            f"the server cannot search {resource_type} by patient (neither 'patient' nor "
            "'subject' is a declared search parameter)"
        )

    def export_levels(self) -> frozenset[ExportLevel]:
        """The Bulk Data ``$export`` levels the server declares."""
        levels: set[ExportLevel] = set()
        if self.system_operations & _EXPORT_NAMES:
            levels.add("system")
        for level, resource_type in _EXPORT_TYPES:
            resource = self.resources.get(resource_type)
            if resource is not None and resource.operations & _EXPORT_NAMES:
                levels.add(level)
        return frozenset(levels)

    def require(self, needs: Mapping[str, Iterable[str]]) -> None:
        """Check resource types and their search parameters, naming everything missing at once.

        Args:
            needs: resource type -> the search parameters the queries use (may be empty).

        Raises:
            CapabilityError: listing each missing type and parameter.
        """
        missing = []
        for resource_type, params in needs.items():
            if not self.supports_type(resource_type):
                missing.append(f"{resource_type} (resource type)")
                continue
            missing += [
                f"{resource_type}?{param}"
                for param in params
                if not self.supports_search(resource_type, param)
            ]
        if missing:
            raise CapabilityError("the server does not support: " + ", ".join(missing))


def parse_capabilities(statement: Mapping[str, Any]) -> ServerCapabilities:
    """Read a CapabilityStatement (R4, R4B or R5) into `ServerCapabilities`.

    Raises:
        CapabilityError: not a CapabilityStatement, an unsupported FHIR version, or no
            server-mode ``rest`` entry.
    """
    if statement.get("resourceType") != "CapabilityStatement":
        raise CapabilityError("the server's /metadata is not a CapabilityStatement")
    version = str(statement.get("fhirVersion") or "")
    release = RELEASES.get(".".join(version.split(".")[:2]))
    if release is None:
        raise CapabilityError(
            f"the server speaks FHIR {version or '(no version)'}; supported: 4.0.x (R4), "
            "4.3.x (R4B), 5.0.x (R5)"
        )
    rests = [r for r in statement.get("rest") or [] if isinstance(r, dict)]
    rest = next((r for r in rests if r.get("mode") == "server"), None)
    if rest is None:
        raise CapabilityError("the CapabilityStatement has no server 'rest' entry")
    resources = {}
    for item in rest.get("resource") or []:
        if isinstance(item, dict) and isinstance(item.get("type"), str):
            resources[item["type"]] = _resource(item)
    software = statement.get("software")
    fields = [software.get(k) for k in ("name", "version")] if isinstance(software, dict) else []
    name = " ".join(str(value) for value in fields if value) or None
    return ServerCapabilities(
        fhir_version=version,
        release=release,
        software=name,
        resources=resources,
        common_params=_names(rest.get("searchParam")),
        system_operations=_names(rest.get("operation"), definitions=True),
    )


def _resource(item: Mapping[str, Any]) -> ResourceCapability:
    interactions = frozenset(
        str(i.get("code")) for i in item.get("interaction") or [] if isinstance(i, dict)
    )
    includes = frozenset(str(i) for i in item.get("searchInclude") or [])
    return ResourceCapability(
        resource_type=str(item["type"]),
        interactions=interactions,
        search_params=_names(item.get("searchParam")),
        search_includes=includes,
        operations=_names(item.get("operation"), definitions=True),
    )


def _names(items: Any, *, definitions: bool = False) -> frozenset[str]:
    """Names of searchParam/operation entries; for operations also the definition's tail.

    Servers name ``$export`` differently (``export``, ``patient-export``); the canonical
    definition (``.../OperationDefinition/patient-export``) is the reliable part.
    """
    names: set[str] = set()
    for item in items or []:
        if not isinstance(item, dict):
            continue
        if isinstance(item.get("name"), str):
            names.add(item["name"].lstrip("$"))
        if definitions and isinstance(item.get("definition"), str):
            names.add(item["definition"].rstrip("/").rsplit("/", 1)[-1].split("|")[0])
    return frozenset(names)

"""DiagnosticReport -> DiagnosticReportRow + the results it groups (same specimen, 6.4)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapter.codes import LOINC
from adapter.fhir import concept_text, pick_coding, split_reference
from adapter.mappers.context import MappingContext, exclusion_for, status_of
from adapter.rows import DiagnosticReportRow, GroupMemberRow, Row

_STATUSES = frozenset(
    {
        "registered",
        "partial",
        "preliminary",
        "final",
        "amended",
        "corrected",
        "appended",
        "cancelled",
        "entered-in-error",
        "unknown",
    }
)


def map_diagnostic_report(resource: Mapping[str, Any], ctx: MappingContext) -> list[Row]:
    """Map a DiagnosticReport and one GroupMemberRow per `result` reference.

    Raises:
        MappingError: invalid status, no Patient subject, malformed dates.
    """
    status = status_of(resource, _STATUSES)
    patient_id = ctx.patient_of(resource)
    code = resource.get("code")
    coding = pick_coding(code, (LOINC,))
    effective = ctx.time(resource.get("effectiveDateTime"), "DiagnosticReport.effectiveDateTime")
    if effective is None and isinstance(resource.get("effectivePeriod"), Mapping):
        period = resource["effectivePeriod"]
        effective = ctx.time(period.get("start"), "DiagnosticReport.effectivePeriod.start")
    issued = ctx.time(resource.get("issued"), "DiagnosticReport.issued")
    rows: list[Row] = [
        DiagnosticReportRow(
            patient_id=patient_id,
            status=status,
            code_system=coding.get("system") if coding else None,
            code=coding.get("code") if coding else None,
            code_text=concept_text(code),
            effective_at=effective.value if effective else None,
            effective_precision=effective.precision if effective else None,
            issued_at=issued.value if issued else None,
            exclusion=exclusion_for(status),
        )
    ]
    rows.extend(member_rows(resource.get("result"), ctx))
    return rows


def member_rows(references: Any, ctx: MappingContext) -> list[GroupMemberRow]:
    """Return the Observation members a list of References names (contained ones skipped)."""
    members: list[GroupMemberRow] = []
    for element in references or ():
        ref = element.get("reference") if isinstance(element, Mapping) else None
        if not isinstance(ref, str):
            continue
        if ref.startswith("urn:") and ctx.bundle is not None:
            ref = ctx.bundle.canonical_ref(ref) or ref
        ref_type, ref_id = split_reference(ref)
        if ref_type is not None:
            members.append(GroupMemberRow(member_type=ref_type, member_id=ref_id))
    return members

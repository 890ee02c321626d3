"""AdverseEvent -> AdverseEventRow, R4 and R5 shapes (CLINICAL-SPEC 5.2-5.4, 6.6).

The row keeps the facts (seriousness as written, criteria, outcome, grade); whether an event is an
SAE is decided by the outcome rules, which are configurable (5.2).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapter import codes
from adapter.errors import MappingError
from adapter.fhir import (
    concept_text,
    decimal_of,
    extension_values,
    iter_codings,
    pick_coding,
    split_reference,
)
from adapter.mappers.context import MappingContext, exclusion_for
from adapter.rows import AdverseEventRow
from adapter.terminology import match_condition

_ACTUALITY = frozenset({"actual", "potential"})


def map_adverse_event(resource: Mapping[str, Any], ctx: MappingContext) -> list[AdverseEventRow]:
    """Map an AdverseEvent: term, infection organism, seriousness, severity, grade, outcome.

    Raises:
        MappingError: missing/invalid actuality, no Patient, an unknown seriousness code.
    """
    actuality = resource.get("actuality")
    if actuality not in _ACTUALITY:
        raise MappingError(
            "invalid-value", "AdverseEvent.actuality", f"AdverseEvent.actuality is {actuality!r}"
        )
    patient_id = ctx.patient_of(resource)
    term = resource.get("code") if "code" in resource else resource.get("event")
    coding = pick_coding(term, (codes.SNOMED, codes.MEDDRA, codes.ICD10, codes.ICD10_CM))
    condition = match_condition(ctx.terminology, term)
    is_serious, criteria = _seriousness(resource)
    occurred = _occurrence(resource, ctx)
    detected = ctx.time(resource.get("detected"), "AdverseEvent.detected")
    recorded = ctx.time(resource.get("recordedDate"), "AdverseEvent.recordedDate")
    status = resource.get("status") if isinstance(resource.get("status"), str) else None
    return [
        AdverseEventRow(
            patient_id=patient_id,
            actuality=str(actuality),
            status=status,
            term_system=coding.get("system") if coding else None,
            term_code=coding.get("code") if coding else None,
            term_display=coding.get("display") if coding else None,
            term_text=concept_text(term),
            infection_organism=(
                condition.concept if condition and condition.category == "infection" else None
            ),
            seriousness_code=_first_code(resource.get("seriousness")),
            is_serious=is_serious,
            seriousness_criteria=criteria,
            severity=_severity(resource),
            ctcae_grade=_grade(resource),
            outcome=_outcome(resource),
            occurred_at=occurred.value if occurred else None,
            occurred_precision=occurred.precision if occurred else None,
            detected_at=detected.value if detected else None,
            recorded_at=recorded.value if recorded else None,
            resulting_conditions=_resulting(resource, ctx),
            exclusion=exclusion_for(status),
        )
    ]


def _seriousness(resource: Mapping[str, Any]) -> tuple[bool | None, tuple[str, ...]]:
    """Return (serious?, criteria) from `seriousness` (both code spellings) and the IG extension.

    Raises:
        MappingError: a seriousness code that is in neither spelling of the code system.
    """
    is_serious: bool | None = None
    criteria: list[str] = []
    for coding in iter_codings(resource.get("seriousness")):
        code = str(coding.get("code", ""))
        if code not in codes.SERIOUSNESS:
            raise MappingError(
                "unmatched-code",
                "AdverseEvent.seriousness",
                f"AdverseEvent.seriousness code {code!r} is not a known seriousness code",
            )
        serious, criterion = codes.SERIOUSNESS[code]
        is_serious = serious or bool(is_serious)
        if criterion:
            criteria.append(criterion)
    for url in codes.AE_SERIOUSNESS_CRITERIA_URLS:
        for value in extension_values(resource, url):
            criterion = _criterion_of(value)
            if criterion:
                criteria.append(criterion)
    if criteria:
        is_serious = True
    return is_serious, tuple(dict.fromkeys(criteria))


def _criterion_of(value: Any) -> str | None:
    """Name a seriousness criterion from the AE research IG extension.

    The extension is complex: `criterionCode` (NCI Thesaurus code) and `criterionPresent`
    (false means the criterion was assessed and is absent). A simple coded value is accepted too.
    """
    if isinstance(value, Mapping) and "extension" in value:
        code: str | None = None
        for sub in value["extension"]:
            if not isinstance(sub, Mapping):
                continue
            if sub.get("url") == codes.AE_CRITERION_PRESENT and sub.get("valueBoolean") is False:
                return None
            if sub.get("url") == codes.AE_CRITERION_CODE:
                code = _first_code(sub.get("valueCodeableConcept") or sub.get("valueCoding"))
        return codes.SERIOUSNESS_CRITERIA.get(code, code) if code else None
    code = _first_code(value) if isinstance(value, Mapping) else str(value)
    return codes.SERIOUSNESS_CRITERIA.get(code, code) if code else None


def _severity(resource: Mapping[str, Any]) -> str | None:
    """Return mild/moderate/severe: R4 `severity`, else the AE research IG extension (R5)."""
    code = _first_code(resource.get("severity"))
    if code:
        return code
    for url in codes.AE_SEVERITY_URLS:
        for value in extension_values(resource, url):
            found = _first_code(value) if isinstance(value, Mapping) else str(value)
            if found:
                return found
    return None


def _grade(resource: Mapping[str, Any]) -> int | None:
    """Return the CTCAE grade (1-5) from the AE research IG grade extension.

    Raises:
        MappingError: a grade outside 1-5.
    """
    for url in codes.AE_GRADE_URLS:
        for value in extension_values(resource, url):
            raw = _first_code(value) if isinstance(value, Mapping) else value
            if isinstance(raw, str) and raw in codes.CTCAE_GRADES:
                return codes.CTCAE_GRADES[raw]  # NCI Thesaurus grade codes (AE research IG)
            try:
                grade = int(decimal_of(raw))
            except (ValueError, TypeError):
                grade = -1
            if not 1 <= grade <= 5:
                raise MappingError(
                    "invalid-value", "AdverseEvent.extension(grade)", f"CTCAE grade {raw!r}"
                )
            return grade
    return None


def _outcome(resource: Mapping[str, Any]) -> str | None:
    """Return the outcome code (R4 a CodeableConcept, R5 a list of them)."""
    outcome = resource.get("outcome")
    if isinstance(outcome, list):
        outcome = outcome[0] if outcome else None
    return _first_code(outcome)


def _occurrence(resource: Mapping[str, Any], ctx: MappingContext) -> Any:
    """Return when the event occurred: R4 `date`, R5 `occurrence[x]` (start of a Period)."""
    if "date" in resource:
        return ctx.time(resource["date"], "AdverseEvent.date")
    if "occurrenceDateTime" in resource:
        return ctx.time(resource["occurrenceDateTime"], "AdverseEvent.occurrenceDateTime")
    period = resource.get("occurrencePeriod")
    if isinstance(period, Mapping):
        return ctx.time(period.get("start"), "AdverseEvent.occurrencePeriod.start")
    return None


def _resulting(resource: Mapping[str, Any], ctx: MappingContext) -> tuple[str, ...]:
    """Return `Type/id` of resultingCondition (R4) / resultingEffect (R5) references."""
    refs: list[str] = []
    for element in (resource.get("resultingCondition") or []) + (
        resource.get("resultingEffect") or []
    ):
        ref = element.get("reference") if isinstance(element, Mapping) else None
        if isinstance(ref, str):
            if ref.startswith("urn:") and ctx.bundle is not None:
                ref = ctx.bundle.canonical_ref(ref) or ref
            ref_type, ref_id = split_reference(ref)
            refs.append(f"{ref_type}/{ref_id}" if ref_type else ref)
    return tuple(refs)


def _first_code(concept: Any) -> str | None:
    """Return the first coding's code of a CodeableConcept (or a bare Coding)."""
    if isinstance(concept, Mapping) and "coding" not in concept and concept.get("code"):
        return str(concept["code"])
    for coding in iter_codings(concept):
        if coding.get("code"):
            return str(coding["code"])
    return None

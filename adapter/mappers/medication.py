"""Medication resolution shared by administrations and orders, and the Medication mapper.

A medication may be a CodeableConcept, a contained Medication (`#id`), a sibling in the same
Bundle, or a Medication resource elsewhere in the registry. The last case cannot be resolved by a
pure mapper: the row keeps `medication_ref` and drug class `unresolved`, and the loader re-maps it
once the Medication is in the registry (or quarantines it, reason `missing-medication`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from adapter.errors import MappingError
from adapter.fhir import (
    concept_text,
    contained,
    decimal_of,
    iter_codings,
    split_reference,
)
from adapter.mappers.context import MappingContext
from adapter.rows import DrugMatch, MedicationRow
from adapter.terminology import match_drug
from adapter.units import UnitError, dose_to_mg

UNRESOLVED = "unresolved"


@dataclass(frozen=True, slots=True)
class ResolvedMedication:
    """The drug behind a `medication[x]` element and where it came from."""

    drug: DrugMatch
    source: str  # concept | contained | bundle | reference
    reference: str | None  # Medication/<id> when it must be resolved after load
    strength_mg_per_unit: Fraction | None


def resolve_medication(resource: Mapping[str, Any], ctx: MappingContext) -> ResolvedMedication:
    """Find the drug of an administration/request/statement (R4 and R5 shapes).

    Raises:
        MappingError: no medication element, or one with neither code nor reference.
    """
    rtype = resource.get("resourceType")
    concept: Any = resource.get("medicationCodeableConcept")
    reference: Any = resource.get("medicationReference")
    field = "medicationCodeableConcept" if concept is not None else "medicationReference"
    r5 = resource.get("medication")
    if isinstance(r5, Mapping):  # R5 CodeableReference
        concept, reference, field = r5.get("concept"), r5.get("reference"), "medication"
    if concept is not None:
        if not list(iter_codings(concept)) and not concept_text(concept):
            raise MappingError("missing-element", f"{rtype}.{field}", f"{rtype}.{field} is empty")
        return ResolvedMedication(match_drug(ctx.terminology, concept), "concept", None, None)
    ref = reference.get("reference") if isinstance(reference, Mapping) else None
    if not isinstance(ref, str) or not ref:
        raise MappingError("missing-element", f"{rtype}.medication", f"{rtype} has no medication")
    if ref.startswith("#"):
        med = contained(resource, ref)
        if med is None:
            path = f"{rtype}.{field}.reference"
            raise MappingError("invalid-value", path, f"{path} {ref} is not a contained resource")
        drug, strength = describe_medication(med, ctx)
        return ResolvedMedication(drug, "contained", None, strength)
    sibling = ctx.bundle.resolve(ref) if ctx.bundle is not None else None
    if sibling is not None and sibling.get("resourceType") == "Medication":
        drug, strength = describe_medication(sibling, ctx)
        # A resolver standing for the registry (re-mapping after load) labels itself "reference".
        source = getattr(ctx.bundle, "medication_source", "bundle")
        return ResolvedMedication(drug, source, None, strength)
    if ref.startswith("urn:") and ctx.bundle is not None:
        ref = ctx.bundle.canonical_ref(ref) or ref
    ref_type, ref_id = split_reference(ref)
    if ref_type != "Medication":
        path = f"{rtype}.{field}.reference"
        raise MappingError("invalid-value", path, f"{path} does not point to a Medication")
    pending = DrugMatch(None, None, UNRESOLVED, None, None, reference.get("display"))
    return ResolvedMedication(pending, "reference", f"Medication/{ref_id}", None)


def describe_medication(
    med: Mapping[str, Any], ctx: MappingContext
) -> tuple[DrugMatch, Fraction | None]:
    """Identify a Medication resource's ingredient (code, then ingredient items) and strength."""
    items = [_ingredient_item(i) for i in med.get("ingredient") or () if isinstance(i, Mapping)]
    extra = [c for item in items for c in iter_codings(item)]
    drug = match_drug(ctx.terminology, med.get("code"), extra_codings=extra)
    strengths = [_strength_mg(i) for i in med.get("ingredient") or () if isinstance(i, Mapping)]
    known = [s for s in strengths if s is not None]
    return drug, known[0] if len(known) == 1 else None


def map_medication(resource: Mapping[str, Any], ctx: MappingContext) -> list[MedicationRow]:
    """Map a Medication resource so that references to it can be resolved in the registry."""
    drug, strength = describe_medication(resource, ctx)
    form = concept_text(resource.get("form"))
    strength_mg = float(strength) if strength is not None else None
    return [MedicationRow(drug=drug, strength_mg_per_unit=strength_mg, form=form)]


def _ingredient_item(ingredient: Mapping[str, Any]) -> Any:
    """Return an ingredient's CodeableConcept (R4 itemCodeableConcept, R5 item.concept)."""
    if "itemCodeableConcept" in ingredient:
        return ingredient["itemCodeableConcept"]
    item = ingredient.get("item")
    return item.get("concept") if isinstance(item, Mapping) else None


def _strength_mg(ingredient: Mapping[str, Any]) -> Fraction | None:
    """Return mg per unit from a strength Ratio (R4 `strength`, R5 `strengthRatio`)."""
    ratio = ingredient.get("strength") or ingredient.get("strengthRatio")
    if not isinstance(ratio, Mapping):
        return None
    numerator, denominator = ratio.get("numerator"), ratio.get("denominator")
    if not isinstance(numerator, Mapping) or numerator.get("value") is None:
        return None
    try:
        amount = dose_to_mg(
            decimal_of(numerator["value"]), numerator.get("unit"), numerator.get("code")
        )
        per = decimal_of(denominator.get("value", 1)) if isinstance(denominator, Mapping) else 1
    except (ValueError, UnitError):
        return None
    if amount.mg is None or not per:
        return None
    return amount.mg / Fraction(per)

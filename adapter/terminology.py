"""Terminology matching: analytes, conditions, drugs, routes, prednisone factors.

CLINICAL-SPEC 4.2, 4.3.1, 4.4, 6.1, 6.5, 6.6. Pure functions over a `Terminology` (built from
the shipped defaults plus the study protocol / site config). Every coding of a concept is
looked at, never just the first; codings that point two ways are not guessed between.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from adapter import codes, codes_condition, codes_lab
from adapter.drugs import match_drug
from adapter.termconfig import Terminology
from adapter.termspec import (
    AnalyteSpec,
    CodingView,
    ConditionSpec,
    DrugSpec,
    codings_of,
    icd_key,
    text_of,
)
from adapter.textmatch import find_form, find_terms, lookup_text, normalise_text

__all__ = [
    "AnalyteSpec",
    "CodeMatch",
    "ConditionMatch",
    "ConditionSpec",
    "DrugSpec",
    "Terminology",
    "classify_route",
    "match_analyte",
    "match_condition",
    "match_drug",
    "normalise_text",
    "prednisone_factor",
]


@dataclass(frozen=True, slots=True)
class CodeMatch:
    """An identified analyte and how (6.1). A "text" match must be flagged downstream."""

    key: str
    path: str  # loinc | local | text
    system: str | None  # the coding that matched (None for text)
    code: str | None
    display: str | None  # the coding's display, or the text that matched


@dataclass(frozen=True, slots=True)
class ConditionMatch:
    """An identified diagnosis or infection concept and how (6.5, 6.6)."""

    category: str  # underlying_disease | mas_hlh | infection
    concept: str  # AOSD | SLE | MAS | HLH | CMV | EBV | herpes_zoster | pneumonia | sepsis | ...
    path: str  # snomed | icd10 | local | text
    system: str | None
    code: str | None
    display: str | None


# --- analytes (6.1) -----------------------------------------------------------------------
Hit = tuple[CodingView, str]
_NON_BLOOD_TERMS = {find_form(t): t for t in codes.NON_BLOOD_SPECIMEN_TERMS}


def _local(mapping: Mapping[tuple[str, str], str], coding: CodingView) -> str | None:
    if coding.system is None or coding.code is None:
        return None
    return mapping.get((coding.system, coding.code))


def _as_match(hits: list[Hit], path: str) -> CodeMatch | None:
    """Return the match when all hits agree on one analyte; None when they disagree."""
    if len({key for _, key in hits}) != 1:
        return None
    coding, key = hits[0]
    return CodeMatch(key, path, coding.system, coding.code, coding.display)


def _non_blood(specimen: str | None) -> bool:
    """Tell whether a specimen (type code, display or text) is positively not blood/serum/plasma."""
    if not specimen:
        return False
    if specimen.strip() in codes.NON_BLOOD_SPECIMEN_CODES:
        return True
    return bool(find_terms(specimen, _NON_BLOOD_TERMS))


def _analyte_by_text(term: Terminology, concept: Mapping[str, Any]) -> CodeMatch | None:
    found: dict[str, str] = {}
    for text in (text_of(concept), *(c.display for c in codings_of(concept))):
        key = text and lookup_text(
            text,
            term.index.analyte_text,
            codes_lab.ANALYTE_NOISE_WORDS,
            codes_lab.ANALYTE_CJK_AFFIXES,
        )
        if key and text:
            found.setdefault(key, text)
    if len(found) != 1:
        return None
    ((key, text),) = found.items()
    return CodeMatch(key, "text", None, None, text)


def _analyte_match(term: Terminology, concept: Mapping[str, Any]) -> CodeMatch | None:
    codings = codings_of(concept)
    loinc = [c for c in codings if c.system == codes.LOINC and c.code]
    loinc_hits = [(c, key) for c in loinc if (key := c.code and term.index.loinc.get(c.code))]
    if loinc_hits:
        return _as_match(loinc_hits, "loinc")
    if any(c.code in term.loinc_exclude for c in loinc):
        return None
    local_hits = [(c, key) for c in codings if (key := _local(term.local_analytes, c))]
    if local_hits:
        return _as_match(local_hits, "local")
    return _analyte_by_text(term, concept) if term.text_matching else None


def match_analyte(
    term: Terminology, concept: Mapping[str, Any] | None, *, specimen: str | None = None
) -> CodeMatch | None:
    """Identify the study analyte an Observation code names (CLINICAL-SPEC 6.1).

    Order: a LOINC code in the configured lists (wherever it is among the codings), then a
    site-local code, then (if `term.text_matching`) a normalised-text match of `code.text` or a
    display, English or Chinese. A LOINC code on the exclude list (3043-7, TG in Blood) stops
    the search. Codings naming two analytes, or texts naming two, match nothing.

    Args:
        term: the terminology.
        concept: `Observation.code` (or a component code), a CodeableConcept dict.
        specimen: the specimen type (code, display or text); a blood analyte measured on a
            non-blood specimen (CSF ferritin) is not a match.

    Returns:
        The match, or None.
    """
    if not isinstance(concept, Mapping):
        return None
    match = _analyte_match(term, concept)
    if match is None:
        return None
    if term.analytes[match.key].specimen == "blood" and _non_blood(specimen):
        return None
    return match


# --- conditions (6.5, 6.6) ----------------------------------------------------------------
def _condition_lookup(term: Terminology, coding: CodingView, path: str) -> str | None:
    if coding.code is None:
        return None
    if path == "snomed":
        return term.index.snomed.get(coding.code) if coding.system == codes.SNOMED else None
    if path == "icd10":
        if coding.system not in codes.ICD10_SYSTEMS:
            return None
        key = icd_key(coding.code)
        return next((c for prefix, c in term.index.icd10 if key.startswith(prefix)), None)
    return _local(term.local_conditions, coding)


def _priority(concept: str) -> int:
    order = codes_condition.CONDITION_PRIORITY
    return order.index(concept) if concept in order else len(order)


def _condition_by_text(
    term: Terminology, concept: Mapping[str, Any], codings: list[CodingView]
) -> ConditionMatch | None:
    found: dict[str, str] = {}
    for text in (text_of(concept), *(c.display for c in codings)):
        key = text and lookup_text(
            text, term.index.condition_text, codes_condition.CONDITION_NOISE_WORDS
        )
        if key and text:
            found.setdefault(key, text)
    if not found:
        return None
    best = min(found, key=_priority)
    return ConditionMatch(term.conditions[best].category, best, "text", None, None, found[best])


def match_condition(term: Terminology, concept: Mapping[str, Any] | None) -> ConditionMatch | None:
    """Identify the cohort diagnosis or infection a Condition/AE code names (6.5, 6.6).

    Order: SNOMED CT, ICD-10 / ICD-10-CM (prefixes, with or without the dot), site-local codes,
    then (if `term.text_matching`) text. Codings naming two concepts resolve to the more
    specific one (`codes_condition.CONDITION_PRIORITY`, e.g. CMV over pneumonia).
    """
    if not isinstance(concept, Mapping):
        return None
    codings = codings_of(concept)
    for path in ("snomed", "icd10", "local"):
        hits = [(c, found) for c in codings if (found := _condition_lookup(term, c, path))]
        if hits:
            coding, best = min(hits, key=lambda hit: _priority(hit[1]))
            category = term.conditions[best].category
            return ConditionMatch(category, best, path, coding.system, coding.code, coding.display)
    return _condition_by_text(term, concept, codings) if term.text_matching else None


# --- routes (4.3.1) and factors (4.2) -----------------------------------------------------
def classify_route(term: Terminology, concept: Mapping[str, Any] | None) -> str:
    """Classify a dosage route (CLINICAL-SPEC 4.3.1).

    Returns:
        "systemic" (oral, IV, IM, SC), "intra-articular", "excluded" (topical, inhaled,
        ophthalmic, otic, nasal, rectal), "unspecified" (no route given) or "unknown" (a route
        given that no table classifies, or one naming two classes).
    """
    codings = codings_of(concept)
    texts = [t for t in (text_of(concept), *(c.display for c in codings)) if t]
    if not texts and not any(c.code for c in codings):
        return "unspecified"
    classes = {
        term.route_codes[(c.system, c.code)]
        for c in codings
        if c.system and c.code and (c.system, c.code) in term.route_codes
    }
    if not classes:
        for text in texts:
            classes |= find_terms(text, term.index.route_text)
    return classes.pop() if len(classes) == 1 else "unknown"


def prednisone_factor(term: Terminology, ingredient: str) -> Fraction | None:
    """Return mg prednisone per mg of `ingredient` (CLINICAL-SPEC 4.2, exact), or None.

    >>> prednisone_factor(Terminology.default(), "dexamethasone")
    Fraction(20, 3)
    """
    return term.steroid_factors.get(ingredient)

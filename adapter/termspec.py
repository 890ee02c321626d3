"""Terminology entries (analyte, condition, drug) and the lookup indexes built from them.

Pure data and index building; `adapter.termconfig` assembles them into a `Terminology` and
`adapter.terminology` matches FHIR concepts against them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from adapter import codes, codes_condition, codes_lab
from adapter.errors import ConfigError
from adapter.textmatch import build_index, find_form

Code = tuple[str, str]  # (system, code)


@dataclass(frozen=True, slots=True)
class AnalyteSpec:
    """One study analyte (CLINICAL-SPEC 6.1).

    Attributes:
        key: canonical analyte key ("ferritin", "sCD25", "ANC", "cmv_dna", ...).
        loinc: LOINC codes that identify it.
        canonical_unit: UCUM code values are converted to; None for qualitative analytes. For
            sCD25 and viral DNA it is the primary scale's unit; the other scale keeps its own
            (see `adapter.units`).
        synonyms: text synonyms, English and Chinese.
        specimen: "blood" when a non-blood specimen (CSF, urine, BAL, ...) must not match;
            None when any specimen matches.
        organism: "CMV" / "EBV" for viral DNA and serology, else None.
    """

    key: str
    loinc: frozenset[str]
    canonical_unit: str | None
    synonyms: tuple[str, ...]
    specimen: str | None = None
    organism: str | None = None

    @property
    def qualitative(self) -> bool:
        """True when results have no unit of their own (presence, serology)."""
        return self.canonical_unit is None


@dataclass(frozen=True, slots=True)
class ConditionSpec:
    """One diagnosis or infection concept (CLINICAL-SPEC 6.5, 6.6)."""

    concept: str
    category: str  # underlying_disease | mas_hlh | infection
    snomed: frozenset[str]
    icd10: tuple[str, ...]  # prefixes, e.g. "B25" covers B25.0-B25.9
    synonyms: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DrugSpec:
    """One drug ingredient (CLINICAL-SPEC 4.4)."""

    ingredient: str
    drug_class: str  # emapalumab | glucocorticoid | other_mas_therapy | other
    rxnorm_in: frozenset[str]
    atc: frozenset[str]
    names: tuple[str, ...]


CONDITION_CATEGORIES = frozenset({"underlying_disease", "mas_hlh", "infection"})


def icd_key(code: str) -> str:
    """Return an ICD-10 code without dots or spaces, upper-case ("b25.9" -> "B259")."""
    return code.upper().replace(".", "").replace(" ", "")


@dataclass(frozen=True, slots=True)
class TermIndex:
    """Lookup tables derived from a `Terminology` (built once, when it is constructed)."""

    loinc: Mapping[str, str]
    analyte_text: Mapping[str, str]
    snomed: Mapping[str, str]
    icd10: tuple[tuple[str, str], ...]  # (prefix key, concept), longest prefix first
    condition_text: Mapping[str, str]
    rxnorm_in: Mapping[str, str]
    atc: Mapping[str, str]
    drug_names: Mapping[str, str]
    route_text: Mapping[str, str]


def _unique(pairs: Iterable[tuple[str, str]], what: str) -> dict[str, str]:
    """Index (code, value) pairs, refusing a code that two values claim."""
    index: dict[str, str] = {}
    for code, value in pairs:
        if index.setdefault(code, value) != value:
            raise ConfigError(f"{what} {code!r} is given for both {index[code]!r} and {value!r}")
    return index


def _text_index(
    pairs: Iterable[tuple[str, str]],
    what: str,
    noise_words: frozenset[str] = frozenset(),
    cjk_affixes: tuple[str, ...] = (),
) -> dict[str, str]:
    """Build a `lookup_text` index, refusing a synonym that names two values."""
    index, clashes = build_index(pairs, noise_words, cjk_affixes)
    if clashes:
        raise ConfigError(f"{what} synonym {clashes[0]!r} names two different {what}s")
    return index


def build_term_index(
    analytes: Mapping[str, AnalyteSpec],
    conditions: Mapping[str, ConditionSpec],
    drugs: Mapping[str, DrugSpec],
    route_text: Mapping[str, str],
) -> TermIndex:
    """Build the lookup tables, refusing codes or synonyms that point two ways.

    Raises:
        ConfigError: a LOINC, SNOMED, ICD-10, RxNorm or ATC code, or a synonym, claimed twice.
    """
    icd = _unique(((icd_key(p), c.concept) for c in conditions.values() for p in c.icd10), "ICD-10")
    return TermIndex(
        loinc=_unique(((code, a.key) for a in analytes.values() for code in a.loinc), "LOINC"),
        analyte_text=_text_index(
            ((s, a.key) for a in analytes.values() for s in a.synonyms),
            "analyte",
            codes_lab.ANALYTE_NOISE_WORDS,
            codes_lab.ANALYTE_CJK_AFFIXES,
        ),
        snomed=_unique(((s, c.concept) for c in conditions.values() for s in c.snomed), "SNOMED"),
        icd10=tuple(sorted(icd.items(), key=lambda item: -len(item[0]))),
        condition_text=_text_index(
            ((s, c.concept) for c in conditions.values() for s in c.synonyms),
            "condition",
            codes_condition.CONDITION_NOISE_WORDS,
        ),
        rxnorm_in=_unique(
            ((r, d.ingredient) for d in drugs.values() for r in d.rxnorm_in), "RxNorm"
        ),
        atc=_unique(((a.upper(), d.ingredient) for d in drugs.values() for a in d.atc), "ATC"),
        drug_names=_unique(
            ((find_form(n), d.ingredient) for d in drugs.values() for n in d.names), "drug name"
        ),
        route_text=dict((find_form(word), cls) for word, cls in route_text.items()),
    )


def check_targets(
    references: Iterable[tuple[str, Mapping[Any, str], Iterable[str]]],
    steroid_factors: Mapping[str, Fraction],
    route_classes: Iterable[str],
) -> None:
    """Refuse references to unknown entries, non-positive factors and unknown route classes.

    Args:
        references: (what, {code: target}, known targets), e.g. the site-local analyte codes.
        steroid_factors: ingredient -> factor.
        route_classes: every class the route tables give.

    Raises:
        ConfigError: naming the offending code or value.
    """
    for what, mapping, known in references:
        allowed = set(known)
        for code, target in mapping.items():
            shown = "|".join(code) if isinstance(code, tuple) else code
            if target not in allowed:
                raise ConfigError(f"{what} {shown} names unknown entry {target!r}")
    for ingredient, factor in steroid_factors.items():
        if factor <= 0:
            raise ConfigError(f"steroid factor for {ingredient!r} must be positive")
    for cls in route_classes:
        if cls not in codes.ROUTE_CLASSES:
            raise ConfigError(f"route class {cls!r} is not one of {sorted(codes.ROUTE_CLASSES)}")


@dataclass(frozen=True, slots=True)
class CodingView:
    """The three strings of a FHIR Coding that matching looks at (None when absent)."""

    system: str | None
    code: str | None
    display: str | None


def _str(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def coding_view(coding: Any) -> CodingView | None:
    """Return a `CodingView` of a Coding dict; the system without a trailing slash."""
    if not isinstance(coding, Mapping):
        return None
    system = _str(coding.get("system"))
    return CodingView(
        system.rstrip("/") if system else None,
        _str(coding.get("code")),
        _str(coding.get("display")),
    )


def codings_of(concept: Mapping[str, Any] | None) -> list[CodingView]:
    """Return every coding of a CodeableConcept, in order (matching never takes just the first)."""
    if not isinstance(concept, Mapping) or not isinstance(concept.get("coding"), list):
        return []
    return [view for view in map(coding_view, concept["coding"]) if view is not None]


def text_of(concept: Mapping[str, Any] | None) -> str | None:
    """Return a CodeableConcept's `text`, or None."""
    return _str(concept.get("text")) if isinstance(concept, Mapping) else None

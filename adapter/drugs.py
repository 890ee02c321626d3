"""Drug identification (CLINICAL-SPEC 4.4): which ingredient a medication concept names.

Order, the path that matched recorded in `DrugMatch.match_path`:
1. `rxnorm_in`: an RxNorm ingredient (TTY=IN) code from the drug table;
2. `rxnorm_table`: any RxNorm code, through the offline product -> ingredient table;
3. `atc`: an ATC code (old and current codes are both listed);
4. `local`: a site-local code from the site config;
5. `name`: a generic, brand or Chinese name found as a word in the text or a display.

Within a path every coding is looked at (never just the first); codings that name two different
ingredients are ambiguous and the next path is tried. Nothing matched gives ingredient None and
class "other".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from adapter import codes
from adapter.rows import DrugMatch
from adapter.termconfig import Terminology
from adapter.termspec import CodingView, coding_view, codings_of, text_of
from adapter.textmatch import find_terms

Lookup = Callable[[Terminology, CodingView], str | None]


def _rxnorm_in(term: Terminology, coding: CodingView) -> str | None:
    if coding.system != codes.RXNORM or coding.code is None:
        return None
    return term.index.rxnorm_in.get(coding.code)


def _rxnorm_table(term: Terminology, coding: CodingView) -> str | None:
    if coding.system != codes.RXNORM or coding.code is None:
        return None
    return term.rxnorm_products.get(coding.code)


def _atc(term: Terminology, coding: CodingView) -> str | None:
    if coding.system != codes.ATC or coding.code is None:
        return None
    return term.index.atc.get(coding.code.upper().replace(" ", ""))


def _local(term: Terminology, coding: CodingView) -> str | None:
    if coding.system is None or coding.code is None:
        return None
    return term.local_drugs.get((coding.system, coding.code))


_CODE_PATHS: tuple[tuple[str, Lookup], ...] = (
    ("rxnorm_in", _rxnorm_in),
    ("rxnorm_table", _rxnorm_table),
    ("atc", _atc),
    ("local", _local),
)


def _drug_match(
    term: Terminology,
    ingredient: str | None,
    path: str | None,
    coding: CodingView | None,
    text: str | None,
) -> DrugMatch:
    spec = term.drugs.get(ingredient) if ingredient else None
    return DrugMatch(
        ingredient=ingredient,
        match_path=path,
        drug_class=spec.drug_class if spec else "other",
        code_system=coding.system if coding else None,
        code=coding.code if coding else None,
        text=text,
    )


def _recorded_coding(codings: Sequence[CodingView]) -> CodingView | None:
    """The coding kept for audit when no code matched: RxNorm if present, else the first."""
    for coding in codings:
        if coding.system == codes.RXNORM and coding.code:
            return coding
    return next((c for c in codings if c.code), None)


def match_drug(
    term: Terminology,
    concept: Mapping[str, Any] | None,
    *,
    extra_codings: Sequence[Mapping[str, Any]] = (),
    text: str | None = None,
) -> DrugMatch:
    """Identify the ingredient of a medication concept (CLINICAL-SPEC 4.4).

    Args:
        term: the terminology.
        concept: `Medication.code` or `medicationCodeableConcept` (a CodeableConcept dict).
        extra_codings: more Coding dicts to consider, e.g. `Medication.ingredient` item codes.
        text: more free text to search for names (e.g. a `medicationReference.display`).

    Returns:
        Always a `DrugMatch`; ingredient None and class "other" when nothing matched.
    """
    codings = [*codings_of(concept), *filter(None, map(coding_view, extra_codings))]
    shown = text_of(concept) or next((c.display for c in codings if c.display), None) or text
    for path, lookup in _CODE_PATHS:
        hits = [(coding, found) for coding in codings if (found := lookup(term, coding))]
        if len({found for _, found in hits}) == 1:
            return _drug_match(term, hits[0][1], path, hits[0][0], shown)
    texts = [text_of(concept), *(c.display for c in codings), text]
    names: set[str] = set()
    for item in texts:
        if item:
            names |= find_terms(item, term.index.drug_names)
    if len(names) == 1:
        return _drug_match(term, names.pop(), "name", _recorded_coding(codings), shown)
    return _drug_match(term, None, None, _recorded_coding(codings), shown)

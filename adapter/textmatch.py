"""Text normalisation and conservative term finding for terminology matching (CLINICAL-SPEC 6.1).

Two ways of matching text, both deliberately strict:

* `text_key` + a synonym index: the *whole* text (minus specimen and LOINC-name filler words,
  and minus bracketed parts that name nothing else) must equal a synonym. "Ferritin (serum)"
  matches ferritin; "Ferritin in CSF" does not, because "csf" is left over.
* `find_terms`: a term found as a *word* in a longer text (drug names, routes). Latin terms need
  a non-letter on both sides, so "prednisolone" never matches "prednisone" or
  "methylprednisolone"; CJK terms are substrings, and the longest overlapping match wins, so
  泼尼松龙 (prednisolone) is not also read as 泼尼松 (prednisone).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Mapping

_CJK_CLASS = "\u3400-\u9fff\uf900-\ufaff"
_SPACE_NEXT_TO_CJK = re.compile(rf"(?<=[{_CJK_CLASS}]) | (?=[{_CJK_CLASS}])")
_CJK_LATIN_EDGE = re.compile(
    rf"(?<=[{_CJK_CLASS}])(?=[^{_CJK_CLASS}\s])|(?<=[^{_CJK_CLASS}\s])(?=[{_CJK_CLASS}])"
)
_HAS_CJK = re.compile(rf"[{_CJK_CLASS}]")
_BRACKETED = re.compile(r"[(\[{]([^()\[\]{}]*)[)\]}]")


def normalise_text(text: str) -> str:
    """Return `text` NFKC-normalised, casefolded, punctuation and symbols as spaces, collapsed.

    A percent sign is kept as its own token ("neutrophils %"), since it changes the analyte.

    >>> normalise_text("  Ferritin,  SERUM ")
    'ferritin serum'
    >>> normalise_text("可溶性白介素-2受体（sIL-2R）")
    '可溶性白介素 2受体 sil 2r'
    """
    folded = unicodedata.normalize("NFKC", text).casefold()
    out = []
    for char in folded:
        if char == "%":
            out.append(" % ")
        elif char.isalnum():
            out.append(char)
        else:
            out.append(" ")
    return " ".join("".join(out).split())


def has_cjk(text: str) -> bool:
    """Tell whether `text` contains a CJK ideograph."""
    return _HAS_CJK.search(text) is not None


def text_key(
    text: str, noise_words: frozenset[str] = frozenset(), cjk_affixes: tuple[str, ...] = ()
) -> str:
    """Return the comparison key of `text`: normalised, filler words and CJK affixes removed.

    Spaces next to CJK characters are dropped ("可溶性 CD25" == "可溶性CD25"); `cjk_affixes`
    are stripped only at the start or end of the key (血清铁蛋白测定 -> 铁蛋白).
    """
    words = [w for w in normalise_text(text).split() if w not in noise_words]
    key = _SPACE_NEXT_TO_CJK.sub("", " ".join(words))
    changed = True
    while changed and key:
        changed = False
        for affix in cjk_affixes:
            if key.startswith(affix) and len(key) > len(affix):
                key, changed = key[len(affix) :].strip(), True
            if key.endswith(affix) and len(key) > len(affix):
                key, changed = key[: -len(affix)].strip(), True
    return key


def lookup_text(
    text: str,
    index: Mapping[str, str],
    noise_words: frozenset[str] = frozenset(),
    cjk_affixes: tuple[str, ...] = (),
) -> str | None:
    """Return the value `index` gives the whole of `text`, or None.

    `index` maps `text_key`s (built with the same noise words and affixes) to values. Bracketed
    parts are looked at separately: each must reduce to nothing or name the same value, so
    "铁蛋白(FER)" and "Ferritin (serum)" match ferritin but "Ferritin (CSF)" matches nothing.
    Failing that, the whole text (brackets included) is looked up: "D-dimer (DDU)".
    """
    nfkc = unicodedata.normalize("NFKC", text)
    found = index.get(text_key(_BRACKETED.sub(" ", nfkc), noise_words, cjk_affixes))
    if found is not None:
        inner_keys = (text_key(i, noise_words, cjk_affixes) for i in _BRACKETED.findall(nfkc))
        if all(not key or index.get(key) == found for key in inner_keys):
            return found
    return index.get(text_key(nfkc, noise_words, cjk_affixes))


def build_index(
    entries: Iterable[tuple[str, str]],
    noise_words: frozenset[str] = frozenset(),
    cjk_affixes: tuple[str, ...] = (),
) -> tuple[dict[str, str], list[str]]:
    """Index (synonym, value) pairs by `text_key`; also return the keys claimed by two values."""
    index: dict[str, str] = {}
    clashes: list[str] = []
    for synonym, value in entries:
        key = text_key(synonym, noise_words, cjk_affixes)
        if not key:
            continue
        if index.get(key, value) != value:
            clashes.append(synonym)
        index[key] = value
    return index, clashes


@functools.lru_cache(maxsize=4096)
def _pattern(term: str) -> re.Pattern[str]:
    """Compile a term: CJK as a substring, Latin with a non-letter (or edge) on both sides."""
    if has_cjk(term):
        return re.compile(re.escape(term))
    return re.compile(rf"(?<![^\W\d_]){re.escape(term)}(?![^\W\d_])")


def find_form(text: str) -> str:
    """Return `text` normalised for `find_terms`: `normalise_text`, CJK runs set off by spaces."""
    return _CJK_LATIN_EDGE.sub(" ", normalise_text(text))


def find_terms(text: str, terms: Mapping[str, str]) -> set[str]:
    """Return the values of the `terms` found as words in `text` (longest match wins).

    `terms` maps terms already in `find_form` to values.

    >>> sorted(find_terms("predniSONE 5 MG Oral Tablet", {"prednisone": "P", "prednisolone": "PL"}))
    ['P']
    >>> sorted(find_terms("醋酸泼尼松龙片", {"泼尼松": "P", "泼尼松龙": "PL"}))
    ['PL']
    """
    haystack = find_form(text)
    spans: list[tuple[int, int, str]] = []
    for term, value in terms.items():
        if term:
            spans.extend((m.start(), m.end(), value) for m in _pattern(term).finditer(haystack))
    spans.sort(key=lambda span: (span[0] - span[1], span[0]))
    taken: list[tuple[int, int]] = []
    found: set[str] = set()
    for start, end, value in spans:
        if all(end <= s or start >= e for s, e in taken):
            taken.append((start, end))
            found.add(value)
    return found

"""Unit string normalisation (CLINICAL-SPEC 6.2): free text and UCUM codes to one UCUM spelling.

Real EHRs send '×10^9/L', '10E9/L', 'G/L', 'mg/dl', 'µmol/L', '拷贝/mL' or 'log10 IU/mL' in
`Quantity.unit` with no code. They are read through the alias tables of `adapter.unit_tables`;
an unknown string gives None (the caller quarantines it).
"""

from __future__ import annotations

import re
import unicodedata

from adapter import codes
from adapter.unit_tables import (
    CASE_SENSITIVE_ALIASES,
    CASEFOLD_ALIASES,
    DOSE_UNITS,
    FAMILIES,
    LOG_ALIASES,
    TEMPERATURE,
)

_SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹", "0123456789")
_SUPERSCRIPT_RUN = re.compile("[⁰¹²³⁴⁵⁶⁷⁸⁹]+")
_ANNOTATION = re.compile(r"[\s({\[]*\b(FEU|DDU)\b[\s)}\]]*", re.IGNORECASE)
_KNOWN_UCUM = (
    frozenset(u for units in FAMILIES.values() for u in units)
    | frozenset(TEMPERATURE)
    | frozenset(DOSE_UNITS)
)


def _prepare(raw: str) -> str:
    text = _SUPERSCRIPT_RUN.sub(lambda m: "^" + m.group().translate(_SUPERSCRIPTS), raw)
    return unicodedata.normalize("NFKC", text).strip()


def normalise_one(raw: str, *, ucum: bool) -> str | None:
    """Normalise one unit string; a UCUM code not in the tables is returned as given."""
    text = _prepare(raw)
    found = _ANNOTATION.search(text)
    annotation = found.group(1).upper() if found else None
    text = _ANNOTATION.sub("", text).strip() if found else text
    base: str | None = text if ucum and text in _KNOWN_UCUM else None
    if base is None:
        key = re.sub(r"\s+", "", text).replace("µ", "u").replace("μ", "u").replace("×", "x")
        folded = key.casefold()
        base = CASE_SENSITIVE_ALIASES.get(key) or CASEFOLD_ALIASES.get(folded)
        if base is None and folded in LOG_ALIASES:
            base = f"log10({LOG_ALIASES[folded]})"
    if base is None and ucum and text:
        base = text  # a valid-looking UCUM code we have no rule for: the analyte decides
    if base is None:
        return None
    return f"{base}{{{annotation}}}" if annotation else base


def normalise_unit(unit_text: str | None, code: str | None, system: str | None) -> str | None:
    """Return the UCUM code for a Quantity's unit, or None when the unit is unknown.

    With `system` UCUM the `code` is used (aliases such as "mg/dl" spelled canonically);
    otherwise the free-text table reads `unit_text` (then `code`): '×10^9/L', '10^9/L',
    '10E9/L', 'G/L' -> '10*9/L'; 'mg/dl' -> 'mg/dL'; 'IU/L' -> 'U/L'; 'copies/mL' ->
    '{copies}/mL'; 'log10 IU/mL' -> 'log10([IU]/mL)'. A D-dimer annotation is kept:
    'mg/L FEU' -> 'mg/L{FEU}'.

    >>> normalise_unit("×10⁹/L", None, None)
    '10*9/L'
    >>> normalise_unit(None, "mg/dl", "http://unitsofmeasure.org")
    'mg/dL'
    """
    if code and system and system.strip().rstrip("/") == codes.UCUM:
        return normalise_one(code, ucum=True)
    for raw in (unit_text, code):
        if raw and raw.strip():
            found = normalise_one(raw, ucum=False)
            if found is not None:
                return found
    return None


def split_unit(norm: str) -> tuple[str, str | None, bool]:
    """Split a normalised unit into (base unit, FEU/DDU annotation, log10?)."""
    annotation = None
    if norm.endswith(("{FEU}", "{DDU}")):
        norm, annotation = norm[:-5], norm[-4:-1]
    if norm.startswith("log10(") and norm.endswith(")"):
        return norm[6:-1], annotation, True
    return norm, annotation, False

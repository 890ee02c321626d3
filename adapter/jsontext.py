"""JSON text in and out for FHIR content, with exact decimals.

FHIR decimals carry their precision in their text: ``0.1`` must stay 0.1 (not 0.1000000000000000055)
and ``2.250`` is not the same statement as ``2.25``. So every JSON number with a fraction or an
exponent is parsed into a `decimal.Decimal` built from its exact text (``str(value)`` gives the text
back, trailing zeros included); integers stay `int`. The streaming path (ijson) does the same.
Mappers read numbers through `adapter.fhir.decimal_of`, which passes a Decimal through unchanged.

`dump_json` writes the canonical bytes of a parsed value: compact, keys sorted, decimals written
exactly as they were read. The same resource therefore gives the same bytes (and hash) whether it
came pretty-printed in a Bundle, as an NDJSON line or in a file of its own.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import orjson

# ReadProblem.raw and similar excerpts are cut to this many bytes.
MAX_RAW_BYTES = 64 * 1024

# orjson writes only 64-bit integers; JSON allows any size.
_INT_MIN = -(2**63)
_INT_MAX = 2**64 - 1


class DuplicateKeyError(ValueError):
    """A JSON object names the same key twice (the parser would keep only the last value)."""


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise DuplicateKeyError(f"the key {key!r} appears twice in one object")
            seen.add(key)
    return obj


def _refuse_constant(name: str) -> Any:
    # Python's json accepts NaN and Infinity; JSON (and so FHIR) does not.
    raise ValueError(f"{name} is not a JSON number")


def _int_or_decimal(text: str) -> int | Decimal:
    value = int(text)
    return value if _INT_MIN <= value <= _INT_MAX else Decimal(text)


def parse_json(data: bytes | str) -> Any:
    """Parse JSON text: fractions and exponents as exact Decimals, integers as int.

    UTF-8 (with or without a byte order mark), UTF-16 and UTF-32 are accepted, as by `json.loads`.

    Raises:
        ValueError: the text is not valid JSON (a `json.JSONDecodeError` with a position where
            the parser gives one), names a key twice in one object (`DuplicateKeyError`), uses
            NaN/Infinity, or is not valid Unicode.
    """
    return json.loads(
        data,
        parse_float=Decimal,
        parse_int=_int_or_decimal,
        parse_constant=_refuse_constant,
        object_pairs_hook=_object_without_duplicates,
    )


def _fragment(value: Any) -> orjson.Fragment:
    if isinstance(value, Decimal) and value.is_finite():
        # str() of a finite Decimal is valid JSON number text ("2.250", "1E+2", "-0.0").
        return orjson.Fragment(str(value).encode("ascii"))
    raise TypeError(f"{type(value).__name__} is not JSON")


def _widen_big_ints(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _widen_big_ints(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_widen_big_ints(item) for item in value]
    if isinstance(value, int) and not isinstance(value, bool):
        return value if _INT_MIN <= value <= _INT_MAX else Decimal(value)
    return value


def dump_json(value: Any) -> bytes:
    """Return the canonical JSON bytes of a parsed value (compact, sorted keys, exact decimals).

    Raises:
        ValueError: the value holds text that is not valid Unicode (a lone surrogate) or
            something that is not JSON.
    """
    try:
        return orjson.dumps(value, default=_fragment, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError as exc:
        if "64-bit" not in str(exc):
            raise ValueError(f"cannot be written as JSON: {exc}") from exc
    try:
        return orjson.dumps(_widen_big_ints(value), default=_fragment, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError as exc:
        raise ValueError(f"cannot be written as JSON: {exc}") from exc


def excerpt(data: bytes) -> bytes:
    """Return at most `MAX_RAW_BYTES` of `data`, for quarantine records."""
    return data[:MAX_RAW_BYTES]

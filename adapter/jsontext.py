"""JSON text in and out for FHIR content, with exact decimals.

FHIR decimals carry their precision in their text: ``0.1`` must stay 0.1 (not 0.1000000000000000055)
and ``2.250`` is not the same statement as ``2.25``. So every JSON number with a fraction or an
exponent is parsed into a `decimal.Decimal` built from its exact text (``str(value)`` gives the text
back, trailing zeros included); integers stay `int`. The streaming path (ijson) does the same.
Mappers read numbers through `adapter.fhir.decimal_of`, which passes a Decimal through unchanged.

`dump_json` writes the canonical bytes of a parsed value: compact, keys sorted, decimals written
exactly as they were read. The same resource therefore gives the same bytes (and hash) whether it
came pretty-printed in a Bundle, as an NDJSON line or in a file of its own.

Speed: `parse_canonical` is the import path's parser. It runs the C scanner of the standard
library with ``parse_float=Decimal`` (exact by construction) and no per-object hook, writes the
canonical bytes, and then proves from the two texts that no key was named twice (see
`_no_duplicate_keys`); only text it cannot prove that for (or text with integers beyond 64 bits,
other encodings, errors) goes through the exact checking parser, which gives the same value.
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


# The C scanner, exact for fractions and exponents; used only where `_no_duplicate_keys` holds.
_FAST = json.JSONDecoder(parse_float=Decimal, parse_constant=_refuse_constant)


def parse_json(data: bytes | str) -> Any:
    """Parse JSON text: fractions and exponents as exact Decimals, integers as int.

    UTF-8 (with or without a byte order mark), UTF-16 and UTF-32 are accepted, as by `json.loads`.

    Raises:
        ValueError: the text is not valid JSON (a `json.JSONDecodeError` with a position where
            the parser gives one), names a key twice in one object (`DuplicateKeyError`), uses
            NaN/Infinity, or is not valid Unicode.
    """
    return parse_canonical(data)[0]


def parse_canonical(data: bytes | str) -> tuple[Any, bytes | None]:
    """Parse JSON text like `parse_json`; also return its canonical bytes (`dump_json`).

    The bytes are None when the value cannot be written as JSON (a lone surrogate): callers
    that need them call `dump_json`, which says why.

    Raises:
        ValueError: as `parse_json`.
    """
    fast = _parse_fast(data)
    if fast is not None:
        return fast
    value = _parse_exact(data)
    try:
        return value, dump_json(value)
    except ValueError:
        return value, None


def _parse_fast(data: bytes | str) -> tuple[Any, bytes] | None:
    """The C scanner's value and canonical bytes, or None when the exact parser must decide."""
    if isinstance(data, bytes):
        if json.detect_encoding(data) != "utf-8":
            return None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return None
    else:
        text = data
    try:
        value = _FAST.decode(text)
        canonical = _exact_size(orjson.dumps(value, default=_fragment, option=orjson.OPT_SORT_KEYS))
    except (ValueError, RecursionError, TypeError):
        # Errors, a BOM, integers beyond 64 bits, lone surrogates: the exact path decides.
        return None
    if not _no_duplicate_keys(text, canonical):
        return None
    return value, canonical


def _no_duplicate_keys(text: str, canonical: bytes) -> bool:
    """True when parsing `text` dropped no key: it holds as many strings as `canonical`.

    Every string (key or value) is delimited by two quotes. Without an escaped backslash (two
    backslashes) in either text, a quote that is not a delimiter can only be written as a
    backslash and a quote, so the delimiters can be counted exactly. The canonical text holds
    the strings of the parsed value (decimals and integers are written without quotes); a key
    named twice in one object loses at least its first key string, so the counts differ exactly
    when a key was dropped. Text with escaped backslashes is left to the exact parser (False).
    """
    quotes = text.count('"')
    if "\\" in text:
        if "\\\\" in text:
            return False
        quotes -= text.count('\\"')
    written = canonical.count(b'"')
    if b"\\" in canonical:
        if b"\\\\" in canonical:
            return False
        written -= canonical.count(b'\\"')
    return quotes == written


def _parse_exact(data: bytes | str) -> Any:
    """The checking parser: every object through `_object_without_duplicates`."""
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


def dump_json(value: Any, *, indent: bool = False) -> bytes:
    """Return the canonical JSON bytes of a parsed value (compact, sorted keys, exact decimals).

    `indent`: the same, indented by two spaces, for people to read (not canonical).

    Raises:
        ValueError: the value holds text that is not valid Unicode (a lone surrogate) or
            something that is not JSON.
    """
    option = orjson.OPT_SORT_KEYS | (orjson.OPT_INDENT_2 if indent else 0)
    try:
        return _exact_size(orjson.dumps(value, default=_fragment, option=option))
    except orjson.JSONEncodeError as exc:
        if "64-bit" not in str(exc):
            raise ValueError(f"cannot be written as JSON: {exc}") from exc
    try:
        widened = _widen_big_ints(value)
        return _exact_size(orjson.dumps(widened, default=_fragment, option=option))
    except orjson.JSONEncodeError as exc:
        raise ValueError(f"cannot be written as JSON: {exc}") from exc


def _exact_size(data: bytes) -> bytes:
    """A copy of orjson's result that holds only its bytes.

    orjson hands back its working buffer (4 KiB and up, whatever the length); the canonical
    bytes of every resource of a batch are kept until the batch is written, so the copy keeps
    memory in proportion to the data.
    """
    return bytes(memoryview(data))


def excerpt(data: bytes) -> bytes:
    """Return at most `MAX_RAW_BYTES` of `data`, for quarantine records."""
    return data[:MAX_RAW_BYTES]

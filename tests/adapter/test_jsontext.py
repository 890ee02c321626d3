"""The fast exact JSON path gives what the checking parser gives, or hands the text over to it."""

from __future__ import annotations

import random
from decimal import Decimal

import orjson
import pytest

from adapter.jsontext import (
    DuplicateKeyError,
    _parse_exact,
    _parse_fast,
    dump_json,
    parse_canonical,
    parse_json,
)


def _same(left, right):
    """Equal values of the same types all the way down (Decimal('2.250') is not 2.25)."""
    if type(left) is not type(right):
        return False
    if isinstance(left, dict):
        return list(left) == list(right) and all(_same(left[k], right[k]) for k in left)
    if isinstance(left, list):
        return len(left) == len(right) and all(map(_same, left, right))
    if isinstance(left, Decimal):
        return left.as_tuple() == right.as_tuple()
    return left == right


FAST_TEXTS = [
    b'{"resourceType":"Observation","valueQuantity":{"value":2.250,"unit":"mg"}}',
    b'{"a":1e5,"b":-0.0,"c":0.1,"d":1E-7,"e":-12,"f":18446744073709551615}',
    b'{"a":-9223372036854775808,"b":[1,2.50,{"c":"x"}],"d":null,"e":true}',
    b'{"div":"<div xmlns=\\"http://www.w3.org/1999/xhtml\\">a \\"b\\"</div>","k":0.10}',
    b'{"a":"\\u00e9\\n\\t","b":"\\/","c":"\xe9\x93\x81\xe8\x9b\x8b\xe7\x99\xbd"}',
    b'{\n  "resourceType" : "Patient",\n  "id" : "p",\n  "x" : [ 1.0 , 2 ]\n}\n',
    b'{"a":"\\u0022","b":"x\\":y"}',
]


@pytest.mark.parametrize(
    "text",
    FAST_TEXTS,
    ids=["trailing-zero", "exponents", "ints-64bit", "xhtml", "escapes", "pretty", "quotes"],
)
def test_fast_path_takes_plain_text_and_matches_the_checking_parser(text):
    fast = _parse_fast(text)
    assert fast is not None
    exact = _parse_exact(text)
    assert _same(fast[0], exact)
    assert fast[1] == dump_json(exact)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (b'{"a":1,"a":2}', DuplicateKeyError),
        (b'{"a":{"b":"x","b":"x"}}', DuplicateKeyError),
        (b'{"a":"q\\"x","a":1}', DuplicateKeyError),
        (b'{"a" : 1, "a" : 2}', DuplicateKeyError),
        (b'{"a":"\\\\","a":1}', DuplicateKeyError),
        (b'{"a":NaN}', ValueError),
        (b'{"a":1', ValueError),
    ],
    ids=["flat", "nested", "escaped-quote", "spaced", "escaped-backslash", "nan", "truncated"],
)
def test_duplicate_keys_and_bad_text_are_refused_as_before(text, error):
    assert _parse_fast(text) is None
    with pytest.raises(error):
        parse_json(text)


@pytest.mark.parametrize(
    "text",
    [
        b'{"a":123456789012345678901234567890}',
        b'{"a":-9223372036854775809}',
        b'\xef\xbb\xbf{"a":1.50}',
        '{"a":2.50}'.encode("utf-16"),
        b'{"path":"C:\\\\x","v":1.0}',
    ],
    ids=["big-int", "small-int", "bom", "utf-16", "escaped-backslash"],
)
def test_text_the_fast_path_cannot_prove_goes_to_the_checking_parser(text):
    assert _parse_fast(text) is None
    value, canonical = parse_canonical(text)
    assert _same(value, _parse_exact(text))
    assert canonical == dump_json(value)


def test_lone_surrogate_parses_but_has_no_canonical_bytes():
    value, canonical = parse_canonical(b'{"a":"\\ud800"}')
    assert value == {"a": "\ud800"}
    assert canonical is None


def _random_value(rng, depth=0):
    roll = rng.random()
    if depth < 3 and roll < 0.3:
        keys = rng.sample(["a", "b", "c", "value", "code", "\u94c1", 'q"k'], rng.randint(0, 4))
        return {k: _random_value(rng, depth + 1) for k in keys}
    if depth < 3 and roll < 0.45:
        return [_random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    choices = [
        lambda: orjson.Fragment(str(rng.randint(-(2**70), 2**70)).encode()),
        lambda: orjson.Fragment(f"{rng.uniform(-1e3, 1e3):.{rng.randint(0, 5)}f}".encode()),
        lambda: orjson.Fragment(f"{rng.randint(1, 99)}e{rng.randint(-9, 9)}".encode()),
        lambda: rng.choice(['x"y', "a\\b", "\u00e9", "2.50", "", "\n"]),
        lambda: rng.choice([True, False, None]),
    ]
    return rng.choice(choices)()


@pytest.mark.parametrize("seed", range(4), ids=lambda s: f"seed-{s}")
def test_random_documents_parse_alike_on_both_paths(seed):
    rng = random.Random(seed)
    for _ in range(300):
        document = {"resourceType": "X", "v": _random_value(rng)}
        compact = orjson.dumps(document)
        # Spaces and line breaks around every colon and comma (inside strings too: still JSON).
        spaced = compact.replace(b":", b" : ").replace(b",", b" ,\n ")
        for text in (compact, spaced):
            value, canonical = parse_canonical(text)
            assert _same(value, _parse_exact(text))
            assert canonical == dump_json(value)

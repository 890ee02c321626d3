"""Tests of the FHIR datatype helpers (STYLE 6.6, anti-pattern 4)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from adapter.errors import MappingError
from adapter.fhir import (
    choice,
    concept_text,
    contained,
    decimal_of,
    extension_values,
    parse_date,
    parse_time,
    pick_coding,
    reference_to,
    split_reference,
)

LOINC = "http://loinc.org"


@pytest.mark.parametrize(
    ("text", "expected", "precision"),
    [
        ("2024", datetime(2024, 1, 1, tzinfo=UTC), "year"),
        ("2024-03", datetime(2024, 3, 1, tzinfo=UTC), "month"),
        ("2024-03-05", datetime(2024, 3, 5, tzinfo=UTC), "day"),
        ("2024-03-05T08:00:00+08:00", datetime(2024, 3, 5, 0, 0, tzinfo=UTC), "second"),
        ("2024-03-05T23:30:00-05:00", datetime(2024, 3, 6, 4, 30, tzinfo=UTC), "second"),
        (
            "2024-03-05T08:00:00.123456789Z",
            datetime(2024, 3, 5, 8, 0, 0, 123456, tzinfo=UTC),
            "second",
        ),
        ("2024-03-05T08:00Z", datetime(2024, 3, 5, 8, 0, tzinfo=UTC), "minute"),
    ],
    ids=["year", "month", "day", "plus8", "minus5-next-day", "fraction", "minute"],
)
def test_parse_time_keeps_precision_and_converts_to_utc(text, expected, precision):
    parsed = parse_time(text)
    assert parsed.value == expected
    assert parsed.precision == precision
    assert parsed.is_date_only == (precision in ("year", "month", "day"))


@pytest.mark.parametrize(
    "text",
    ["2024-13", "2024-03-05T08:00:00", "05/03/2024", "", 20240305, None],
    ids=["month-13", "no-zone", "us-format", "empty", "number", "none"],
)
def test_parse_time_refuses_what_is_not_fhir(text):
    with pytest.raises(ValueError):
        parse_time(text)


def test_parse_time_uses_assumed_zone_for_zoneless_times():
    shanghai = timezone(timedelta(hours=8))
    parsed = parse_time("2024-03-05T08:00:00", assume_tz=shanghai)
    assert parsed.value == datetime(2024, 3, 5, 0, 0, tzinfo=UTC)


def test_parse_date_refuses_datetime():
    assert parse_date("1980-12")[1] == "month"
    with pytest.raises(ValueError, match="dateTime"):
        parse_date("1980-12-01T00:00:00Z")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.1, Decimal("0.1")),
        (Decimal("2.250"), Decimal("2.250")),
        (7, Decimal(7)),
        ("1.5", Decimal("1.5")),
    ],
    ids=["float-repr", "decimal-kept", "int", "string"],
)
def test_decimal_of_is_exact(value, expected):
    assert decimal_of(value) == expected
    assert str(decimal_of(value)) == str(expected)


@pytest.mark.parametrize("value", [True, "abc", None, [1]], ids=["bool", "text", "none", "list"])
def test_decimal_of_refuses_non_numbers(value):
    with pytest.raises(ValueError):
        decimal_of(value)


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("Patient/12", ("Patient", "12")),
        ("Patient/12/_history/3", ("Patient", "12")),
        ("https://h.example/fhir/R4/Patient/abc-1", ("Patient", "abc-1")),
        ("#med1", (None, "#med1")),
        ("urn:uuid:6c5d9ca9-54d7", (None, "urn:uuid:6c5d9ca9-54d7")),
    ],
    ids=["relative", "versioned", "absolute", "contained", "urn"],
)
def test_split_reference(reference, expected):
    assert split_reference(reference) == expected


class _Bundle:
    def resolve(self, reference):
        return None

    def canonical_ref(self, reference):
        return "Patient/p1" if reference == "urn:uuid:1" else None


def test_reference_to_resolves_urn_through_bundle():
    assert (
        reference_to(
            {"reference": "urn:uuid:1"}, "Patient", field_path="X.subject", bundle=_Bundle()
        )
        == "p1"
    )


@pytest.mark.parametrize(
    ("element", "reason", "message"),
    [
        (None, "missing-element", "X.subject is missing"),
        ({"identifier": {"value": "MRN1"}}, "missing-element", "given only as an identifier"),
        ({"reference": "Group/g1"}, "invalid-value", "points to a Group"),
        ({"reference": "urn:uuid:unknown"}, "invalid-value", "cannot be resolved"),
    ],
    ids=["missing", "logical", "wrong-type", "unresolvable-urn"],
)
def test_reference_to_refuses_with_field_path(element, reason, message):
    with pytest.raises(MappingError, match=message) as caught:
        reference_to(element, "Patient", field_path="X.subject", bundle=_Bundle())
    assert caught.value.reason_code == reason
    assert caught.value.field_path.startswith("X.subject")


def test_pick_coding_prefers_system_wherever_it_is():
    concept = {"coding": [{"system": "local", "code": "FER"}, {"system": LOINC, "code": "2276-4"}]}
    assert pick_coding(concept, (LOINC,))["code"] == "2276-4"
    assert pick_coding(concept, ("nothing",))["code"] == "FER"
    assert pick_coding({"text": "x"}, (LOINC,)) is None


def test_concept_text_falls_back_to_display():
    assert concept_text({"text": "Ferritin"}) == "Ferritin"
    assert concept_text({"coding": [{"display": "铁蛋白"}]}) == "铁蛋白"
    assert concept_text(None) is None


def test_choice_extension_and_contained():
    assert choice({"valueQuantity": {"value": 1}}, "value") == ("Quantity", {"value": 1})
    assert choice({"valueset": 1}, "value") is None
    element = {"extension": [{"url": "u", "valueInteger": 2}, {"url": "v", "valueString": "x"}]}
    assert extension_values(element, "u") == [2]
    resource = {"contained": [{"resourceType": "Medication", "id": "m1"}]}
    assert contained(resource, "#m1") == {"resourceType": "Medication", "id": "m1"}
    assert contained(resource, "#m2") is None

"""Tests for adapter.streaming: very large Bundles read entry by entry."""

from __future__ import annotations

import gzip
import json
import tracemalloc
from pathlib import Path

import pytest

import adapter.readers
from adapter.reading import STREAM_THRESHOLD, ReadProblem, SourceItem, iter_items


def bundle_text(count: int, *, padding: int = 0, resource_type_last: bool = False) -> bytes:
    """A transaction Bundle like Synthea's: Patient then Observations referring to it."""
    entries = [
        {
            "fullUrl": "urn:uuid:p0",
            "resource": {"resourceType": "Patient", "id": "p0"},
            "request": {"method": "POST", "url": "Patient"},
        }
    ]
    for n in range(1, count):
        resource = {
            "resourceType": "Observation",
            "id": f"o{n}",
            "status": "final",
            "code": {"text": "ferritin"},
            "subject": {"reference": "urn:uuid:p0"},
            "valueQuantity": {"value": 2.25, "unit": "ng/mL"},
            "note": [{"text": "x" * padding}],
        }
        entries.append(
            {"fullUrl": f"urn:uuid:o{n}", "resource": resource, "request": {"method": "POST"}}
        )
    body = {"type": "transaction", "entry": entries}
    bundle = (
        body | {"resourceType": "Bundle"}
        if resource_type_last
        else {"resourceType": "Bundle"} | body
    )
    return json.dumps(bundle).replace("2.25", "2.250").encode()


def refuse_whole_file_read(monkeypatch):
    def refuse(*_args):
        raise AssertionError("the file was read whole instead of streamed")

    monkeypatch.setattr(adapter.readers, "read_json", refuse)


@pytest.mark.parametrize(
    ("compressed", "resource_type_last"),
    [(False, False), (True, False), (False, True)],
    ids=["plain", "gz-size-from-trailer", "resourcetype-after-entries"],
)
def test_streaming_large_bundle_yields_entries_with_index_only_context(
    tmp_path, monkeypatch, compressed, resource_type_last
):
    text = bundle_text(500, resource_type_last=resource_type_last)
    path = tmp_path / ("big.json.gz" if compressed else "big.json")
    path.write_bytes(gzip.compress(text) if compressed else text)
    refuse_whole_file_read(monkeypatch)
    items = list(iter_items([path], stream_threshold=len(text) - 1))
    assert [i.locator for i in items[:2]] == ["entry 1", "entry 2"]
    assert len(items) == 500
    observation = items[1]
    context = observation.bundle_context
    assert context.index_only
    assert context.canonical_ref("urn:uuid:p0") == "Patient/p0"
    assert context.resolve("urn:uuid:p0") is None  # index-only: no resources kept
    assert str(observation.resource["valueQuantity"]["value"]) == "2.250"


def test_streaming_gives_the_same_items_as_reading_whole(tmp_path):
    path = tmp_path / "b.json"
    path.write_bytes(bundle_text(50))
    whole = list(iter_items([path]))
    streamed = list(iter_items([path], stream_threshold=0))
    key = [(i.locator, i.resource_type, i.resource_id, i.raw, i.fhir_version) for i in whole]
    assert key == [
        (i.locator, i.resource_type, i.resource_id, i.raw, i.fhir_version) for i in streamed
    ]


def test_streaming_default_threshold_streams_a_bundle_over_32_mib(tmp_path, monkeypatch):
    text = bundle_text(16_000, padding=2_000)
    assert len(text) > STREAM_THRESHOLD
    path = tmp_path / "huge.json"
    path.write_bytes(text)
    del text
    refuse_whole_file_read(monkeypatch)
    count = 0
    for item in iter_items([path]):
        assert isinstance(item, SourceItem)
        count += 1
    assert count == 16_000


@pytest.mark.parametrize("kind", ["bundle", "ndjson"], ids=["bundle", "ndjson-gz"])
def test_streaming_memory_does_not_grow_with_file_size(tmp_path, kind):
    """Verify that peak memory while reading stays a small fraction of the file size."""
    if kind == "bundle":
        text = bundle_text(2_000, padding=4_000)
        path = tmp_path / "big.json"
        path.write_bytes(text)
        kwargs = {"stream_threshold": 1024 * 1024}
    else:
        line = json.dumps({"resourceType": "Patient", "text": {"div": "y" * 4_000}}) + "\n"
        text = line.encode() * 2_000
        path = tmp_path / "big.ndjson.gz"
        path.write_bytes(gzip.compress(text))
        kwargs = {}
    tracemalloc.start()
    try:
        count = sum(1 for _ in iter_items([path], **kwargs))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 2_000
    assert peak < len(text) / 10


def test_streaming_large_non_bundle_is_read_whole(tmp_path):
    path = tmp_path / "binary.json"
    path.write_text(json.dumps({"resourceType": "Binary", "data": "QUJD" * 1000}), encoding="utf-8")
    [item] = list(iter_items([path], stream_threshold=100))
    assert (item.resource_type, item.locator, item.bundle_context) == ("Binary", "file", None)


@pytest.mark.parametrize(
    "text",
    [b'{"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "Patient"}}, {',
     b'\xef\xbb\xbf{"resourceType": "Bundle", "entry": [{"resource": {"a": 1, "a": 2}}]}'],
    ids=["truncated", "duplicate-key"],
)  # fmt: skip
def test_streaming_broken_large_file_is_one_problem(tmp_path, text):
    path = tmp_path / "broken.json"
    path.write_bytes(text)
    [problem] = list(iter_items([path], stream_threshold=10))
    assert isinstance(problem, ReadProblem)
    assert problem.reason_code == "invalid-json"
    assert problem.message.startswith(f"{path}: the text is not valid JSON") or "twice" in (
        problem.message
    )
    assert "\n" not in problem.message  # the parser's quoted context is left out
    assert problem.raw == text


def test_streaming_bom_is_accepted(tmp_path):
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + bundle_text(3))
    assert len(list(iter_items([Path(path)], stream_threshold=10))) == 3

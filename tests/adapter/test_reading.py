"""Tests for adapter.reading: files, NDJSON, directories, decimals, versions, accounting."""

from __future__ import annotations

import gzip
import json
import os
import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from adapter.errors import ConfigError, ReadError
from adapter.jsontext import MAX_RAW_BYTES
from adapter.reading import ReadProblem, ReadStats, SourceItem, iter_items

DATA = Path(__file__).parent / "data" / "reading"
SHARED = Path("/work/shared/data")


def read_all(*paths: Path | str, **kwargs):
    stats = ReadStats()
    results = list(iter_items(list(paths), stats=stats, **kwargs))
    return results, stats


def summary(results):
    """(kind, type, id, locator) per result; kind is item, deleted or the problem's reason."""
    rows = []
    for result in results:
        if isinstance(result, SourceItem):
            kind = "deleted" if result.deleted else "item"
            rows.append((kind, result.resource_type, result.resource_id, result.locator))
        else:
            rows.append((result.reason_code, None, None, result.locator))
    return rows


def write(path: Path, value) -> Path:
    path.write_text(json.dumps(value), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("name", "expected", "not_content"),
    [
        (
            "transaction.json",
            [
                ("item", "Patient", "8d1c4a1e-0000-4000-8000-000000000001", "entry 1"),
                ("item", "Observation", "8d1c4a1e-0000-4000-8000-000000000002", "entry 2"),
                ("deleted", "Patient", "old", "entry 3"),
                ("unsupported-entry", None, None, "entry 5"),  # PATCH; entry 4 is a bare GET
            ],
            {"requests_only": 1},
        ),
        (
            "searchset.json",
            [
                ("item", "MedicationRequest", "mr1", "entry 1"),
                ("item", "Medication", "med1", "entry 2"),  # search.mode = include is content
            ],
            {"operation_outcomes": 1},  # search.mode = outcome
        ),
        (
            "history.json",
            [
                ("item", "Condition", "c1", "entry 1"),
                ("deleted", "Condition", "c2", "entry 2"),
                ("deleted", "Observation", "o9", "entry 3"),  # history entry without resource
            ],
            {},
        ),
        (
            "batch-response.json",
            [
                ("item", "Patient", "p1", "entry 1"),
                ("item", "Observation", "o1", "entry 2.1"),  # nested searchset, flattened
            ],
            {"operation_outcomes": 2, "responses_only": 1},
        ),
        (
            "Bundle.deleted.ndjson",
            [
                ("deleted", "Patient", "123", "entry 1 (line 1)"),
                ("deleted", "Observation", "456", "entry 2 (line 1)"),
                ("deleted", "Condition", "789", "entry 1 (line 2)"),
            ],
            {},
        ),
    ],
    ids=["transaction", "searchset", "history", "batch-response", "bulk-deleted-ndjson"],
)
def test_reading_bundle_entries_are_items_deletions_problems_or_counted(
    name, expected, not_content
):
    results, stats = read_all(DATA / name)
    assert summary(results) == expected
    for counter in ("operation_outcomes", "requests_only", "responses_only"):
        assert getattr(stats, counter) == not_content.get(counter, 0), counter
    assert stats.items + stats.problems == len(expected)


@pytest.mark.parametrize(
    "bundle_type",
    [
        "collection", "document", "message", "transaction", "batch", "transaction-response",
        "batch-response", "searchset", "history",
    ],
)  # fmt: skip
def test_reading_every_bundle_type_yields_its_resource(tmp_path, bundle_type):
    entry = {"fullUrl": "urn:uuid:1", "resource": {"resourceType": "Patient", "id": "1"}}
    path = write(
        tmp_path / "b.json", {"resourceType": "Bundle", "type": bundle_type, "entry": [entry]}
    )
    results, stats = read_all(path)
    assert summary(results) == [("item", "Patient", "1", "entry 1")]
    assert (stats.bundles, stats.entries) == (1, 1)


def test_reading_history_keeps_last_modified_of_versions_and_deletions():
    results, _ = read_all(DATA / "history.json")
    assert [r.last_modified for r in results] == [
        "2024-03-02T10:00:00Z",
        "2024-03-03T11:00:00Z",
        "2024-03-04T12:00:00Z",
    ]
    deletion = results[1]
    assert deletion.resource == {"resourceType": "Condition", "id": "c2"}
    assert json.loads(deletion.raw)["request"] == {"method": "DELETE", "url": "Condition/c2"}


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ({"request": {"method": "DELETE", "url": "Patient/1"}}, ("Patient", "1")),
        ({"request": {"method": "delete", "url": "Patient?identifier=x|1"}}, ("Patient", None)),
        (
            {"request": {"method": "DELETE", "url": "https://h.example/fhir/Patient/1/_history/3"}},
            ("Patient", "1"),
        ),
        (
            {"fullUrl": "https://h.example/fhir/Observation/7", "request": {"method": "DELETE"}},
            ("Observation", "7"),
        ),
        ({"request": {"method": "DELETE"}}, None),
    ],
    ids=["type-id", "conditional", "absolute-versioned", "from-fullurl", "no-target"],
)
def test_reading_deletion_target(tmp_path, entry, expected):
    path = write(tmp_path / "b.json", {"resourceType": "Bundle", "type": "batch", "entry": [entry]})
    [result] = list(iter_items([path]))
    if expected is None:
        assert isinstance(result, ReadProblem)
        assert result.reason_code == "unsupported-entry"
    else:
        assert result.deleted
        assert (result.resource_type, result.resource_id) == expected


def test_reading_bundle_context_resolves_urn_uuid_and_type_id():
    results, _ = read_all(DATA / "transaction.json")
    observation = results[1]
    context = observation.bundle_context
    patient_url = "urn:uuid:8d1c4a1e-0000-4000-8000-000000000001"
    assert context.resolve(patient_url)["gender"] == "female"
    assert context.canonical_ref(patient_url) == "Patient/8d1c4a1e-0000-4000-8000-000000000001"
    assert context.resolve("Patient/8d1c4a1e-0000-4000-8000-000000000001") is not None
    assert context.resolve("Patient/8d1c4a1e-0000-4000-8000-000000000001/_history/1") is not None
    assert context.resolve("http://example.org/fhir/Patient/old") is None  # deleted, no resource
    assert context.canonical_ref("urn:uuid:unknown") is None
    assert context.resolve("#contained") is None


def test_reading_nested_bundle_context_falls_back_to_the_outer_bundle(tmp_path):
    inner = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [{"resource": {"resourceType": "Observation", "id": "o1"}}],
    }
    outer_entries = [
        {"fullUrl": "urn:uuid:p", "resource": {"resourceType": "Patient", "id": "p"}},
        {"resource": inner},
    ]
    path = write(
        tmp_path / "b.json",
        {"resourceType": "Bundle", "type": "collection", "entry": outer_entries},
    )
    results, stats = read_all(path)
    assert [r.locator for r in results] == ["entry 1", "entry 2.1"]
    assert results[1].bundle_context.canonical_ref("urn:uuid:p") == "Patient/p"
    assert (stats.bundles, stats.entries) == (2, 3)


@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "gz"])
def test_reading_ndjson_goes_on_after_a_broken_line(tmp_path, compressed):
    source = DATA / "resources.ndjson"
    path = source
    if compressed:
        path = tmp_path / "resources.ndjson.gz"
        path.write_bytes(gzip.compress(source.read_bytes()))
    results, stats = read_all(path)
    assert summary(results) == [
        ("item", "Patient", "n1", "line 1"),
        ("item", "Observation", "n2", "line 3"),
        ("invalid-json", None, None, "line 4"),
        ("not-a-resource", None, None, "line 6"),
        ("item", "Patient", "n4", "line 7"),
    ]
    broken = results[2]
    assert broken.message.startswith(f"{path}, line 4: the text is not valid JSON")
    assert broken.raw == b'{"resourceType":"Observation","id":"n3", BROKEN'
    assert stats.problems == 2


def test_reading_broken_json_file_is_one_problem_with_truncated_text(tmp_path):
    path = tmp_path / "broken.json"
    path.write_bytes(b'{"resourceType": "Patient", "text": "' + b"x" * (MAX_RAW_BYTES + 10))
    [problem] = list(iter_items([path]))
    assert problem.reason_code == "invalid-json"
    assert problem.locator == "file"
    assert problem.message.startswith(f"{path}: the text is not valid JSON (")
    assert "line 1, column" in problem.message
    assert len(problem.raw) == MAX_RAW_BYTES


def test_reading_ndjson_content_in_a_json_file_gets_a_hint(tmp_path):
    path = tmp_path / "export.json"
    path.write_text('{"resourceType":"Patient"}\n{"resourceType":"Patient"}\n', encoding="utf-8")
    [problem] = list(iter_items([path]))
    assert "must be named .ndjson" in problem.message


def test_reading_directory_is_recursive_sorted_and_reports_other_files():
    results, stats = read_all(DATA / "mixed")
    origins = [(Path(r.origin).relative_to(DATA / "mixed").as_posix(), r.locator) for r in results]
    assert origins == [
        ("a.ndjson", "line 1"),
        ("a.ndjson", "line 3"),
        ("a.ndjson", "line 4"),
        ("a.ndjson", "line 6"),
        ("a.ndjson", "line 7"),
        ("d.JSON", "entry 1"),
        ("d.JSON", "entry 2"),
        ("d.JSON", "entry 3"),
        ("sub/b.json", "entry 1"),
        ("sub/b.json", "entry 2"),
        ("sub/c.ndjson.gz", "line 1"),
        ("sub/e.json.gz", "entry 1"),
        ("sub/e.json.gz", "entry 2"),
        ("sub/e.json.gz", "entry 3"),
        ("sub/e.json.gz", "entry 5"),
    ]
    # Documentation met while walking a folder is listed, not read and not quarantined.
    assert [Path(p).name for p in stats.ignored_files] == ["notes.txt"]
    assert stats.files == 5


def test_reading_documentation_given_by_name_is_unsupported():
    [problem] = list(iter_items([DATA / "mixed" / "notes.txt"]))
    assert problem.reason_code == "unsupported-file"
    assert "notes.txt: this is not a file the registry reads" in problem.message


def test_reading_single_resource_file_and_path_given_as_string(tmp_path):
    path = write(tmp_path / "p.json", {"resourceType": "Patient", "id": "x"})
    [item] = list(iter_items(str(path)))
    assert (item.origin, item.locator, item.bundle_context) == (str(path), "file", None)


def test_reading_missing_path_raises_before_reading(tmp_path):
    with pytest.raises(ReadError, match=r"nope\.json"):
        iter_items([tmp_path / "nope.json"])


def test_reading_truncated_gzip_is_unreadable_after_the_lines_read(tmp_path):
    lines = b"".join(b'{"resourceType":"Patient","id":"p%d"}\n' % n for n in range(2000))
    path = tmp_path / "cut.ndjson.gz"
    path.write_bytes(gzip.compress(lines)[:-200])
    results = list(iter_items([path]))
    assert all(isinstance(r, SourceItem) for r in results[:-1])
    assert results[-1].reason_code == "unreadable-file"
    assert results[-1].locator == f"line {len(results)}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0.1", "0.1"),
        ("2.250", "2.250"),
        ("2.25", "2.25"),
        ("1e5", "1E+5"),
        ("-0.000001", "-0.000001"),
        ("123456789012345678901234567890.5", "123456789012345678901234567890.5"),
    ],
    ids=["one-tenth", "trailing-zero", "no-trailing-zero", "exponent", "small", "long"],
)
def test_reading_decimals_keep_their_exact_text(tmp_path, text, expected):
    path = tmp_path / "o.ndjson"
    line = '{"resourceType":"Observation","valueQuantity":{"value":' + text + "}}\n"
    path.write_text(line, encoding="utf-8")
    [item] = list(iter_items([path]))
    value = item.resource["valueQuantity"]["value"]
    assert isinstance(value, Decimal)
    assert str(value) == expected
    assert f'"value":{expected}'.encode() in item.raw


def test_reading_integers_stay_int_and_raw_is_canonical(tmp_path):
    path = tmp_path / "p.json"
    path.write_text(
        '{\n  "resourceType": "Patient",\n  "id": "p", "multipleBirthInteger": 2,\n'
        '  "extension": [{"url": "u", "valueInteger": 123456789012345678901234567890}]\n}',
        encoding="utf-8",
    )
    [item] = list(iter_items([path]))
    assert item.resource["multipleBirthInteger"] == 2
    assert item.raw == (
        b'{"extension":[{"url":"u","valueInteger":123456789012345678901234567890}],'
        b'"id":"p","multipleBirthInteger":2,"resourceType":"Patient"}'
    )


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ('{"resourceType":"Observation","valueQuantity":{"value":NaN}}', "NaN is not a JSON"),
        ('{"resourceType":"Patient","id":"a","id":"b"}', "the key 'id' appears twice"),
        ('{"resourceType":"Patient","name":"\\ud800"}', "not valid"),
        ('["not", "an", "object"]', "no resourceType"),
    ],
    ids=["nan", "duplicate-key", "lone-surrogate", "array"],
)
def test_reading_refuses_json_that_would_lose_or_invent_data(tmp_path, line, fragment):
    path = tmp_path / "x.ndjson"
    path.write_text(line + "\n", encoding="utf-8")
    [problem] = list(iter_items([path]))
    assert isinstance(problem, ReadProblem)
    assert fragment in problem.message


R5_ADMINISTRATION = {
    "resourceType": "MedicationAdministration",
    "status": "completed",
    "medication": {"concept": {"text": "emapalumab"}},
    "subject": {"reference": "Patient/p"},
    "occurenceDateTime": "2024-01-01T10:00:00Z",
}


@pytest.mark.parametrize(
    ("configured", "expected"),
    [(None, ["R5", "R5"]), ("4.0.1", ["R4", "R4"]), ("R4B", ["R4B", "R4B"])],
    ids=["detected-and-bundle-hint", "configured-r4", "configured-r4b"],
)
def test_reading_version_precedence(tmp_path, configured, expected):
    entries = [
        {"resource": {"resourceType": "Patient", "id": "p"}},
        {"resource": R5_ADMINISTRATION},
    ]
    path = write(
        tmp_path / "b.json", {"resourceType": "Bundle", "type": "collection", "entry": entries}
    )
    results = list(iter_items([path], fhir_version=configured))
    # The Patient has no version-specific element: it follows its Bundle (R5) unless configured.
    assert [r.fhir_version for r in results] == expected


def test_reading_version_defaults_to_r4_and_refuses_unknown(tmp_path):
    path = write(tmp_path / "p.json", {"resourceType": "Patient"})
    assert next(iter(iter_items([path]))).fhir_version == "R4"
    with pytest.raises(ConfigError):
        iter_items([path], fhir_version="3.0.2")


def _leaf_count(value) -> int:
    """Count independently what the reader must account for in one parsed JSON value."""
    if not (isinstance(value, dict) and value.get("resourceType") == "Bundle"):
        return 1
    total = 0
    for entry in value.get("entry", []):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        nested = isinstance(resource, dict) and resource.get("resourceType") == "Bundle"
        total += _leaf_count(resource) if nested else 1
    return total


def _expected_units(root: Path) -> tuple[int, int]:
    files = units = 0
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        files += 1
        name = path.name.lower()
        opener = gzip.open if name.endswith(".gz") else open
        if name.endswith((".ndjson", ".ndjson.gz")):
            with opener(path, "rt", encoding="utf-8") as stream:
                units += sum(_leaf_count(json.loads(line)) for line in stream if line.strip())
        elif name.endswith((".json", ".json.gz")):
            with opener(path, "rt", encoding="utf-8") as stream:
                units += _leaf_count(json.load(stream))
        elif not name.endswith((".md", ".txt", ".rst")) and not name.startswith(
            ("readme", "license")
        ):
            units += 1  # reported as unsupported (documentation is listed, not read)
    return files, units


@pytest.mark.skipif(not SHARED.is_dir(), reason="shared sample data not present")
def test_reading_all_shared_data_accounts_for_every_entry():
    """Verify that the HL7 examples and 100 Synthea bundles read without a crash, nothing lost."""
    results, stats = read_all(SHARED)
    files, units = _expected_units(SHARED)
    assert stats.files + len(stats.ignored_files) == files
    assert stats.items + stats.problems + stats.not_content == units
    assert len(results) == stats.items + stats.problems
    places = {(r.origin, r.locator) for r in results}
    assert len(places) == len(results)  # every result names a distinct place
    problems = {(Path(r.origin).name, r.reason_code) for r in results if isinstance(r, ReadProblem)}
    assert problems == {("package.json", "not-a-resource")}
    assert [Path(p).name for p in stats.ignored_files] == ["SOURCES.md"]


@pytest.mark.skipif(not SHARED.is_dir(), reason="shared sample data not present")
def test_reading_synthea_references_resolve_within_each_bundle(tmp_path):
    source = sorted((SHARED / "synthea-r4-bundles-100-patients").glob("[A-Z]*_*.json.gz"))[0]
    shutil.copy(source, tmp_path / "patient.json.gz")
    items = [r for r in iter_items([tmp_path]) if isinstance(r, SourceItem)]
    observation = next(i for i in items if i.resource_type == "Observation")
    subject = observation.resource["subject"]["reference"]
    assert subject.startswith("urn:uuid:")
    assert observation.bundle_context.canonical_ref(subject) == f"Patient/{subject[9:]}"


def test_reading_links_and_special_files_are_reported_not_followed_forever(tmp_path):
    root = tmp_path / "export"
    (root / "sub").mkdir(parents=True)
    write(root / "sub" / "p.json", {"resourceType": "Patient", "id": "p"})
    (root / "sub" / "loop").symlink_to(root, target_is_directory=True)
    (root / "broken.json").symlink_to(tmp_path / "missing.json")
    os.mkfifo(root / "pipe.ndjson")
    results, stats = read_all(root)
    assert [(Path(r.origin).relative_to(root).as_posix(), _kind(r)) for r in results] == [
        ("broken.json", "unreadable-file"),
        ("pipe.ndjson", "unsupported-file"),
        ("sub/p.json", "item"),
    ]
    assert stats.files == 3


def _kind(result) -> str:
    return "item" if isinstance(result, SourceItem) else result.reason_code

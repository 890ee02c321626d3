"""Every quarantine reason, end to end (issue 2, item 6).

Nothing is dropped: each entry names file, place, resource, field and a reason a data manager
understands.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from sqlalchemy import select

from adapter.errors import QUARANTINE_REASONS
from registry import rawjson, tables
from registry.ingest import ImportOptions, import_paths
from tests.factories import administration, observation, patient, write_ndjson

SERIOUSNESS = "http://terminology.hl7.org/CodeSystem/adverse-event-seriousness"


def _ae(code: str) -> dict:
    return {
        "resourceType": "AdverseEvent",
        "id": "ae1",
        "actuality": "actual",
        "subject": {"reference": "Patient/p1"},
        "date": "2024-03-05",
        "seriousness": {"coding": [{"system": SERIOUSNESS, "code": code}]},
    }


def _write(folder: Path, reason: str) -> None:
    """Write the files that provoke one quarantine reason (plus the patient they are about)."""
    write_ndjson(folder / "Patient.ndjson", [patient()])
    cases = {
        "invalid-json": lambda: (folder / "x.ndjson").write_text(
            '{"resourceType": \n', encoding="utf-8"
        ),
        "not-a-resource": lambda: write_ndjson(
            folder / "x.ndjson", [{"id": "o1", "status": "final"}]
        ),
        "unsupported-file": lambda: (folder / "notes.xml").write_text(
            "<Patient/>", encoding="utf-8"
        ),
        "unreadable-file": lambda: (folder / "x.ndjson.gz").write_bytes(
            gzip.compress(b'{"a": 1}\n')[:12]
        ),
        "unsupported-entry": lambda: write_ndjson(
            folder / "x.ndjson",
            [
                {
                    "resourceType": "Bundle",
                    "type": "transaction",
                    "entry": [
                        {
                            "request": {"method": "PATCH", "url": "Observation/o1"},
                            "resource": {
                                "resourceType": "Binary",
                                "contentType": "application/json-patch+json",
                            },
                        }
                    ],
                }
            ],
        ),
        "validation-failed": lambda: write_ndjson(
            folder / "x.ndjson", [observation("o1") | {"valueQuantity": {"value": "high"}}]
        ),
        "missing-element": lambda: write_ndjson(
            folder / "x.ndjson", [observation("o1") | {"code": {}}]
        ),
        "invalid-value": lambda: write_ndjson(
            folder / "x.ndjson", [observation("o1", when="03/05/2024")]
        ),
        "unknown-unit": lambda: write_ndjson(
            folder / "x.ndjson", [observation("o1", unit="furlong", code=None)]
        ),
        "non-convertible-unit": lambda: write_ndjson(
            folder / "x.ndjson", [observation("o1", loinc="48065-7", unit="ug/L DDU", code=None)]
        ),
        "unmatched-code": lambda: write_ndjson(folder / "x.ndjson", [_ae("SomewhatSerious")]),
        "missing-patient": lambda: write_ndjson(
            folder / "x.ndjson", [observation("o1", patient_id="ghost")]
        ),
        "missing-medication": lambda: write_ndjson(
            folder / "x.ndjson",
            [
                administration(
                    "a1", medication={"medicationReference": {"reference": "Medication/none"}}
                )
            ],
        ),
        "no-body-weight": lambda: write_ndjson(
            folder / "x.ndjson",
            [administration("a1", dose={"value": 2, "unit": "mg/kg", "code": "mg/kg"})],
        ),
        "conflicting-duplicate": lambda: write_ndjson(
            folder / "x.ndjson", [observation("o1", value=1), observation("o2", value=2)]
        ),
    }
    cases[reason]()


CASES = {
    "invalid-json": (None, "not valid JSON"),
    "not-a-resource": (None, "resourceType"),
    "unsupported-file": (None, "notes.xml"),
    "unreadable-file": (None, "x.ndjson.gz"),
    "unsupported-entry": (None, "PATCH"),
    "validation-failed": ("Observation.valueQuantity.value", "validation"),
    "missing-element": ("Observation.code", "Observation.code is empty"),
    "invalid-value": ("Observation.effectiveDateTime", "not a FHIR date"),
    "unknown-unit": ("Observation.valueQuantity.unit", "furlong"),
    "non-convertible-unit": ("Observation.valueQuantity.unit", "DDU"),
    "unmatched-code": ("AdverseEvent.seriousness", "SomewhatSerious"),
    "missing-patient": ("Observation.subject", "Patient/ghost is not in the registry"),
    "missing-medication": ("MedicationAdministration.medication", "Medication/none"),
    "no-body-weight": (
        "MedicationAdministration.dosage",
        "no body weight within 30 d for mg/kg dose",
    ),
    "conflicting-duplicate": ("Observation.value[x]", "conflicting values"),
}


@pytest.mark.parametrize("reason", list(CASES), ids=list(CASES))
def test_each_reason_is_quarantined_and_accounted(engine, tmp_path, reason):
    folder = tmp_path / "in"
    _write(folder, reason)
    options = ImportOptions(site="s1", validate="full" if reason == "validation-failed" else "off")
    summary = import_paths(engine, [folder], options=options).summary()
    buckets = ("loaded", "updated", "unchanged", "quarantined", "skipped")
    assert summary["read"] == sum(summary[b] for b in buckets)
    assert summary["quarantined"] >= 1
    with engine.connect() as conn:
        entries = conn.execute(select(tables.QUARANTINE)).all()
    found = [e for e in entries if e.reason_code == reason]
    assert found, [e.reason_code for e in entries]
    field, words = CASES[reason]
    entry = found[0]
    assert entry.field_path == field
    assert words in entry.reason
    assert entry.origin.startswith(str(folder))  # the file it came from
    assert entry.reason_code in QUARANTINE_REASONS


def test_quarantine_entry_is_not_duplicated_by_a_rerun(engine, tmp_path):
    folder = tmp_path / "in"
    _write(folder, "unknown-unit")
    for _ in range(2):
        import_paths(engine, [folder], options=ImportOptions(site="s1", validate="off"))
    with engine.connect() as conn:
        rows = conn.execute(select(tables.QUARANTINE.c.times_seen)).all()
    assert [r.times_seen for r in rows] == [2]


def test_raw_text_of_a_broken_line_is_kept(engine, tmp_path):
    folder = tmp_path / "in"
    _write(folder, "invalid-json")
    import_paths(engine, [folder], options=ImportOptions(site="s1", validate="off"))
    with engine.connect() as conn:
        raw = conn.scalar(select(tables.QUARANTINE.c.raw))
    assert rawjson.decompress(raw).startswith(b'{"resourceType"')

"""Real data written by others imports cleanly and every resource is accounted for.

Issue 2, "Done when".

The HL7 FHIR R4 specification examples and 100 Synthea patients (../shared/data, SOURCES.md).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from adapter.errors import QUARANTINE_REASONS
from adapter.items import ReadStats
from adapter.reading import iter_items
from registry import models
from registry.ingest import ImportOptions, import_paths
from tests.conftest import SHARED_DATA

SOURCES = {
    "hl7-examples": SHARED_DATA / "hl7-fhir-r4-examples",
    "synthea-100": SHARED_DATA / "synthea-r4-bundles-100-patients",
}


@pytest.mark.parametrize("name", list(SOURCES), ids=list(SOURCES))
def test_shared_data_imports_and_accounts_for_everything(engine, name):
    folder: Path = SOURCES[name]
    if not folder.is_dir():
        pytest.skip(f"{folder} is not present")
    stats = ReadStats()
    for _ in iter_items([folder], stats=stats):
        pass
    result = import_paths(engine, [folder], options=ImportOptions(site=name, validate="sample:50"))
    summary = result.summary()
    # Every item the reader yields is a resource read (deletions are instructions, counted apart).
    assert summary["read"] == stats.items - stats.deletions + stats.problems
    assert summary["read"] == sum(
        summary[b] for b in ("loaded", "updated", "unchanged", "quarantined", "skipped")
    )
    quarantine = models.Quarantine.__table__
    with engine.connect() as conn:
        reasons = dict(
            conn.execute(
                select(quarantine.c.reason_code, func.count()).group_by(quarantine.c.reason_code)
            ).all()
        )
        stored = conn.scalar(select(func.count()).select_from(models.SourceRecord.__table__))
    assert "mapping-failed" not in reasons, (
        "a mapper defect: the resource should map or be refused with a reason"
    )
    assert set(reasons) <= set(QUARANTINE_REASONS)
    assert stored >= summary["loaded"]
    if name == "synthea-100":
        assert summary["by_type"]["Patient"]["loaded"] == 100
        assert set(reasons) <= {
            "conflicting-duplicate"
        }  # Synthea repeats CBC panels at one instant

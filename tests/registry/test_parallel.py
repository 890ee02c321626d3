"""Imports prepared in worker processes end exactly where imports prepared in one process end."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest

from registry import migrate, parallel
from registry.db import make_engine
from registry.ingest import ImportOptions, import_paths
from tests.factories import administration, observation, patient, write_ndjson
from tests.registry.snapshot import snapshot

READING = Path(__file__).parent.parent / "adapter" / "data" / "reading"


@pytest.fixture
def small_units(monkeypatch):
    """Tiny units and a short window, so that order across units and workers is exercised."""
    monkeypatch.setattr(parallel, "CHUNK_LINES", 3)
    monkeypatch.setattr(parallel, "CHUNK_BYTES", 2_000)
    monkeypatch.setattr(parallel, "IN_FLIGHT", 1)


def _folder(root: Path) -> Path:
    folder = root / "in"
    patients = [patient(f"p{i}") for i in range(4)]
    results = [
        observation(f"o{i}", patient_id=f"p{i % 5}", value=f"{i}.50", when=f"2024-03-0{1 + i % 8}")
        for i in range(30)
    ]
    # A newer version of o3 later in the file, an older one of o4, the same o5 twice.
    results += [
        observation("o3", value=7, version="2", updated="2024-04-01T00:00:00Z"),
        observation("o4", value=8, version="0", updated="2023-01-01T00:00:00Z"),
        observation("o5", patient_id="p0", value="5.50", when="2024-03-06"),
    ]
    doses = [administration(f"a{i}", patient_id=f"p{i % 4}") for i in range(5)]
    lines = [json.dumps(r) for r in patients + results + doses]
    lines[7] = '{"resourceType": "Observation", "id": "broken"'  # a broken line
    lines.insert(12, "")
    lines.insert(20, json.dumps({"resourceType": "Claim", "id": "c1"}))  # not mapped
    (folder / "b").mkdir(parents=True)
    (folder / "a.ndjson").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "b" / "c.ndjson.gz").write_bytes(
        gzip.compress(write_ndjson(root / "c.ndjson", [patient("p9")]).read_bytes())
    )
    for name in ("transaction.json", "searchset.json"):
        shutil.copy(READING / name, folder / "b" / name)
    return folder


def _stable(engine):
    """The snapshot, without the time a tombstone was written (the run's start)."""
    out = snapshot(engine)
    out["source_record"] = sorted(
        tuple(c for c in row if c[0] != "last_updated" or ("is_deleted", "True") not in row)
        for row in out["source_record"]
    )
    return out


def _import(engine, folder, workers, site="s1"):
    options = ImportOptions(site=site, validate="sample:3", workers=workers, batch_size=7)
    summary = import_paths(engine, [folder], options=options).summary()
    summary.pop("run_id")
    return summary


def test_workers_give_the_registry_one_process_gives(engine, tmp_path, small_units):
    folder = _folder(tmp_path)
    in_workers = _import(engine, folder, workers=2)
    again = _import(engine, folder, workers=2)

    serial = make_engine(f"sqlite:///{tmp_path / 'serial.db'}")
    migrate.upgrade(serial)
    in_process = _import(serial, folder, workers=0)
    assert in_workers == in_process
    assert _stable(engine) == _stable(serial)
    assert _import(serial, folder, workers=0) == again
    assert again["unchanged"] == again["read"] - again["quarantined"] - again["skipped"]
    serial.dispose()


def test_workers_fail_missing_paths_before_the_run(engine, tmp_path):
    from adapter.errors import ReadError

    with pytest.raises(ReadError):
        _import(engine, tmp_path / "nowhere", workers=2)


class _Interrupt(Exception):
    pass


def test_interrupted_run_in_workers_is_completed_by_rerun(engine, tmp_path, monkeypatch):
    """A run stopped mid-stream keeps its committed batches; a re-run ends where one run ends."""
    import multiprocessing

    import registry.ingest as ingest

    folder = _folder(tmp_path)
    real = ingest.prepared_items

    def dying(*args, **kwargs):
        for n, item in enumerate(real(*args, **kwargs)):
            if n == 23:
                raise _Interrupt
            yield item

    monkeypatch.setattr(ingest, "prepared_items", dying)
    with pytest.raises(_Interrupt):
        _import(engine, folder, workers=2)
    assert not multiprocessing.active_children()  # the workers are gone
    monkeypatch.setattr(ingest, "prepared_items", real)
    _import(engine, folder, workers=2)

    clean = make_engine(f"sqlite:///{tmp_path / 'clean.db'}")
    migrate.upgrade(clean)
    _import(clean, folder, workers=2)
    assert _stable(engine) == _stable(clean)
    clean.dispose()

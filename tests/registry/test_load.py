"""Loading: idempotent re-import, version order, history, deletions, interrupted runs.

Issue 2, items 4-7.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from registry import models, rawjson
from registry.ingest import ImportOptions, import_paths
from tests.factories import observation, patient, write_ndjson
from tests.registry.snapshot import snapshot

OPTIONS = ImportOptions(site="s1", validate="off")


def _import(engine, *paths: Path, **kwargs):
    return import_paths(
        engine, list(paths), options=ImportOptions(**({"site": "s1", "validate": "off"} | kwargs))
    )


def _current(engine, resource_id: str) -> tuple[str | None, float | None]:
    sr, obs = models.SourceRecord.__table__, models.Observation.__table__
    with engine.connect() as conn:
        row = conn.execute(
            select(sr.c.version_id, obs.c.value)
            .join(obs, obs.c.source_record_id == sr.c.id)
            .where(sr.c.resource_id == resource_id)
        ).one()
    return row.version_id, row.value


def _assert_adds_up(summary: dict) -> None:
    buckets = ("loaded", "updated", "unchanged", "quarantined", "skipped")
    assert summary["read"] == sum(summary[b] for b in buckets)
    for counts in summary["by_type"].values():
        assert counts["read"] == sum(counts[b] for b in buckets)


def test_reimport_changes_nothing(engine, tmp_path):
    """Verify that importing the same file twice leaves the registry identical (issue 2, item 5)."""
    path = write_ndjson(
        tmp_path / "a.ndjson",
        [
            patient(),
            observation("o1"),
            observation("o2", value=900, when="2024-03-02T08:00:00+08:00"),
        ],
    )
    first = _import(engine, path).summary()
    before = snapshot(engine)
    second = _import(engine, path).summary()
    assert (first["loaded"], first["unchanged"]) == (3, 0)
    assert (second["loaded"], second["updated"], second["unchanged"]) == (0, 0, 3)
    assert snapshot(engine) == before
    _assert_adds_up(first)
    _assert_adds_up(second)


def test_lineage_points_to_file_line_version_and_raw(engine, tmp_path):
    """Verify a row traces back to site, origin, line, version, hash, run and raw JSON (item 4)."""
    path = write_ndjson(tmp_path / "a.ndjson", [patient(), observation("o1", version="7")])
    run_id = _import(engine, path).run_id
    sr = models.SourceRecord.__table__
    with engine.connect() as conn:
        row = conn.execute(select(sr).where(sr.c.resource_id == "o1")).one()
    assert (row.site, row.origin, row.locator, row.version_id) == ("s1", str(path), "line 2", "7")
    assert row.ingest_run_id == run_id
    assert len(row.content_hash) == 64
    assert bytes(row.raw[:4]) == rawjson.ZSTD_MAGIC  # stored compressed (registry.rawjson)
    assert json.loads(rawjson.decompress(row.raw))["id"] == "o1"
    assert hashlib.sha256(rawjson.decompress(row.raw)).hexdigest() == row.content_hash


@pytest.mark.parametrize(
    ("order", "expected_version", "updated"),
    [(("v1", "v2"), "2", 1), (("v2", "v1"), "2", 0)],
    ids=["newer-replaces", "older-never-overwrites"],
)
def test_version_order(engine, tmp_path, order, expected_version, updated):
    """Verify lastUpdated order decides, and an older version goes to history (item 5)."""
    versions = {
        "v1": observation("o1", version="1", updated="2024-03-01T09:00:00Z", value=1200),
        "v2": observation("o1", version="2", updated="2024-03-02T09:00:00Z", value=1100),
    }
    write_ndjson(tmp_path / "p.ndjson", [patient()])
    _import(engine, tmp_path / "p.ndjson")
    for name in order:
        summary = _import(
            engine, write_ndjson(tmp_path / f"{name}.ndjson", [versions[name]])
        ).summary()
    assert summary["updated"] == updated
    assert _current(engine, "o1") == (expected_version, {"1": 1200, "2": 1100}[expected_version])
    history = models.SourceRecordHistory.__table__
    with engine.connect() as conn:
        archived = conn.execute(select(history.c.version_id, history.c.reason)).all()
    assert [tuple(r) for r in archived] == [
        ("1", "superseded" if order[0] == "v1" else "older-version")
    ]


def test_version_id_breaks_ties_numerically(engine, tmp_path):
    """Verify that with equal lastUpdated, versionId 10 beats 9 (numeric, not text)."""
    same = "2024-03-01T09:00:00Z"
    write_ndjson(
        tmp_path / "a.ndjson",
        [
            patient(),
            observation("o1", version="10", updated=same, value=5),
            observation("o1", version="9", updated=same, value=4),
        ],
    )
    summary = _import(engine, tmp_path / "a.ndjson").summary()
    assert _current(engine, "o1") == ("10", 5)
    assert summary["unchanged"] == 1  # the older copy in the same batch


def test_same_version_different_content_is_quarantined(engine, tmp_path):
    """Verify a conflicting copy of a stored version is quarantined, the stored one kept."""
    _import(engine, write_ndjson(tmp_path / "a.ndjson", [patient(), observation("o1", value=1200)]))
    summary = _import(
        engine, write_ndjson(tmp_path / "b.ndjson", [observation("o1", value=999)])
    ).summary()
    assert summary["quarantined"] == 1
    assert _current(engine, "o1") == ("1", 1200)
    q = models.Quarantine.__table__
    with engine.connect() as conn:
        assert conn.scalar(select(q.c.reason_code)) == "conflicting-version"


def test_entered_in_error_is_kept_and_flagged(engine, tmp_path):
    path = write_ndjson(
        tmp_path / "a.ndjson", [patient(), observation("o1", status="entered-in-error")]
    )
    assert _import(engine, path).summary()["loaded"] == 2
    obs = models.Observation.__table__
    with engine.connect() as conn:
        assert conn.scalar(select(obs.c.exclusion)) == "entered-in-error"


def _deletion_bundle(*refs: str, last_modified: str | None = None) -> dict:
    entry = []
    for ref in refs:
        item: dict = {"request": {"method": "DELETE", "url": ref}}
        if last_modified:
            item["response"] = {"status": "204", "lastModified": last_modified}
        entry.append(item)
    return {"resourceType": "Bundle", "type": "transaction", "entry": entry}


def test_deletions_flag_not_lose(engine, tmp_path):
    """Verify a deletion flags the record and excludes its rows; unknown ones leave a tombstone."""
    _import(engine, write_ndjson(tmp_path / "a.ndjson", [patient(), observation("o1")]))
    deleted = write_ndjson(
        tmp_path / "deleted" / "Observation.ndjson",
        [_deletion_bundle("Observation/o1", "Observation/o9")],
    )
    summary = _import(engine, deleted).summary()
    assert summary["deletions"] == {"applied": 1, "tombstone": 1}
    sr, obs = models.SourceRecord.__table__, models.Observation.__table__
    with engine.connect() as conn:
        flags = dict(
            conn.execute(
                select(sr.c.resource_id, sr.c.is_deleted).where(sr.c.resource_type == "Observation")
            ).all()
        )
        assert flags == {"o1": True, "o9": True}
        assert conn.scalar(select(obs.c.exclusion)) == "deleted"
        assert (
            conn.scalar(select(sr.c.raw).where(sr.c.resource_id == "o1")) is not None
        )  # history kept
    # an older copy of the tombstoned resource cannot bring it back
    old = observation("o9", updated="2020-01-01T00:00:00Z")
    assert _import(engine, write_ndjson(tmp_path / "old.ndjson", [old])).summary()["unchanged"] == 1
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(obs)) == 1


def test_stale_deletion_does_not_delete_newer_version(engine, tmp_path):
    _import(
        engine,
        write_ndjson(
            tmp_path / "a.ndjson", [patient(), observation("o1", updated="2024-05-01T00:00:00Z")]
        ),
    )
    bundle = _deletion_bundle("Observation/o1", last_modified="2024-04-01T00:00:00Z")
    summary = _import(engine, write_ndjson(tmp_path / "d.ndjson", [bundle])).summary()
    assert summary["deletions"] == {"stale": 1}


class _Interrupt(Exception):
    pass


def test_interrupted_run_is_completed_by_rerun(engine, tmp_path, monkeypatch):
    """Verify that a run killed after some batches, then re-run, equals one clean run (item 7)."""
    resources = [patient(f"p{i}") for i in range(5)] + [
        observation(
            f"o{i}",
            patient_id=f"p{i % 5}",
            value=1000 + i,
            when=f"2024-03-0{1 + i % 9}T08:00:00+08:00",
        )
        for i in range(40)
    ]
    path = write_ndjson(tmp_path / "a.ndjson", resources)
    clean_dir = tmp_path / "clean"
    clean_dir.mkdir()

    import registry.ingest as ingest

    real_iter = ingest.iter_items

    def dying(*args, **kwargs):
        for n, item in enumerate(real_iter(*args, **kwargs)):
            if n == 23:
                raise _Interrupt
            yield item

    monkeypatch.setattr(ingest, "iter_items", dying)
    with pytest.raises(_Interrupt):
        import_paths(
            engine, [path], options=ImportOptions(site="s1", validate="off", batch_size=10)
        )
    monkeypatch.setattr(ingest, "iter_items", real_iter)
    run = models.IngestRun.__table__
    with engine.connect() as conn:
        assert conn.scalar(select(run.c.status)) == "failed"
        assert conn.scalar(select(func.count()).select_from(models.SourceRecord.__table__)) == 20
    resumed = _import(engine, path, batch_size=10).summary()
    assert (resumed["loaded"], resumed["unchanged"]) == (25, 20)
    interrupted_state = snapshot(engine)

    from registry import migrate
    from registry.db import make_engine

    clean = make_engine(f"sqlite:///{clean_dir / 'r.db'}")
    migrate.upgrade(clean)
    _import(clean, path, batch_size=10)
    assert snapshot(clean) == interrupted_state
    clean.dispose()


def test_sqlite_write_lock_does_not_walk_the_runs_records(sqlite_template, tmp_path):
    """Taking the write lock for id reservation costs the same however much the run wrote.

    It used to rewrite the run's primary key, which makes SQLite (foreign keys on) look up every
    source record of the run at each batch: a run of N batches did O(N^2) work. The cost is
    counted in SQLite virtual-machine steps, not time.
    """
    import shutil

    from registry import bulkwrite, tables
    from registry.db import make_engine

    path = tmp_path / "registry.db"
    shutil.copy(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    rows = [patient("p1")] + [observation(f"o{i}") for i in range(3000)]
    run_id = _import(engine, write_ndjson(tmp_path / "in.ndjson", rows)).run_id

    def lock_steps() -> int:
        with engine.begin() as conn:
            steps = 0

            def count() -> int:
                nonlocal steps
                steps += 1
                return 0

            dbapi = conn.connection.dbapi_connection
            dbapi.set_progress_handler(count, 1)
            try:
                bulkwrite.reserve_ids(
                    conn,
                    tables.SOURCE_RECORD.name,
                    1,
                    lock_table=tables.INGEST_RUN.name,
                    lock_column=tables.INGEST_RUN.c.status.name,
                    lock_id=run_id,
                )
            finally:
                dbapi.set_progress_handler(None, 1)
            return steps

    assert lock_steps() < 200  # a few dozen; rewriting the key took 36,123 here
    engine.dispose()

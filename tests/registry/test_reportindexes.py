"""The report's indexes set aside during a large first load and rebuilt after (issue 2, item 7).

An import with them set aside ends in the same registry as one without; they are back however
the run ends; a run killed outright is healed by the next import or `masreg db upgrade`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, func, select, text

import registry.ingest as ingest
from registry import migrate, models, reportindexes
from registry.cli import main
from registry.ingest import ImportOptions, import_paths
from tests.factories import observation, patient, write_ndjson
from tests.killing import kill_after_committed
from tests.registry.snapshot import snapshot

NAMES = sorted(str(index.name) for index in reportindexes.REPORT_INDEXES)


def _cohort(tmp_path, n: int = 30):
    resources = [patient(f"p{i}") for i in range(3)] + [
        observation(f"o{i}", patient_id=f"p{i % 3}", value=1000 + i, when=f"2024-03-0{1 + i % 9}")
        for i in range(n)
    ]
    return write_ndjson(tmp_path / "in.ndjson", resources)


def _missing(engine) -> list[str]:
    with engine.connect() as conn:
        return sorted(reportindexes.missing(conn))


def _import_watching(engine, path, **options):
    """Import `path`; also return the missing report indexes seen after each batch."""
    seen: list[list[str]] = []
    result = import_paths(
        engine,
        [path],
        options=_options(**options),
        on_batch=lambda _counts: seen.append(_missing(engine)),
    )
    return result, seen


def _options(**kwargs) -> ImportOptions:
    return ImportOptions(**({"site": "s1", "validate": "off", "batch_size": 10} | kwargs))


def test_the_three_read_only_indexes():
    assert NAMES == [
        "ix_observation_analyte_observation_effective_at",
        "ix_observation_date_only",
        "ix_observation_patient_values",
    ]


def test_deferred_import_ends_as_an_ordinary_one(engine, db_url, tmp_path):
    path = _cohort(tmp_path)
    result, seen = _import_watching(engine, path, defer_indexes=True)
    assert seen
    assert all(absent == NAMES for absent in seen)  # set aside while loading
    assert _missing(engine) == []  # and back at the end
    assert result.counts.total("loaded") == 33
    run = models.IngestRun.__table__
    with engine.connect() as conn:
        details = json.loads(conn.scalar(select(run.c.details)))
    assert details["options"]["defer_indexes"] is True
    deferred_state = snapshot(engine)

    other = tmp_path / "plain.db"
    plain = create_engine(f"sqlite:///{other}")
    migrate.upgrade(plain)
    import_paths(plain, [path], options=_options(defer_indexes=False))
    assert snapshot(plain) == deferred_state
    plain.dispose()


def test_indexes_come_back_when_the_batches_fail(engine, tmp_path, monkeypatch):
    path = _cohort(tmp_path)
    real = ingest.Loader.load_prepared

    def failing(self, prepared):
        real(self, list(prepared)[:15])
        assert _missing(engine) == NAMES
        raise KeyboardInterrupt

    monkeypatch.setattr(ingest.Loader, "load_prepared", failing)
    monkeypatch.setattr(ingest.Loader, "load", lambda self, items: failing(self, items))
    with pytest.raises(KeyboardInterrupt):
        import_paths(engine, [path], options=_options(defer_indexes=True))
    assert _missing(engine) == []
    run = models.IngestRun.__table__
    with engine.connect() as conn:
        assert conn.scalar(select(run.c.status)) == "interrupted"


def test_a_killed_runs_leftovers_are_healed(engine, db_url, tmp_path):
    path = _cohort(tmp_path)
    import_paths(engine, [path], options=_options(defer_indexes=False))
    assert reportindexes._drop(engine)  # what a run killed outright leaves
    assert _missing(engine) == NAMES

    result = CliRunner().invoke(main, ["report", "--db", db_url, "--format", "json"])
    assert result.exit_code == 0, result.output
    assert "lacks the report's indexes" in result.stderr
    assert "masreg db upgrade" in result.stderr
    shown = CliRunner().invoke(main, ["status", "--db", db_url])
    assert "Missing report indexes" in shown.output
    assert "ix_observation_patient_values" in shown.output
    as_json = CliRunner().invoke(main, ["status", "--db", db_url, "--json"])
    assert json.loads(as_json.output)["missing_indexes"] == NAMES

    migrate.upgrade(engine)
    assert _missing(engine) == []
    assert reportindexes._drop(engine)
    import_paths(engine, [path], options=_options(defer_indexes=False))  # heals at its start
    assert _missing(engine) == []
    clean = CliRunner().invoke(main, ["report", "--db", db_url, "--format", "json"])
    assert clean.exit_code == 0
    assert "lacks" not in clean.stderr
    healthy = CliRunner().invoke(main, ["status", "--db", db_url, "--json"])
    assert json.loads(healthy.output)["missing_indexes"] == []


def test_worth_deferring_by_size(engine, tmp_path, monkeypatch):
    # Hand-worked: 1,000 bytes per resource; at least MIN_RESOURCES, and more than stored.
    monkeypatch.setattr(reportindexes, "MIN_RESOURCES", 10)
    assert reportindexes.worth_deferring(engine, 10_000)  # 10 resources, none stored
    assert not reportindexes.worth_deferring(engine, 9_999)  # 9: below the minimum
    import_paths(engine, [_cohort(tmp_path, n=30)], options=_options())
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT max(id) FROM observation")).scalar()
    assert not reportindexes.worth_deferring(engine, stored * 1000)  # not more than stored
    assert reportindexes.worth_deferring(engine, (stored + 1) * 1000)


def test_by_default_only_large_imports_defer(engine, tmp_path):
    result = import_paths(engine, [_cohort(tmp_path)], options=_options())
    run = models.IngestRun.__table__
    with engine.connect() as conn:
        details = conn.scalar(select(run.c.details).where(run.c.id == result.run_id))
    assert json.loads(details)["options"]["defer_indexes"] is False


def test_postgresql_keeps_the_indexes_when_a_reader_holds_the_table(
    engine, db_url, tmp_path, monkeypatch
):
    if engine.dialect.name != "postgresql":
        pytest.skip("lock timeouts are PostgreSQL's")
    monkeypatch.setattr(reportindexes, "LOCK_TIMEOUT_MS", 200)
    path = _cohort(tmp_path)
    reader = create_engine(db_url)
    held, release = threading.Event(), threading.Event()

    def read() -> None:
        with reader.connect() as conn, conn.begin():
            conn.execute(text("SELECT count(*) FROM observation"))  # holds ACCESS SHARE
            held.set()
            release.wait(30)

    thread = threading.Thread(target=read)
    thread.start()
    try:
        held.wait(10)
        result, seen = _import_watching(engine, path, defer_indexes=True)
    finally:
        release.set()
        thread.join()
        reader.dispose()
    assert seen
    assert all(absent == [] for absent in seen)  # kept: the reader was not waited for
    assert result.counts.total("loaded") == 33


_CHILD = """
import sys, time
from pathlib import Path
from registry.db import make_engine
from registry.ingest import ImportOptions, import_paths

engine = make_engine(sys.argv[1])
options = ImportOptions(site="s1", validate="off", batch_size=50, workers=0, defer_indexes=True)
import_paths(engine, [Path(sys.argv[2])], options=options, on_batch=lambda _c: time.sleep(0.05))
"""


def test_kill_9_in_a_deferred_import_then_rerun_equals_one_clean_import(engine, db_url, tmp_path):
    """A kill -9 with the indexes set aside, then the same import: one clean run's end state.

    The killed run leaves whole batches and the indexes missing; the import again completes the
    data and builds them (issue 2, item 7).
    """
    path = _cohort(tmp_path, n=600)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MASREG_")}
    process = subprocess.Popen(
        [sys.executable, "-c", _CHILD, db_url, str(path)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    kill_after_committed(db_url, process, at_least=150)
    assert _missing(engine) == NAMES  # left set aside by the killed run
    with engine.connect() as conn:
        stored = conn.scalar(select(func.count()).select_from(models.SourceRecord.__table__))
    assert 150 <= stored < 603  # whole batches only

    again = import_paths(engine, [path], options=_options())
    assert again.status == "completed"
    assert _missing(engine) == []
    run = models.IngestRun.__table__
    with engine.connect() as conn:
        statuses = list(conn.scalars(select(run.c.status).order_by(run.c.id)))
    assert statuses == ["interrupted", "completed"]

    other = create_engine(f"sqlite:///{tmp_path / 'clean.db'}")
    migrate.upgrade(other)
    import_paths(other, [path], options=_options())
    assert snapshot(engine) == snapshot(other)
    other.dispose()


def test_the_steps_after_the_batches_are_announced(engine, tmp_path):
    path = _cohort(tmp_path)
    heard: list[str] = []
    import_paths(engine, [path], options=_options(defer_indexes=True), on_phase=heard.append)
    assert heard == ["building the report's indexes", "post-load checks"]
    heard.clear()
    import_paths(engine, [path], options=_options(defer_indexes=False), on_phase=heard.append)
    assert heard == ["post-load checks"]

"""A report computed by several processes equals the one-process report (issue 3 performance).

Each helper takes a share of the patients on the same snapshot of the registry
(`registry.outcomes.workers`); the shares cover the cohort once and the tables add up.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import threading
import time
from fractions import Fraction
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text, update

from registry import migrate, tables
from registry.db import make_engine
from registry.errors import RegistryError
from registry.ingest import ImportOptions, import_paths
from registry.outcomes import workers
from registry.outcomes.protocol import load_protocol
from registry.outcomes.report import build_report

REPO = Path(__file__).resolve().parents[3]
FIXTURE = REPO / "fixtures" / "nine_patients"


def _report(engine: Engine, count: int | None) -> str:
    with engine.connect() as conn:
        return json.dumps(build_report(conn, load_protocol(), workers=count), sort_keys=True)


def test_shares_cover_the_cohort_once():
    parts = workers.shares(3)
    assert parts[0].first == 0
    assert parts[-1].last == 1
    assert all(a.last == b.first for a, b in itertools.pairwise(parts))
    assert parts[0].last - parts[0].first == Fraction(11, 31)  # weights 11/10 : 1 : 1
    assert workers.shares(1) == [workers.Share()]


@pytest.mark.parametrize("count", [2, 3])
def test_report_in_several_processes_equals_one_process(engine, count):
    import_paths(engine, [FIXTURE], options=ImportOptions(site="local"))
    one = _report(engine, 1)
    assert _report(engine, count) == one
    assert json.loads(one)["cohort"]["n"] == 9


def test_in_memory_sqlite_runs_in_one_process(tmp_path):
    engine = make_engine("sqlite://")
    migrate.upgrade(engine)
    with engine.connect() as conn, workers.team(conn, 2, _never) as team:
        assert team.share.whole
        assert not team.helpers


def _never(conn, rows):  # pragma: no cover - must not run
    raise AssertionError("no helper should start")


def _fails(conn, rows):
    raise ValueError(f"broken share of {len(rows)} rows")


def test_a_failing_helper_fails_the_report(engine):
    """A helper that started its share and failed fails the report, with its reason."""
    with engine.connect() as conn, workers.team(conn, 2, _fails) as team:
        assert not team.share.whole
        assert team.hand_out([(1,), (2,), (3,), (4,)]) == [(1,), (2,)]  # 11/21 of 4 rows: 2
        with pytest.raises(
            RegistryError, match="helper process 1 failed: ValueError: broken share of 2"
        ):
            team.results()


def test_sqlite_report_after_a_read_in_the_same_transaction_runs_in_one_process(tmp_path):
    """The helper could not see an older snapshot: one process then (no error)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'r.db'}")
    migrate.upgrade(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("BEGIN")
        conn.execute(text("SELECT count(*) FROM patient")).scalar()
        with workers.team(conn, 2, _never) as team:
            assert team.share.whole


def test_helpers_read_the_reports_snapshot_while_another_connection_commits(engine, monkeypatch):
    """A commit right after the report's first read reaches neither the report nor its helper.

    PostgreSQL: the helper imports the exported snapshot (the commit is done before it starts).
    SQLite: the commit waits on the write lock until the helper holds its read transaction.
    """
    import_paths(engine, [FIXTURE], options=ImportOptions(site="local"))
    obs = tables.OBSERVATION
    original = workers.snapshot.read_one_snapshot
    writers: list[threading.Thread] = []

    def commit_elsewhere() -> None:
        with engine.begin() as other:
            other.execute(update(obs).where(obs.c.analyte == "ferritin").values(value=1.0))

    def meanwhile(conn):
        original(conn)
        conn.execute(text("SELECT count(*) FROM patient"))  # the report's snapshot has begun
        writer = threading.Thread(target=commit_elsewhere)
        writer.start()
        writers.append(writer)
        if engine.dialect.name == "postgresql":
            writer.join()  # committed before the helper even starts
        else:
            time.sleep(0.3)  # the writer now waits for the lock

    monkeypatch.setattr(workers.snapshot, "read_one_snapshot", meanwhile)
    with engine.connect() as conn:
        report = build_report(conn, load_protocol(), workers=2)
    for writer in writers:
        writer.join()
    ferritin = [
        o["value"]
        for p in report["patients"]
        for o in p["observations"].values()
        if o["analyte"] == "ferritin"
    ]
    assert ferritin
    assert 1.0 not in ferritin
    assert len({p["patient_ref"] for p in report["patients"]}) == 9
    with engine.connect() as conn:  # the change itself did happen
        assert conn.scalar(select(obs.c.value).where(obs.c.analyte == "ferritin").limit(1)) == 1.0


def _dies_at_once(url, token, target, share):
    process = subprocess.Popen(
        [sys.executable, "-c", "raise SystemExit(3)"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    return workers._Helper(process, share)


def _cannot_start(url, token, target, share):
    raise OSError("no interpreter")


@pytest.mark.parametrize("start", [_dies_at_once, _cannot_start])
def test_a_helper_that_cannot_start_leaves_its_share_to_the_report(
    engine, monkeypatch, caplog, start
):
    """No free connection, no interpreter: slower, not wrong (the share is computed in-process)."""
    import_paths(engine, [FIXTURE], options=ImportOptions(site="local"))
    one = _report(engine, 1)
    monkeypatch.setattr(workers, "_start", start)
    with caplog.at_level("WARNING", logger="registry.outcomes.workers"):
        assert _report(engine, 2) == one
    assert "could not start" in caplog.text


def test_default_processes_follow_the_registry_size_and_the_cpus(engine, monkeypatch):
    """By default: a helper for 2,000 patients or more on two CPUs; one process otherwise."""
    import_paths(engine, [FIXTURE], options=ImportOptions(site="local"))  # nine patients
    monkeypatch.setattr(workers.os, "cpu_count", lambda: 2)
    with engine.connect() as conn, workers.team(conn, None, _never) as team:
        assert team.share.whole
    monkeypatch.setattr(workers, "AUTO_MIN_PATIENTS", 9)
    with engine.connect() as conn, workers.team(conn, None, _fails) as team:
        assert not team.share.whole
        assert len(team.helpers) == 1
        team.hand_out([])
        with pytest.raises(RegistryError, match="broken share of 0 rows"):
            team.results()
    monkeypatch.setattr(workers.os, "cpu_count", lambda: 1)
    with engine.connect() as conn, workers.team(conn, None, _never) as team:
        assert team.share.whole


def test_an_empty_registry_in_two_processes(engine):
    """No patient with a T0: the helper gets no rows and the report is the empty one."""
    assert _report(engine, 2) == _report(engine, 1)
    assert json.loads(_report(engine, 2))["cohort"]["n"] == 0

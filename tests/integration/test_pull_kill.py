"""kill -9 during a pull, then the same command again: the registry equals one clean pull."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from registry import tables
from registry.db import make_engine
from tests.integration.compare import differences
from tests.integration.sekmet import Sekmet
from tests.integration.test_pull_sekmet import snapshot_of, write_config
from tests.killing import kill_after_committed

MASREG = Path(sys.executable).with_name("masreg")
BATCH = 200
KILL_AFTER = 2 * BATCH  # resources committed before the kill


def statuses(db_url: str) -> list[str]:
    engine = make_engine(db_url)
    run = tables.INGEST_RUN
    with engine.connect() as conn:
        out = list(conn.scalars(select(run.c.status).order_by(run.c.id)))
    engine.dispose()
    return out


def kill_and_rerun(server: Sekmet, db_url: str, directory: Path, *extra: str) -> None:
    """Start a pull, kill -9 it after `KILL_AFTER` resources committed, run it again."""
    config = write_config(directory, server.base, export_level="system")
    command = [str(MASREG), "pull", "--config", str(config), "--db", db_url]
    command += ["--batch-size", str(BATCH), *extra]
    env = {k: v for k, v in os.environ.items() if not k.startswith("MASREG_")}
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    committed = kill_after_committed(db_url, process, KILL_AFTER)
    assert KILL_AFTER <= committed < 4861
    if extra:
        assert (directory / "export" / "export-state.json").exists()  # resumed, not kicked off
    again = subprocess.run(command, env=env, capture_output=True, timeout=300, check=False)
    assert again.returncode == 0, again.stderr.decode()
    assert statuses(db_url) == ["interrupted", "completed"]


def test_kill_9_then_rerun_equals_one_clean_pull(
    fhir_server: Sekmet, db_url, reference_for, tmp_path
):
    kill_and_rerun(fhir_server, db_url, tmp_path)
    assert differences(reference_for(db_url), snapshot_of(db_url)) == {}


def test_kill_9_during_a_bulk_import_resumes_the_same_export(
    fhir_server: Sekmet, sqlite_url, reference_for, tmp_path
):
    kill_and_rerun(
        fhir_server, sqlite_url, tmp_path, "--bulk", "--export-dir", str(tmp_path / "export")
    )
    assert differences(reference_for(sqlite_url), snapshot_of(sqlite_url)) == {}

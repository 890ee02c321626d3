"""kill -9 during a pull, then the same command again: the registry equals one clean pull."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from registry import tables
from registry.db import make_engine
from tests.integration.compare import differences
from tests.integration.sekmet import Sekmet
from tests.integration.test_pull_sekmet import snapshot_of, write_config

MASREG = Path(sys.executable).with_name("masreg")
BATCH = 200
KILL_AFTER = 2 * BATCH  # resources committed before the kill


def wait_for_committed(db_url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> int:
    """Poll the running run's committed count until it reaches `KILL_AFTER`."""
    engine = make_engine(db_url)
    run = tables.INGEST_RUN
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            assert process.poll() is None, "the pull ended before it could be killed"
            try:
                with engine.connect() as conn:
                    read = conn.scalar(select(run.c.read).where(run.c.status == "running"))
            except OperationalError:  # SQLite busy while the pull commits
                read = None
            if read is not None and read >= KILL_AFTER:
                return int(read)
            time.sleep(0.02)
    finally:
        engine.dispose()
    raise AssertionError("no batch was committed in time")


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
    try:
        committed = wait_for_committed(db_url, process)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
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

"""kill -9 during a pull, then the same command again: the registry equals one clean pull."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
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


@pytest.mark.parametrize("bulk", [False, True], ids=["rest", "bulk"])
def test_kill_9_then_rerun_equals_one_clean_pull(
    fhir_server: Sekmet, db_url, reference, tmp_path, bulk
):
    if bulk and not db_url.startswith("sqlite"):
        pytest.skip("the bulk resume does not depend on the database")
    config = write_config(tmp_path, fhir_server.base, export_level="system")
    command = [str(MASREG), "pull", "--config", str(config), "--db", db_url]
    command += ["--batch-size", str(BATCH)]
    if bulk:
        command += ["--bulk", "--export-dir", str(tmp_path / "export")]
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
    if bulk:
        assert (tmp_path / "export" / "export-state.json").exists()  # resumed, not kicked off
    again = subprocess.run(command, env=env, capture_output=True, timeout=300, check=False)
    assert again.returncode == 0, again.stderr.decode()
    assert statuses(db_url) == ["interrupted", "completed"]
    assert differences(reference, snapshot_of(db_url)) == {}

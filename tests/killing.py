"""kill -9 of a running import or pull once it has committed some of its batches."""

from __future__ import annotations

import os
import signal
import subprocess
import time

from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from registry import tables
from registry.db import make_engine


def kill_after_committed(
    db_url: str, process: subprocess.Popen[bytes], at_least: int, timeout: float = 60
) -> int:
    """Wait until the running run has read `at_least` resources, kill -9 it; return that count.

    The count is the run's committed one (saved with each batch). The process is killed (and
    reaped) whatever happens, so a failing test leaves nothing running.
    """
    try:
        committed = _wait_for_committed(db_url, process, at_least, timeout)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    return committed


def _wait_for_committed(
    db_url: str, process: subprocess.Popen[bytes], at_least: int, timeout: float
) -> int:
    engine = make_engine(db_url)
    run = tables.INGEST_RUN
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            assert process.poll() is None, "the process ended before it could be killed"
            try:
                with engine.connect() as conn:
                    read = conn.scalar(select(run.c.read).where(run.c.status == "running"))
            except OperationalError:  # SQLite busy while the run commits
                read = None
            if read is not None and read >= at_least:
                return int(read)
            time.sleep(0.02)
    finally:
        engine.dispose()
    raise AssertionError("no batch was committed in time")

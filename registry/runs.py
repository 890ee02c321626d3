"""Ingest runs: started, counted batch by batch, finished; stale runs marked interrupted."""

from __future__ import annotations

import json
import os
import socket
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from registry import tables
from registry.counts import BUCKETS, RunCounts

RUN = tables.INGEST_RUN


def software_version() -> str:
    """The installed mas-registry version (recorded on every run)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mas-registry")
    except PackageNotFoundError:  # running from a source tree without install
        return "0+unknown"


def start_run(engine: Engine, *, kind: str, site: str, source: str, options: dict[str, Any]) -> int:
    """Record a new running run (after marking dead runs interrupted); return its id."""
    with engine.begin() as conn:
        mark_interrupted(conn)
        result = conn.execute(
            insert(RUN).values(
                kind=kind,
                site=site,
                source=source,
                started_at=datetime.now(UTC),
                status="running",
                details=json.dumps({"options": options}),
                host=socket.gethostname(),
                pid=os.getpid(),
                software_version=software_version(),
            )
        )
        run_id = result.inserted_primary_key[0] if result.inserted_primary_key else None
    if not isinstance(run_id, int):  # pragma: no cover - every supported dialect returns it
        raise TypeError("the database did not return the new run's id")
    return run_id


def mark_interrupted(conn: Connection) -> int:
    """Mark `running` runs of this host whose process is gone as interrupted (kill -9, crash)."""
    host = socket.gethostname()
    stmt = select(RUN.c.id, RUN.c.pid).where(RUN.c.status == "running", RUN.c.host == host)
    dead = [row.id for row in conn.execute(stmt) if not _alive(row.pid)]
    if dead:
        conn.execute(
            update(RUN)
            .where(RUN.c.id.in_(dead))
            .values(status="interrupted", message="the process ended before the run finished")
        )
    return len(dead)


def _alive(pid: int | None) -> bool:
    """True when a process with this id exists (and is not us)."""
    if pid is None or pid == os.getpid():
        return pid == os.getpid()
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def save_counts(conn: Connection, run_id: int, counts: RunCounts, **extra: Any) -> None:
    """Store the run's counts (inside the batch's transaction, so they match what committed)."""
    details = json.loads(conn.scalar(select(RUN.c.details).where(RUN.c.id == run_id)) or "{}")
    details.update(counts.as_dict())
    details.update(extra)
    totals = {bucket: counts.total(bucket) for bucket in BUCKETS}
    conn.execute(
        update(RUN)
        .where(RUN.c.id == run_id)
        .values(read=counts.read, details=json.dumps(details, default=str), **totals)
    )


def finish_run(engine: Engine, run_id: int, *, status: str, message: str | None = None) -> None:
    """Close a run with its final status."""
    with engine.begin() as conn:
        conn.execute(
            update(RUN)
            .where(RUN.c.id == run_id)
            .values(status=status, finished_at=datetime.now(UTC), message=message)
        )

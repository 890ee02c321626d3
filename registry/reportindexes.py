"""The report's indexes on observations: set aside during a large first load, rebuilt after.

Three indexes of the observation table serve only reading (the report's per-patient passes,
`registry.postload`'s duplicate check): nothing on the import path looks anything up in them, and
keeping them up to date row by row is about half of what writing an observation costs (measured
on SQLite, 200,000 resources: 11.8 s with them, 5.2 s without, and 1.2 s to build them after).

So an import that brings more observations than the registry holds drops them before its first
batch and builds them again when its batches are done (before the post-load checks, which read
them), whatever way the run ends. A run killed outright (kill -9, power loss) leaves them missing:
queries stay correct but slow, and the next import, `masreg db upgrade` or `restore` puts them
back; `missing` says which are gone (the report warns).

On PostgreSQL, dropping an index needs a moment with the table to itself: when other sessions hold
it (a report running), the import does not wait for them but keeps the indexes.

A migration that changes one of these indexes must not count on it being there: drop it with
`if_exists=True`, since a killed import may have left it out.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, Index, inspect, text
from sqlalchemy.exc import OperationalError

from registry import tables

logger = logging.getLogger(__name__)

OBSERVATION = tables.OBSERVATION
# The observation indexes that no write looks anything up in (see the models' comments).
REPORT_INDEXES: tuple[Index, ...] = tuple(
    index
    for index in sorted(OBSERVATION.indexes, key=lambda i: str(i.name))
    if str(index.name)
    in {
        "ix_observation_patient_values",
        "ix_observation_date_only",
        "ix_observation_analyte_observation_effective_at",
    }
)
# An import is taken to bring about one resource per this many bytes of input (measured: 810 bytes
# per resource in the benchmark's export, more in pretty-printed Bundles).
BYTES_PER_RESOURCE = 1000
# Below this many resources the rebuild's fixed cost is not worth it.
MIN_RESOURCES = 50_000
LOCK_TIMEOUT_MS = 2000


def worth_deferring(engine: Engine, input_bytes: int) -> bool:
    """True when an import of `input_bytes` should set the report indexes aside.

    That is when it brings at least `MIN_RESOURCES` resources and more than the registry's
    observations (building the indexes once over the whole table then costs less than keeping
    them up to date row by row).
    """
    incoming = input_bytes // BYTES_PER_RESOURCE
    if incoming < MIN_RESOURCES:
        return False
    with engine.connect() as conn:
        # The highest id: read from the primary key, unlike count(*) (an upper bound).
        stored = conn.execute(text("SELECT max(id) FROM observation")).scalar() or 0
    return int(stored) < incoming


def missing(conn: Connection) -> list[str]:
    """The names of the report indexes the database lacks (none, normally)."""
    present = {index["name"] for index in inspect(conn).get_indexes(OBSERVATION.name)}
    return [str(index.name) for index in REPORT_INDEXES if index.name not in present]


def restore(engine: Engine) -> list[str]:
    """Build the report indexes the database lacks; return their names."""
    with engine.begin() as conn:
        absent = set(missing(conn))
        if absent:
            logger.info("building the report's indexes on observations: %s", ", ".join(absent))
        for index in REPORT_INDEXES:
            if index.name in absent:
                index.create(conn)
    return sorted(absent)


def _drop(engine: Engine) -> bool:
    """Drop the report indexes; False (nothing dropped) when the table is busy elsewhere."""
    try:
        with engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text(f"SET LOCAL lock_timeout = {LOCK_TIMEOUT_MS}"))
            for index in REPORT_INDEXES:
                conn.execute(text(f"DROP INDEX IF EXISTS {index.name}"))
    except OperationalError as exc:
        logger.warning("the report's indexes are kept during this import (%s)", exc.orig)
        return False
    return True


@contextmanager
def deferred(engine: Engine, defer: bool) -> Iterator[bool]:
    """Around an import's batches: heal a killed run's leftovers; set the indexes aside if asked.

    Yields whether they were set aside. They are built again on the way out, however the batches
    end (an error, Ctrl-C).
    """
    restore(engine)
    dropped = defer and _drop(engine)
    try:
        yield dropped
    finally:
        if dropped:
            restore(engine)

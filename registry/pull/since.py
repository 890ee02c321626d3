"""Incremental pulls: ``--since auto`` takes the server time recorded by the last good pull.

For REST the server's own clock is read before anything is fetched (the ``Date`` header of
``/metadata``, to the second, rounded down), so a change made while a pull runs is fetched again
by the next one; for Bulk Data it is the manifest's ``transactionTime``. The server's clock is
used, never ours: the two may disagree by minutes.
"""

from __future__ import annotations

import email.utils
import json
import re
from datetime import UTC

from sqlalchemy import Engine, select

from adapter.errors import ConfigError
from registry import tables

RUN = tables.INGEST_RUN
PULL_KIND = "pull"
# FHIR date, dateTime or instant (a dateTime with a time needs its offset).
_FHIR_TIME = re.compile(
    r"^\d{4}(-\d{2}(-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?)?)?$"
)


def server_time(date_header: str | None) -> str | None:
    """The FHIR instant of an HTTP ``Date`` header, or None when it is missing or unreadable.

    >>> server_time("Wed, 25 Nov 2026 19:00:07 GMT")
    '2026-11-25T19:00:07Z'
    """
    if not date_header:
        return None
    try:
        when = email.utils.parsedate_to_datetime(date_header)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def last_server_time(engine: Engine, *, site: str, source: str) -> str | None:
    """The server time of the last completed pull of this site from this server, if any."""
    stmt = (
        select(RUN.c.details)
        .where(
            RUN.c.kind == PULL_KIND,
            RUN.c.site == site,
            RUN.c.source == source,
            RUN.c.status == "completed",
        )
        .order_by(RUN.c.id.desc())
    )
    with engine.connect() as conn:
        for details in conn.scalars(stmt):
            value = json.loads(details or "{}").get("pull", {}).get("server_time")
            if isinstance(value, str) and value:
                return value
    return None


def resolve_since(engine: Engine, since: str | None, *, site: str, source: str) -> str | None:
    """Turn ``--since`` into the ``_lastUpdated`` / ``_since`` value, or None for everything.

    ``auto`` without an earlier completed pull means everything.

    Raises:
        ConfigError: a value that is neither ``auto`` nor a FHIR date, dateTime or instant.
    """
    if since is None:
        return None
    if since == "auto":
        return last_server_time(engine, site=site, source=source)
    if not _FHIR_TIME.match(since):
        raise ConfigError(
            f"--since {since!r} is neither 'auto' nor a FHIR date or instant "
            "(2024-05-01, 2024-05-01T08:00:00Z)"
        )
    return since

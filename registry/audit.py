"""The stored versions of one source resource, with their lineage and raw JSON, checked.

The report cites every value by the source resource version it came from
(`Type/id/_history/versionId`, `registry.outcomes.values`); this finds that version, current or
archived (superseded, or an older one that arrived late), and gives back the exact bytes the
registry stored, with the SHA-256 recomputed so a reviewer sees they are the ones that were
imported (`masreg source`).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, select

from registry import rawjson, tables
from registry.errors import RegistryError

SR = tables.SOURCE_RECORD
HISTORY = tables.HISTORY
# Type/id, optionally /_history/version (FHIR ids: letters, digits, '-', '.'; up to 64).
_REFERENCE = re.compile(r"^([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/([^/\s]{1,64}))?$")


@dataclass(frozen=True, slots=True)
class AuditedVersion:
    """One stored version of a source resource and where it came from."""

    state: str  # current | deleted | superseded | older-version (history: why it was archived)
    site: str
    resource_type: str
    resource_id: str
    version_id: str | None
    last_updated: datetime | None
    content_hash: str
    origin: str
    locator: str
    fhir_version: str
    ingest_run_id: int
    archived_run_id: int | None
    raw: bytes | None  # the canonical JSON as stored (None: a deletion without content)

    @property
    def reference(self) -> str:
        """`Type/id/_history/version`, as the report cites it (`Type/id` without a versionId)."""
        base = f"{self.resource_type}/{self.resource_id}"
        return f"{base}/_history/{self.version_id}" if self.version_id else base

    @property
    def hash_verified(self) -> bool | None:
        """Whether the stored bytes still have the recorded SHA-256 (None: no bytes kept)."""
        if self.raw is None:
            return None
        return hashlib.sha256(self.raw).hexdigest() == self.content_hash

    def lineage(self) -> dict[str, Any]:
        """The version's lineage as JSON-ready values (no content)."""
        updated = self.last_updated
        return {
            "reference": self.reference,
            "state": self.state,
            "site": self.site,
            "version_id": self.version_id,
            "last_updated": updated.isoformat() if updated else None,
            "content_hash": self.content_hash,
            "hash_verified": self.hash_verified,
            "fhir_version": self.fhir_version,
            "origin": self.origin,
            "locator": self.locator,
            "ingest_run_id": self.ingest_run_id,
            "archived_run_id": self.archived_run_id,
        }


def parse_reference(text: str) -> tuple[str, str, str | None]:
    """(type, id, version or None) of `Type/id` or `Type/id/_history/version`.

    Raises:
        RegistryError: not such a reference.
    """
    found = _REFERENCE.match(text.strip())
    if found is None:
        raise RegistryError(
            f"{text!r} is not a resource reference: give Type/id or Type/id/_history/version, "
            "as the report's sources cite them"
        )
    return found.group(1), found.group(2), found.group(3)


def find_versions(
    conn: Connection, reference: str, *, site: str | None = None
) -> list[AuditedVersion]:
    """The stored versions a reference names, current first, then archived newest first.

    A reference with a version gives the versions with that versionId (one, normally); without,
    every version stored. Several sites may hold the same Type/id: each is given, with its site.

    Raises:
        RegistryError: a malformed reference; or a stored blob that cannot be decompressed.
    """
    rtype, rid, version = parse_reference(reference)
    return [
        *_versions(conn, SR, rtype, rid, version, site),
        *_versions(conn, HISTORY, rtype, rid, version, site),
    ]


def _versions(
    conn: Connection,
    table: Table,
    rtype: str,
    rid: str,
    version: str | None,
    site: str | None,
) -> list[AuditedVersion]:
    stmt = select(table).where(table.c.resource_type == rtype, table.c.resource_id == rid)
    if version is not None:
        stmt = stmt.where(table.c.version_id == version)
    if site is not None:
        stmt = stmt.where(table.c.site == site)
    current = table is SR
    stmt = stmt.order_by(table.c.site, table.c.id.desc())
    out = []
    for row in conn.execute(stmt):
        if current:
            state = "deleted" if row.is_deleted else "current"
            archived = None
        else:
            state, archived = row.reason, row.archived_run_id
        out.append(
            AuditedVersion(
                state=state,
                site=row.site,
                resource_type=row.resource_type,
                resource_id=row.resource_id,
                version_id=row.version_id,
                last_updated=row.last_updated,  # aware UTC (`UTCDateTime`)
                content_hash=row.content_hash,
                origin=row.origin,
                locator=row.locator,
                fhir_version=row.fhir_version,
                ingest_run_id=row.ingest_run_id,
                archived_run_id=archived,
                raw=_raw(row.raw),
            )
        )
    return out


def _raw(blob: bytes | None) -> bytes | None:
    if blob is None:
        return None
    try:
        return rawjson.decompress(blob)
    except ValueError as exc:
        raise RegistryError(str(exc)) from exc

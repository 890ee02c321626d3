"""Version order of a resource: lastUpdated, then versionId, then content hash (issue 2, item 5).

A missing lastUpdated or versionId sorts before any present one; numeric versionIds compare as
numbers ("10" after "9"). The order is total, so a run converges to the same state whatever
order the files are read in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

_NEVER = datetime.min.replace(tzinfo=UTC)

VersionKey = tuple[bool, datetime, tuple[int, int, str], str]


def version_key(
    last_updated: datetime | None, version_id: str | None, content_hash: str
) -> VersionKey:
    """Return the sort key of a version.

    >>> version_key(None, "10", "h") > version_key(None, "9", "h")
    True
    """
    if version_id is None:
        vid = (0, 0, "")
    elif version_id.isdigit():
        vid = (1, int(version_id), "")
    else:
        vid = (2, 0, version_id)
    return (last_updated is not None, last_updated or _NEVER, vid, content_hash)


@dataclass(frozen=True, slots=True)
class Head:
    """The stored current version of a resource."""

    id: int
    version_id: str | None
    last_updated: datetime | None
    content_hash: str
    is_deleted: bool

    @classmethod
    def of(cls, row: Any) -> Head:
        """Build from a source_record row."""
        return cls(row.id, row.version_id, row.last_updated, row.content_hash, bool(row.is_deleted))

    @property
    def version(self) -> VersionKey:
        """The head's sort key."""
        return version_key(self.last_updated, self.version_id, self.content_hash)

    def same_version(self, last_updated: datetime | None, version_id: str | None) -> bool:
        """True when both claim the same explicit version (versionId and lastUpdated given)."""
        return (
            version_id is not None
            and self.version_id == version_id
            and last_updated is not None
            and self.last_updated == last_updated
        )

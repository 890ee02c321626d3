"""Lineage tables: where every row came from, every run, and everything that was quarantined."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from registry.db import Base

str64 = Annotated[str, mapped_column(String(64))]
run_fk = Annotated[int, mapped_column(ForeignKey("ingest_run.id"), index=True)]


class IngestRun(Base):
    """One `masreg import` or `pull`: its source, timing, outcome and counts."""

    __tablename__ = "ingest_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # import | pull
    site: Mapped[str64]
    source: Mapped[str] = mapped_column(Text)  # paths or server base URL (no credentials)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16))  # running | completed | failed | interrupted
    read: Mapped[int] = mapped_column(default=0)
    loaded: Mapped[int] = mapped_column(default=0)
    updated: Mapped[int] = mapped_column(default=0)
    unchanged: Mapped[int] = mapped_column(default=0)
    quarantined: Mapped[int] = mapped_column(default=0)
    skipped: Mapped[int] = mapped_column(default=0)
    details: Mapped[str] = mapped_column(Text, default="{}")  # JSON: per type, deletions, options
    host: Mapped[str | None] = mapped_column(String(255))
    pid: Mapped[int | None]
    software_version: Mapped[str64]
    message: Mapped[str | None] = mapped_column(Text)


class SourceVersion:
    """One version of one source resource: its identity, version, lineage and raw JSON.

    The raw JSON is compressed (`registry.rawjson`).
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    site: Mapped[str64]
    resource_type: Mapped[str64]
    resource_id: Mapped[str64]
    version_id: Mapped[str64 | None]
    last_updated: Mapped[datetime | None]
    content_hash: Mapped[str64]
    origin: Mapped[str] = mapped_column(Text)
    locator: Mapped[str64]
    fhir_version: Mapped[str] = mapped_column(String(8))
    ingest_run_id: Mapped[run_fk]  # the run that stored this version
    raw: Mapped[bytes | None] = mapped_column(LargeBinary)
    is_deleted: Mapped[bool] = mapped_column(default=False)


class SourceRecord(SourceVersion, Base):
    """The current version of one source resource; every concept row points here."""

    __tablename__ = "source_record"
    __table_args__ = (UniqueConstraint("site", "resource_type", "resource_id"),)

    deleted_at: Mapped[datetime | None]
    # The last run that read this resource and what it did with it (loaded | updated |
    # unchanged), so post-load checks can account a flagged resource to that run's summary.
    last_seen_run_id: Mapped[int] = mapped_column(ForeignKey("ingest_run.id"), index=True)
    last_outcome: Mapped[str] = mapped_column(String(16))


class SourceRecordHistory(SourceVersion, Base):
    """Versions that are no longer current: superseded, and older ones that arrived late."""

    __tablename__ = "source_record_history"
    __table_args__ = (
        UniqueConstraint("site", "resource_type", "resource_id", "content_hash", "is_deleted"),
    )

    archived_run_id: Mapped[int] = mapped_column(ForeignKey("ingest_run.id"))
    reason: Mapped[str] = mapped_column(String(32))  # superseded | older-version


class Quarantine(Base):
    """Anything that could not be mapped: where, what, which field, and why."""

    __tablename__ = "quarantine"
    __table_args__ = (Index(None, "status", "reason_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    fingerprint: Mapped[str64] = mapped_column(unique=True)
    site: Mapped[str64]
    first_run_id: Mapped[run_fk]
    last_run_id: Mapped[int] = mapped_column(ForeignKey("ingest_run.id"))
    times_seen: Mapped[int] = mapped_column(default=1)
    origin: Mapped[str] = mapped_column(Text)
    locator: Mapped[str64]
    resource_type: Mapped[str64 | None]
    resource_id: Mapped[str64 | None]
    version_id: Mapped[str64 | None]
    content_hash: Mapped[str64 | None]
    field_path: Mapped[str | None] = mapped_column(String(255))
    reason_code: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    raw: Mapped[bytes | None] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | resolved
    resolved_run_id: Mapped[int | None] = mapped_column(ForeignKey("ingest_run.id"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

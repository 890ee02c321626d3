"""Batched, idempotent loading of source items into the registry.

Each batch is one transaction: its source records, concept rows, history, quarantine entries and
the run's counts commit together, so a run killed at any point leaves a consistent registry and
the same command run again completes it (issue 2, item 7). The ORM unit of work is avoided on
this path: rows go in with DBAPI executemany or COPY (`registry.bulkwrite`).

Items arrive prepared (`registry.prepare`: hashed, compressed, mapped), from worker processes or
from this one; the loader decides what each does against the stored current version, validates
its sample, and writes the batch (`registry.batchwrite`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from itertools import islice
from typing import Any

from sqlalchemy import Engine

from adapter.items import ReadProblem, SourceItem
from adapter.jsontext import parse_json
from adapter.mappers import MappingContext
from adapter.validation import Validator
from registry import bulkwrite, rawjson, tables
from registry.batchwrite import Batch, BatchWriter, Candidate
from registry.counts import UNREADABLE, RunCounts
from registry.prepare import Prepared, Preparer, Ready, Rejected, Skipped
from registry.quarantine import QuarantineEntry, located_reason
from registry.records import chunks
from registry.runs import save_counts
from registry.versions import Head, version_key

logger = logging.getLogger(__name__)

SR = tables.SOURCE_RECORD
DEFAULT_BATCH = 5000


class Loader:
    """Load a stream of source items for one site and run."""

    def __init__(
        self,
        engine: Engine,
        *,
        site: str,
        run_id: int,
        context: MappingContext,
        validator: Validator,
        counts: RunCounts | None = None,
        batch_size: int = DEFAULT_BATCH,
        on_batch: Callable[[RunCounts], None] | None = None,
    ) -> None:
        self.engine = engine
        self.site = site
        self.run_id = run_id
        self.validator = validator
        self.counts = counts or RunCounts()
        self.batch_size = batch_size
        self.on_batch = on_batch
        self.preparer = Preparer(context, site, engine.dialect.name, run_id)
        self.writer = BatchWriter(site, run_id, datetime.now(UTC), self.counts)
        self._validated = 0

    def load(self, items: Iterable[SourceItem | ReadProblem]) -> RunCounts:
        """Prepare (in this process) and load every item; return the run's counts."""
        return self.load_prepared(map(self.preparer.prepare, items))

    def load_prepared(self, prepared: Iterable[Prepared]) -> RunCounts:
        """Load prepared items, batch by batch; return the run's counts (post-load not included)."""
        iterator = iter(prepared)
        while batch := list(islice(iterator, self.batch_size)):
            decided = self._decide(batch)
            with self.engine.begin() as conn:
                self.writer.write(conn, decided)
                save_counts(conn, self.run_id, self.counts)
            if self.on_batch is not None:
                self.on_batch(self.counts)
        return self.counts

    # -- deciding -------------------------------------------------------------------------

    def _decide(self, batch: list[Prepared]) -> Batch:
        """Classify every item of a batch: quarantine, skip, new, newer, unchanged or older."""
        out = Batch()
        best: dict[tuple[str, str], Candidate] = {}
        for entry in batch:
            candidate = self._candidate(entry, out)
            if candidate is None:
                continue
            other = best.get(candidate.key)
            if other is None:
                best[candidate.key] = candidate
                continue
            winner, loser = (
                (candidate, other) if candidate.version > other.version else (other, candidate)
            )
            best[candidate.key] = winner
            self._count(loser, "unchanged")
            if loser.ready.content_hash != winner.ready.content_hash:
                out.older.append(loser)
        deleted = [(d.resource_type, d.resource_id) for d in out.deletions if d.resource_id]
        out.heads = self._heads(list(best) + deleted)
        for key, candidate in best.items():
            self._against_head(candidate, out.heads.get(key), out)
        return out

    def _candidate(self, entry: Prepared, out: Batch) -> Candidate | None:
        """Turn a prepared item into a Candidate, or account for it (problem, skip, deletion)."""
        if isinstance(entry, Ready):
            key = (entry.resource_type, entry.resource_id)
            version = version_key(entry.last_updated, entry.version_id, entry.content_hash)
            return Candidate(entry, key, version)
        if isinstance(entry, Skipped):
            self.counts.add(entry.resource_type, "skipped")
        elif isinstance(entry, Rejected):
            out.quarantined.append(entry.entry)
            self.counts.add(entry.resource_type, "quarantined")
        elif isinstance(entry, ReadProblem):
            out.quarantined.append(
                QuarantineEntry(
                    entry.origin, entry.locator, entry.reason_code, entry.message, raw=entry.raw
                )
            )
            self.counts.add(UNREADABLE, "quarantined")
        else:
            out.deletions.append(entry)
        return None

    def _against_head(self, candidate: Candidate, head: Head | None, out: Batch) -> None:
        """Decide what a candidate does to the stored current version (issue 2, item 5)."""
        ready = candidate.ready
        if head is None:
            if self._admit(candidate, out):
                out.new.append(candidate)
            return
        if head.content_hash == ready.content_hash and not head.is_deleted:
            out.touched.append(head.id)
            self._count(candidate, "unchanged")
            return
        if head.same_version(ready.last_updated, ready.version_id) and not head.is_deleted:
            rtype, rid = candidate.key
            self._quarantine(
                out,
                candidate,
                "conflicting-version",
                f"{rtype}.meta",
                f"{rtype}/{rid} version {ready.version_id or '?'} "
                "is already stored with different content; the stored one is kept",
            )
            return
        if candidate.version > head.version:
            if self._admit(candidate, out):
                out.replaced.append((candidate, head))
            return
        out.older.append(candidate)
        self._count(candidate, "unchanged")

    def _admit(self, candidate: Candidate, out: Batch) -> bool:
        """Validate (sampled) a candidate to be stored; quarantine it if invalid or unmapped."""
        ready = candidate.ready
        index, self._validated = self._validated, self._validated + 1
        validated = self.validator.should_validate(index)
        if validated and (issues := self.validator.validate(_resource(ready), ready.fhir_version)):
            detail = "; ".join(f"{i.path}: {i.message}" for i in issues[:3])
            message = f"fails FHIR {ready.fhir_version} validation: {detail}"
            self._quarantine(out, candidate, "validation-failed", issues[0].path, message)
            return False
        failure = ready.failure
        if failure is None:
            return True
        if failure.defect is not None:
            logger.warning("mapper defect on a %s: %s", ready.resource_type, failure.defect)
        message = failure.message
        if not validated and self.validator.mode != "off":
            issues = self.validator.validate(_resource(ready), ready.fhir_version)
            if issues:
                message += "; it also fails validation: " + "; ".join(
                    f"{i.path}: {i.message}" for i in issues[:3]
                )
        self._quarantine(out, candidate, failure.reason_code, failure.field_path, message)
        return False

    def _quarantine(
        self, out: Batch, candidate: Candidate, reason: str, path: str | None, message: str
    ) -> None:
        """Add a quarantine entry for a candidate and count it."""
        ready = candidate.ready
        rtype, rid = candidate.key
        out.quarantined.append(
            QuarantineEntry(
                origin=ready.origin,
                locator=ready.locator,
                reason_code=reason,
                reason=located_reason(ready.origin, ready.locator, rtype, rid, message),
                field_path=path,
                resource_type=rtype,
                resource_id=rid,
                version_id=ready.version_id,
                content_hash=ready.content_hash,
                raw=rawjson.decompress(ready.raw_z),
            )
        )
        self.counts.add(rtype, "quarantined")

    def _count(self, candidate: Candidate, bucket: str) -> None:
        self.counts.add(candidate.key[0], bucket)

    def _heads(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], Head]:
        """Fetch the stored current version of each key."""
        by_type: dict[str, list[str]] = {}
        for rtype, rid in keys:
            by_type.setdefault(rtype, []).append(rid)
        heads: dict[tuple[str, str], Head] = {}
        # PostgreSQL takes the ids as one array parameter; SQLite needs one placeholder each.
        size = 5000 if self.engine.dialect.name == "postgresql" else 500
        with self.engine.connect() as conn:
            for rtype, ids in by_type.items():
                for chunk in chunks(ids, size):
                    for rid, head in bulkwrite.find_heads(conn, self.site, rtype, chunk):
                        heads[(rtype, rid)] = head
        return heads


def _resource(ready: Ready) -> dict[str, Any]:
    """The parsed resource: kept by the preparer, or read back from its canonical raw JSON."""
    if ready.resource is not None:
        return ready.resource
    value: dict[str, Any] = parse_json(rawjson.decompress(ready.raw_z))
    return value

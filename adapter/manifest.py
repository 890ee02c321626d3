"""Bulk Data export types: the kick-off request, the manifest, and the result of an export.

https://hl7.org/fhir/uv/bulkdata/export.html#response---complete-status
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urljoin

from adapter.capabilities import ExportLevel
from adapter.errors import BulkExportError
from adapter.messages import OutcomeIssue

KINDS = {"output": "", "deleted": "deleted", "error": "error"}  # manifest key -> subdirectory
_TYPE_NAME = re.compile(r"^[A-Z][A-Za-z]{1,63}$")


@dataclass(frozen=True)
class ExportRequest:
    """What to export: level (``system``, ``patient``, ``group``), types, filters, since."""

    level: ExportLevel = "system"
    group_id: str | None = None
    types: tuple[str, ...] = ()
    type_filters: tuple[str, ...] = ()
    since: str | None = None

    def path(self) -> str:
        """The kick-off path relative to the base."""
        if self.level == "group":
            if not self.group_id:
                raise BulkExportError("a group-level export needs a Group id")
            return f"Group/{quote(self.group_id, safe='')}/$export"
        return "Patient/$export" if self.level == "patient" else "$export"

    def params(self) -> list[tuple[str, str]]:
        """Kick-off parameters; each ``_typeFilter`` is its own parameter (queries hold commas)."""
        params = [("_type", ",".join(self.types))] if self.types else []
        params += [("_typeFilter", query) for query in self.type_filters]
        return params + ([("_since", self.since)] if self.since else [])


@dataclass(frozen=True)
class ManifestFile:
    """One file listed in the manifest: ``kind`` is ``output``, ``deleted`` or ``error``."""

    kind: str
    type: str
    url: str
    count: int | None = None


@dataclass(frozen=True)
class Manifest:
    """The completed export's manifest."""

    transaction_time: str
    requires_access_token: bool
    files: tuple[ManifestFile, ...]

    @classmethod
    def parse(cls, body: Mapping[str, Any], base_url: str) -> Manifest:
        """Read a manifest, resolving relative file URLs against `base_url`.

        Raises:
            BulkExportError: no transactionTime, or a file entry without a usable type or url.
        """
        if not isinstance(body.get("transactionTime"), str):
            raise BulkExportError("the export manifest has no transactionTime")
        files = []
        for kind in KINDS:
            for item in body.get(kind) or []:
                kind_type = item.get("type") if isinstance(item, dict) else None
                url = item.get("url") if isinstance(item, dict) else None
                if not (isinstance(kind_type, str) and _TYPE_NAME.match(kind_type)):
                    raise BulkExportError(f"an '{kind}' entry of the manifest has no valid type")
                if not isinstance(url, str) or not url:
                    raise BulkExportError(f"an '{kind}' entry of the manifest has no url")
                count = item.get("count")
                count = count if isinstance(count, int) and not isinstance(count, bool) else None
                files.append(ManifestFile(kind, kind_type, urljoin(base_url + "/", url), count))
        requires = body.get("requiresAccessToken") is True
        return cls(body["transactionTime"], requires, tuple(files))


@dataclass(frozen=True)
class DownloadedFile:
    """A complete file on disk, with its non-blank line count."""

    kind: str
    type: str
    path: Path
    lines: int


@dataclass(frozen=True)
class ExportResult:
    """What an export produced.

    Attributes:
        transaction_time: the server's transactionTime (the ``_since`` of the next pull).
        output: downloaded data files per resource type.
        deleted: files of deletion Bundles (``request.method = DELETE``).
        errors: the server's OperationOutcome error files.
        error_issues: the issues read from the error files.
        job_deleted: the job was deleted on the server after success.
        resumed: this run continued an interrupted export.
    """

    transaction_time: str
    output: Mapping[str, tuple[DownloadedFile, ...]]
    deleted: tuple[DownloadedFile, ...]
    errors: tuple[DownloadedFile, ...]
    error_issues: tuple[OutcomeIssue, ...]
    job_deleted: bool
    resumed: bool

"""Bulk Data ``$export`` client: kick-off, polling, manifest, streamed NDJSON downloads, resume.

Spec: https://hl7.org/fhir/uv/bulkdata/export.html. A small JSON state file in the target
directory records the status URL, the manifest and each completed file, so an interrupted export
resumes without a new kick-off and without downloading complete files again. Files are written
to ``<name>.part`` and renamed when complete and checked, so a file under its final name is
always whole. The access token goes only to files on the base's origin, and only when the
manifest sets ``requiresAccessToken``: a file elsewhere that asks for it is refused.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import requests

from adapter.client import FhirClient
from adapter.errors import (
    BulkExportError,
    FatalHTTPError,
    HTTPError,
    OriginError,
    TemporaryHTTPError,
)
from adapter.http import as_json, as_response, retry_delay
from adapter.manifest import (
    KINDS,
    DownloadedFile,
    ExportRequest,
    ExportResult,
    Manifest,
    ManifestFile,
)
from adapter.messages import OutcomeIssue, outcome_issues

logger = logging.getLogger(__name__)

STATE_FILE = "export-state.json"
_CHUNK = 1 << 16


@dataclass
class _State:
    base_url: str
    request: dict[str, Any]
    status_url: str | None = None
    manifest: dict[str, Any] | None = None
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    complete: bool = False
    job_deleted: bool = False
    resumed: bool = False


class BulkExporter:
    """Runs one export into a directory, resuming from its state file.

    Args:
        client: an open `FhirClient` (its retries, sleep, clock and credentials are used).
        directory: where files and the state file go.
        on_progress: ``on_progress(x_progress, delay)`` on each 202 while polling.
        on_file: called with each file once complete.
        max_wait: seconds of polling before giving up (the state file allows resuming later).
    """

    def __init__(
        self,
        client: FhirClient,
        directory: Path,
        *,
        on_progress: Callable[[str | None, float], None] | None = None,
        on_file: Callable[[DownloadedFile], None] | None = None,
        max_wait: float = 24 * 3600.0,
    ) -> None:
        self._client = client
        self._dir = directory
        self._on_progress = on_progress
        self._on_file = on_file
        self._max_wait = max_wait
        self._lock = threading.Lock()

    @property
    def state_path(self) -> Path:
        """The state file's path."""
        return self._dir / STATE_FILE

    def run(self, request: ExportRequest) -> ExportResult:
        """Kick off (or resume) an export, wait for it, download every file, delete the job.

        Raises:
            BulkExportError: a bad kick-off answer or manifest, a vanished or failed job, too long
                a wait, a line count different from the manifest's, or a state file of another
                export in the directory.
            OriginError: a file on another origin requires the access token, or the status
                URL is on another origin.
            HTTPError, AuthError, ConfigError: see `FhirClient.request`.
        """
        self._dir.mkdir(parents=True, exist_ok=True)
        state = self._load_state(request)
        if not state.complete:
            if state.status_url is None:
                state.status_url = self._kick_off(request)
                self._save(state)
            if state.manifest is None:
                state.manifest = self._poll(state)
                self._save(state)
            manifest = Manifest.parse(state.manifest, self._client.base_url)
            self._download_all(state, manifest)
            state.job_deleted = self._delete_job(state.status_url)
            state.complete = True
            self._save(state)
        return self._result(state)

    def _load_state(self, request: ExportRequest) -> _State:
        fresh = _State(self._client.base_url, json.loads(json.dumps(asdict(request))))
        if not self.state_path.exists():
            return fresh
        try:
            state = _State(**json.loads(self.state_path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError) as exc:
            raise BulkExportError(f"the state file {self.state_path} is unreadable") from exc
        if (state.base_url, state.request) != (fresh.base_url, fresh.request):
            raise BulkExportError(
                f"{self._dir} holds another export (other server or request): use a new directory"
            )
        state.resumed = True
        logger.info("resuming the export recorded in %s", self.state_path)
        return state

    def _save(self, state: _State) -> None:
        with self._lock:
            temporary = self.state_path.with_suffix(".tmp")
            temporary.write_text(json.dumps(asdict(state), indent=1), encoding="utf-8")
            temporary.replace(self.state_path)

    def _kick_off(self, request: ExportRequest) -> str:
        headers = {"Accept": "application/fhir+json", "Prefer": "respond-async"}
        response = self._client.request(
            "GET", request.path(), as_response, params=request.params(), headers=headers
        )
        location = response.headers.get("Content-Location")
        if response.status_code != 202 or not location:
            raise BulkExportError(
                f"the $export kick-off got {response.status_code} "
                f"{'with' if location else 'without'} a Content-Location, not 202 with one"
            )
        logger.info("bulk export accepted by the server")
        return urljoin(response.url, location)

    def _poll(self, state: _State) -> dict[str, Any]:
        transport, started, attempt = self._client.transport, self._client.transport.clock(), 0
        status_url = state.status_url or ""
        while True:
            try:
                response, manifest = self._client.request(
                    "GET", status_url, _status_reply, headers={"Accept": "application/json"}
                )
            except FatalHTTPError as exc:
                raise self._failed(state, exc) from exc
            if manifest is not None:
                return manifest
            if response.status_code != 202:
                raise BulkExportError(f"the export status answered {response.status_code}")
            attempt += 1
            delay = retry_delay(transport, min(attempt, 16), response)
            if transport.clock() + delay - started > self._max_wait:
                raise BulkExportError(
                    f"the export is still running after {self._max_wait:.0f} s; run again to "
                    "resume waiting"
                )
            progress = (response.headers.get("X-Progress") or "")[:100] or None
            logger.info("export in progress (%s); next check in %.0f s", progress, delay)
            if self._on_progress is not None:
                self._on_progress(progress, delay)
            transport.sleep(delay)

    def _failed(self, state: _State, exc: FatalHTTPError) -> BulkExportError:
        if exc.status in (404, 410):  # the job expired or was deleted: start over next time
            for done in state.files.values():  # files of the old job must not mix with a new one
                (self._dir / done["path"]).unlink(missing_ok=True)
            state.status_url, state.manifest, state.files = None, None, {}
            self._save(state)
            return BulkExportError(f"the export is gone ({exc}); run again for a new export")
        return BulkExportError(f"the export failed: {exc}; delete {self.state_path} to start over")

    def _download_all(self, state: _State, manifest: Manifest) -> None:
        pending, numbers = [], Counter[tuple[str, str]]()
        for item in manifest.files:  # <kind dir>/<Type>.<n>.ndjson, n counted per kind and type
            numbers[item.kind, item.type] += 1
            number = numbers[item.kind, item.type]
            name = Path(KINDS[item.kind]) / f"{item.type}.{number:03d}.ndjson"
            done = state.files.get(item.url)
            if done is None or not _intact(self._dir / done["path"], done["bytes"]):
                self._check_origin(item, manifest.requires_access_token)
                pending.append((item, name))
        jobs = self._client.map_concurrent(
            lambda job: self._download(state, job[0], job[1], manifest.requires_access_token),
            pending,
        )
        try:
            for downloaded in jobs:
                if self._on_file is not None:
                    self._on_file(downloaded)
        except FatalHTTPError as exc:
            if exc.status in (404, 410):  # files expire with their job (resumed too late)
                raise self._failed(state, exc) from exc
            raise

    def _check_origin(self, item: ManifestFile, requires_token: bool) -> None:
        if requires_token and not self._client.same_origin(item.url):
            raise OriginError(
                f"the manifest asks for the access token on another origin for a {item.type} "
                "file; refusing to send it there"
            )

    def _download(
        self, state: _State, item: ManifestFile, name: Path, requires_token: bool
    ) -> DownloadedFile:
        target = self._dir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        part = target.with_name(target.name + ".part")
        label = f"{item.kind} file {name}"
        headers = {"Accept": "application/fhir+ndjson"}

        def consume(response: requests.Response) -> tuple[int, int]:
            return _write(response, part, item.count, label)

        lines, size = self._client.request(
            "GET", item.url, consume, headers=headers, stream=True, authenticated=requires_token
        )
        part.replace(target)
        with self._lock:
            state.files[item.url] = {"path": str(name), "lines": lines, "bytes": size}
        self._save(state)
        logger.info("downloaded %s: %d lines", label, lines)
        return DownloadedFile(item.kind, item.type, target, lines)

    def _delete_job(self, status_url: str | None) -> bool:
        if not status_url:
            return False
        try:
            self._client.request("DELETE", status_url, as_response)
        except HTTPError as exc:
            logger.warning("could not delete the finished export job: %s", exc)
            return False
        return True

    def _result(self, state: _State) -> ExportResult:
        manifest = Manifest.parse(state.manifest or {}, self._client.base_url)
        by_kind: dict[str, list[DownloadedFile]] = {kind: [] for kind in KINDS}
        for item in manifest.files:
            done = state.files[item.url]
            path = self._dir / done["path"]
            by_kind[item.kind].append(DownloadedFile(item.kind, item.type, path, done["lines"]))
        output: dict[str, tuple[DownloadedFile, ...]] = {}
        for downloaded in by_kind["output"]:
            output[downloaded.type] = (*output.get(downloaded.type, ()), downloaded)
        errors = tuple(by_kind["error"])
        return ExportResult(
            transaction_time=manifest.transaction_time,
            output=output,
            deleted=tuple(by_kind["deleted"]),
            errors=errors,
            error_issues=tuple(issue for f in errors for issue in _read_issues(f.path)),
            job_deleted=state.job_deleted,
            resumed=state.resumed,
        )


def _status_reply(response: requests.Response) -> tuple[requests.Response, dict[str, Any] | None]:
    """Consumer for status polls: a 200 body is parsed inside the retry loop (truncation)."""
    return response, as_json(response) if response.status_code == 200 else None


def _intact(path: Path, size: int) -> bool:
    return path.is_file() and path.stat().st_size == size


def _write(
    response: requests.Response, part: Path, expected: int | None, label: str
) -> tuple[int, int]:
    """Stream a body to `part`, counting non-blank lines; only the current line is in memory.

    Raises:
        TemporaryHTTPError: the last line lacks its line break and is not valid JSON, or the
            line count differs from the manifest's (both retried like a truncated body).
    """
    lines, size, tail = 0, 0, bytearray()  # tail: the bytes after the last line break
    with part.open("wb") as out:
        for chunk in response.iter_content(_CHUNK):
            out.write(chunk)
            size += len(chunk)
            *ended, rest = chunk.split(b"\n")
            if ended:
                tail += ended[0]
                lines += bool(tail.strip()) + sum(1 for piece in ended[1:] if piece.strip())
                tail = bytearray(rest)
            else:
                tail += rest
        out.flush()
        os.fsync(out.fileno())
    if tail.strip():  # a last line without a line break is whole only if it parses
        lines += 1
        try:
            json.loads(tail)
        except ValueError as exc:
            raise TemporaryHTTPError(f"{label} ends in a broken line (truncated)") from exc
    if expected is not None and lines != expected:
        raise TemporaryHTTPError(f"{label} has {lines} lines, the manifest says {expected}")
    return lines, size


def _read_issues(path: Path) -> list[OutcomeIssue]:
    issues = []
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            try:
                outcome = json.loads(line) if line.strip() else None
            except ValueError:
                continue
            if isinstance(outcome, dict):
                issues += outcome_issues(outcome)
    return issues

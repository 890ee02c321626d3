"""A real third-party FHIR R4 server for the integration tests: SEKMET (PyPI `sekmet-fhir`).

What its installed source (sekmet 0.1.1) shows it supports, and what these tests rely on:
- FastAPI + SQLite store, FHIR base ``/fhir``; every write rewrites ``meta.versionId`` and
  ``meta.lastUpdated`` (so source records differ from the fixture files, clinical rows do not);
  JSON bodies go through Python floats (decimal text such as ``2.250`` comes back ``2.25``).
- search with ``_count``/``_offset`` paging (absolute next links), ``Bundle.total``, self links
  showing only the parameters it applied, ``_include``, ``_lastUpdated``; parameters it does not
  know are dropped with an OperationOutcome warning (AdverseEvent has no search parameters and is
  not in its CapabilityStatement: ``AdverseEvent?subject=...`` returns every AdverseEvent).
- transaction Bundles with PUT (used to load the fixtures), ``Patient/$everything``.
- Bulk Data ``$export`` at system, Patient and Group level (``_type``, ``_since``,
  ``_typeFilter``), status polling with ``Retry-After: 1``, NDJSON files with ``count``,
  ``requiresAccessToken``, DELETE of the job. Patient/Group exports take the patient
  compartment from its search index, so they miss Medication and AdverseEvent.
- inbound auth: static bearer tokens, HTTP Basic, SMART Backend Services (client_credentials,
  RS384/ES384 JWT assertion checked against a registered JWKS, ``jti`` replay check, SMART v1 and
  v2 scopes enforced per type; URLs without a type, such as the bulk status and file URLs, need a
  ``system/*`` scope).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

SEKMET = Path(sys.executable).with_name("sekmet")
TOKEN = "integration-test-token"
BASIC = ("masreg", "integration-test-password")
SMART_CLIENT = "masreg-integration"
CHUNK = 500


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Sekmet:
    """One SEKMET server process on 127.0.0.1 with its own data directory."""

    directory: Path
    public_jwk: dict[str, Any]
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base(self) -> str:
        return f"{self.root}/fhir"

    def start(self, timeout: float = 30.0) -> None:
        settings = {
            "base_url": self.base,
            "host": "127.0.0.1",
            "port": self.port,
            "data_dir": str(self.directory / "data"),
            "log_inbound": False,
            "validation": {"inbound": "off"},
            "simulator": {"enabled": False, "delay_seconds": 0.0},
            "server_auth": {
                "types": ["bearer", "basic", "smart"],
                "tokens": [TOKEN],
                "users": {BASIC[0]: BASIC[1]},
                "smart_clients": [
                    {
                        "client_id": SMART_CLIENT,
                        "jwks": {"keys": [self.public_jwk]},
                        "scopes": "system/*.rs system/*.read",
                    }
                ],
                "token_lifetime": 300,
            },
        }
        config = self.directory / "settings.yaml"
        config.write_text(json.dumps(settings), encoding="utf-8")  # JSON is YAML
        log = (self.directory / "server.log").open("wb")
        self.process = subprocess.Popen(
            [str(SEKMET), "serve", "--config", str(config)],
            cwd=self.directory,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"sekmet exited: {self.log_tail()}")
            try:
                if requests.get(f"{self.base}/metadata", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError(f"sekmet did not start in {timeout} s: {self.log_tail()}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)

    def log_tail(self) -> str:
        path = self.directory / "server.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def session(self) -> requests.Session:
        session = requests.Session()
        session.headers.update(
            {
                "Authorization": f"Bearer {TOKEN}",
                "X-Sekmet-Simulate": "off",
                "Content-Type": "application/fhir+json",
            }
        )
        return session

    def put_all(self, resources: Iterable[dict[str, Any]]) -> int:
        """Store resources with their ids, in transaction Bundles of `CHUNK` PUTs."""
        batch: list[dict[str, Any]] = []
        count = 0
        with self.session() as session:
            for resource in [*resources, None]:
                if resource is not None:
                    batch.append(resource)
                if batch and (resource is None or len(batch) == CHUNK):
                    self._transaction(session, batch)
                    count += len(batch)
                    batch = []
        return count

    def _transaction(self, session: requests.Session, resources: list[dict[str, Any]]) -> None:
        entries = [
            {
                "resource": r,
                "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"},
            }
            for r in resources
        ]
        body = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
        response = session.post(self.base, data=json.dumps(body), timeout=60)
        if response.status_code != 200:
            raise RuntimeError(f"loading failed: {response.status_code} {response.text[:300]}")

    def delete(self, resource_type: str, resource_id: str) -> None:
        with self.session() as session:
            response = session.delete(f"{self.base}/{resource_type}/{resource_id}", timeout=10)
            response.raise_for_status()


def read_ndjson(folder: Path) -> Iterator[dict[str, Any]]:
    """Every resource of the NDJSON files in a folder."""
    for path in sorted(folder.glob("*.ndjson")):
        with path.open(encoding="utf-8") as lines:
            yield from (json.loads(line) for line in lines if line.strip())

"""Faults between `masreg pull` and the server: the pull completes and nothing is lost or doubled.

A seeded proxy injects 429 (Retry-After 0), 503, connection resets, stalls past the read
timeout and truncated bodies into a fraction of all requests (metadata, searches, bulk kick-off,
status, files). Real waits stay short: Retry-After 0, a 1 s read timeout, 0.01 s backoff.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.integration.compare import differences
from tests.integration.proxy import FAULTS, FaultProxy
from tests.integration.sekmet import Sekmet
from tests.integration.test_pull_sekmet import run_pull, snapshot_of, write_config

RATE = 0.3
STALL = 1.5  # past the 1 s read timeout


def faulty_config(directory: Path, server: str, **pull: Any) -> Path:
    connection = {"read_timeout": 1.0, "max_retries": 12, "max_delay": 0.05, "concurrency": 4}
    return write_config(directory, server, connection, **pull)


@pytest.mark.parametrize("bulk", [False, True], ids=["rest", "bulk"])
def test_pull_through_faults_equals_a_fault_free_pull(
    fhir_server: Sekmet, sqlite_url, reference_for, tmp_path, bulk
):
    """Verify that every kind of fault is survived and the registry is the fault-free one."""
    with FaultProxy(fhir_server.root, rate=RATE, seed=20251125, stall=STALL) as proxy:
        base = f"{proxy.url}/fhir"
        config = faulty_config(tmp_path, base, export_level="system")
        args = ["--config", str(config)]
        if bulk:
            args += ["--bulk", "--export-dir", str(tmp_path / "export")]
        result, summary = run_pull(sqlite_url, *args)
    assert result.exit_code == 0, result.output
    assert summary["status"] == "completed"
    assert summary["read"] == 4861
    assert set(proxy.injected) == set(FAULTS), proxy.injected
    # every injected fault cost a retry (none was fatal, none went unnoticed); a loaded machine
    # may add a timeout of its own, so only the status faults are counted exactly
    http = summary["http"]
    assert http["retries"] >= sum(proxy.injected.values())
    for status in ("429", "503"):
        assert http["retries_by_reason"][status] == proxy.injected[status]
    assert "waiting" in result.stderr
    assert differences(reference_for(sqlite_url), snapshot_of(sqlite_url)) == {}

"""Smoke test of benchmarks/import_rate.py on a tiny input, so the script keeps working.

Marked `benchmark`, so deselected by default (run with ``pytest -m benchmark``). It checks that
the script runs end to end and prints every row; the figures on a few thousand resources say
nothing about rates (the README's come from ``make benchmark``).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "import_rate.py"


@pytest.mark.benchmark
def test_import_rate_script_runs_end_to_end():
    command = [
        sys.executable,
        str(SCRIPT),
        "--resources",
        "3000",
        "--databases",
        "sqlite,postgresql",
        "--full-validation-resources",
        "300",
        "--validation-sample",
        "100",
        "--memory-sizes",
        "500,5000",
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    for row in (
        "orjson.loads",
        "minimal parse-map-insert into sqlite (reference)",
        "import into sqlite (--validate sample:100)",
        "import into postgresql (--validate sample:100)",
        "its stored rows written alone into sqlite",
        "its stored rows written alone into postgresql",
        "import into sqlite (--validate full)",
        "fhir.resources validation alone",
        "5,000",
    ):
        assert row in done.stdout

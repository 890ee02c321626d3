"""Smoke tests of benchmarks/report_10k.py and benchmarks/compare_reports.py on a few patients.

Not timed (the README's figures come from running the scripts at full size): they check that the
scripts keep working against the current schema and report format, so they run by default.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import _pg_available

REPO = Path(__file__).resolve().parents[2]


def _run(*args: str, cache: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    command = [sys.executable, *args]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=600, check=False, cwd=REPO, env=env
    )


def test_report_benchmark_runs_on_a_small_registry(tmp_path):
    use_pg = os.environ.get("MASREG_REQUIRE_PG") == "1" or _pg_available()
    skip = [] if use_pg else ["--skip-postgres"]
    args = ["--patients", "40", "--workers", "1,2", *skip]
    done = _run("benchmarks/report_10k.py", *args, cache=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "SQLite (1 process(es)): report for 40 patients" in done.stdout
    assert "SQLite (2 process(es)): report for 40 patients" in done.stdout
    if not skip:
        assert "PostgreSQL (2 process(es)): report for 40 patients" in done.stdout
    assert "report (median of 1), SQLite (1 process(es))" in done.stdout
    again = _run("benchmarks/report_10k.py", "--patients", "40", "--skip-postgres", cache=tmp_path)
    assert "cached registry" in again.stdout  # the SQLite registry is built once


@pytest.mark.parametrize("perturb", [[], ["--perturb"]], ids=["as-is", "perturbed"])
def test_compare_reports_finds_a_checkout_equal_to_itself(tmp_path, perturb):
    built = _run("benchmarks/report_10k.py", "--patients", "30", "--skip-postgres", cache=tmp_path)
    assert built.returncode == 0, built.stderr[-3000:]
    (registry,) = (tmp_path / "masreg-bench").glob("report-30-*.db")
    done = _run("benchmarks/compare_reports.py", str(registry), str(REPO), *perturb, cache=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    assert "30 patients" in done.stdout
    assert "0 cohort tables and 0 patients differ" in done.stdout

"""`masreg pull` on the command line: settings from flags/env/file, summary, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from registry.cli import main
from registry.cli.pull import progress_line
from registry.pull.run import PullProgress
from tests.registry.pull.stub import BASE


@pytest.fixture
def runner(monkeypatch) -> CliRunner:
    for name in ("MASREG_SERVER", "MASREG_TOKEN", "MASREG_AUTH", "MASREG_SITE"):
        monkeypatch.delenv(name, raising=False)
    return CliRunner()


def test_pull_prints_a_json_summary(runner, server, db_url):
    result = runner.invoke(main, ["pull", "--server", BASE, "--db", db_url, "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["status"], summary["cohort_size"], summary["read"]) == ("completed", 2, 7)
    assert summary["incomplete_reasons"] == []
    assert "post-load checks..." in result.stderr  # the step after the last batch is said


def test_pull_settings_from_the_environment_keep_the_token_secret(runner, server, db_url):
    env = {"MASREG_SERVER": BASE, "MASREG_AUTH": "bearer", "MASREG_TOKEN": "tok-123"}
    result = runner.invoke(main, ["pull", "--db", db_url, "--site", "h2"], env=env)
    assert result.exit_code == 0, result.output
    assert "Pulled 2 patients (completed)" in result.stdout
    assert "tok-123" not in result.output


def test_incomplete_pull_exits_1_unless_accepted(runner, server, db_url):
    server.fail("/R4/Encounter", 403, 403)
    result = runner.invoke(main, ["pull", "--server", BASE, "--db", db_url])
    assert result.exit_code == 1
    assert "incomplete: Encounter (patient 1 of 2): GET " in result.stderr
    assert "p1" not in result.stderr
    assert "--accept-incomplete" in result.stderr
    accepted = runner.invoke(
        main, ["pull", "--server", BASE, "--db", db_url, "--accept-incomplete"]
    )
    assert accepted.exit_code == 0, accepted.output


def test_config_file_and_flag_precedence(runner, server, db_url, tmp_path: Path):
    config = tmp_path / "site.toml"
    config.write_text(
        '[server]\nurl = "https://nowhere.invalid/R4"\n[pull]\nsite = "from-file"\n'
        '[terminology.local_codes.conditions]\n"urn:dx|MAS" = "MAS"\n'
    )
    result = runner.invoke(
        main, ["pull", "--config", str(config), "--server", BASE, "--db", db_url, "--json"]
    )
    assert result.exit_code == 0, result.output
    condition_search = next(u for u in server.urls if "/R4/Condition?" in u)
    assert "urn%3Adx%7CMAS" in condition_search  # the site's local code selects the cohort too


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--cohort", "everyone"], "unknown cohort"),
        (["--since", "yesterday"], "neither 'auto'"),
        (["--auth", "bearer"], "needs a token"),
    ],
    ids=["cohort", "since", "auth"],
)
def test_bad_usage_exits_2(runner, server, db_url, args, message):
    result = runner.invoke(main, ["pull", "--server", BASE, "--db", db_url, *args])
    assert result.exit_code == 2
    assert message in result.stderr


def test_progress_line_names_types_pages_requests_and_retries():
    line = progress_line(PullProgress({"Observation": 1200, "Patient": 9}, 14, 31, 2, 4.0))
    assert line == (
        "fetched 1,209 (Observation 1,200, Patient 9) | pages 14 | requests 31 "
        "| retries 2 (4 s waited)"
    )
    many = PullProgress({f"Type{i}": i for i in range(40)}, 1, 1, 0, 0.0)
    assert len(progress_line(many, width=80)) == 80


def test_pull_without_a_terminal_prints_a_progress_line(runner, server, db_url):
    """Cron and log files get a plain line (at most one a minute), never a redrawn one."""
    result = runner.invoke(main, ["pull", "--server", BASE, "--db", db_url])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("fetched ")]
    assert lines
    assert "\r" not in result.stderr

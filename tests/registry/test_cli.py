"""The masreg CLI: import summary and exit codes, status, quarantine export, db commands."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from registry import migrate
from registry.cli import main
from tests.factories import observation, patient, write_ndjson

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def _files(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    write_ndjson(folder / "Patient.ndjson", [patient()])
    write_ndjson(
        folder / "Observation.ndjson", [observation("o1"), observation("o2", patient_id="ghost")]
    )
    (folder / "Broken.ndjson").write_text(
        '{"resourceType": "Observation", "id": \n', encoding="utf-8"
    )
    return folder


def test_import_json_summary_adds_up_and_strict_fails(runner, db_url, tmp_path):
    folder = _files(tmp_path)
    result = runner.invoke(
        main, ["import", str(folder), "--db", db_url, "--site", "s1", "--json", "--strict"]
    )
    assert result.exit_code == 1, result.output
    summary = json.loads(result.stdout)
    assert {
        "run_id",
        "read",
        "loaded",
        "updated",
        "unchanged",
        "quarantined",
        "skipped",
        "by_type",
    } <= set(summary)
    assert (
        summary["read"]
        == 4
        == sum(summary[k] for k in ("loaded", "updated", "unchanged", "quarantined", "skipped"))
    )
    assert (summary["loaded"], summary["quarantined"]) == (2, 2)
    assert "quarantined (--strict)" in result.stderr


def test_import_text_summary_without_strict_exits_zero(runner, db_url, tmp_path):
    result = runner.invoke(main, ["import", str(_files(tmp_path)), "--db", db_url])
    assert result.exit_code == 0, result.output
    assert (
        "read 4 = 2 loaded + 0 updated + 0 unchanged + 2 quarantined + 0 skipped" in result.stdout
    )


def test_status_and_quarantine_export(runner, db_url, tmp_path):
    runner.invoke(main, ["import", str(_files(tmp_path)), "--db", db_url, "--site", "s1"])
    status = runner.invoke(main, ["status", "--db", db_url, "--json"])
    report = json.loads(status.stdout)
    assert report["patients_by_site"] == {"s1": 1}
    assert report["quarantine"] == {"open": {"invalid-json": 1, "missing-patient": 1}}
    exported = runner.invoke(main, ["quarantine", "--db", db_url, "--format", "csv"])
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert {r["reason_code"] for r in rows} == {"invalid-json", "missing-patient"}
    broken = next(r for r in rows if r["reason_code"] == "invalid-json")
    assert broken["locator"] == "line 1"
    assert broken["origin"].endswith("Broken.ndjson")
    as_json = json.loads(
        runner.invoke(main, ["quarantine", "--db", db_url, "--format", "json", "--raw"]).stdout
    )
    assert any(e["raw"] and '"id"' in e["raw"] for e in as_json)


def test_csv_export_neutralises_formulas(runner, db_url, tmp_path):
    folder = tmp_path / "in"
    write_ndjson(folder / "a.ndjson", [patient(), observation("=cmd|calc", patient_id="ghost")])
    runner.invoke(main, ["import", str(folder), "--db", db_url])
    exported = runner.invoke(main, ["quarantine", "--db", db_url, "--format", "csv"]).stdout
    assert "'=cmd|calc" in exported


def test_commands_refuse_database_not_at_head(runner, tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    result = runner.invoke(main, ["status", "--db", url])
    assert result.exit_code == 3
    assert "masreg db upgrade" in result.stderr
    assert runner.invoke(main, ["db", "upgrade", "--db", url]).exit_code == 0
    assert runner.invoke(main, ["status", "--db", url]).exit_code == 0
    current = runner.invoke(main, ["db", "current", "--db", url])
    head = migrate.head_revision()
    assert f"current {head}  head {head}" in current.stdout


def test_every_command_has_help_and_is_in_the_readme():
    """Verify each command documents itself and appears in the README (sqlite-utils test_docs)."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for name, command in main.commands.items():
        assert command.help, name
        assert f"masreg {name}" in readme, name


def test_site_local_codes_and_timezone(runner, db_url, tmp_path):
    """Verify 6.1 rule 2 (site-local codes from configuration) and zoneless times in a site zone."""
    codes = tmp_path / "site.toml"
    codes.write_text(
        '[terminology.local_codes.analytes]\n"http://hospital.example/lab|FER" = "ferritin"\n',
        encoding="utf-8",
    )
    local = observation("o1", when="2024-03-01T08:00:00")
    local["code"] = {"coding": [{"system": "http://hospital.example/lab", "code": "FER"}]}
    folder = tmp_path / "in"
    write_ndjson(folder / "a.ndjson", [patient(), local])
    args = ["import", str(folder), "--db", db_url, "--json", "--terminology", str(codes)]
    refused = runner.invoke(main, args)
    assert json.loads(refused.stdout)["quarantined"] == 1  # a time without zone is not guessed
    result = runner.invoke(main, [*args, "--timezone", "Asia/Shanghai"])
    assert json.loads(result.stdout)["loaded"] == 1
    from sqlalchemy import select

    from registry import tables
    from registry.db import make_engine

    engine = make_engine(db_url)
    with engine.connect() as conn:
        row = conn.execute(select(tables.OBSERVATION)).one()
    engine.dispose()
    assert (row.analyte, row.analyte_match) == ("ferritin", "local")
    assert row.effective_at.isoformat() == "2024-03-01T00:00:00+00:00"


def test_bad_terminology_file_is_a_clear_error(runner, db_url, tmp_path):
    codes = tmp_path / "site.toml"
    codes.write_text("[analytes.ferritinn]\nextra_loinc = ['1-1']\n", encoding="utf-8")
    result = runner.invoke(
        main, ["import", str(tmp_path), "--db", db_url, "--terminology", str(codes)]
    )
    assert result.exit_code == 2
    assert "ferritinn" in result.stderr


def test_import_progress_line_shows_counts_then_the_closing_steps(capsys):
    from registry.cli.importing import _Progress
    from registry.counts import RunCounts

    progress = _Progress()
    progress.phase("post-load checks")  # before any batch: the step alone
    counts = RunCounts()
    for _ in range(3):
        counts.add("Observation", "loaded")
    progress.batch(counts)
    progress.phase("building the report's indexes")
    shown = capsys.readouterr().err.split("\r")
    assert shown[1].startswith("post-load checks...")
    assert shown[2].startswith("read 3  loaded 3  updated 0  quarantined 0")
    assert shown[3].startswith("read 3  loaded 3  updated 0  quarantined 0  (building the report's")
    assert all(part.endswith("\x1b[K") for part in shown[1:])

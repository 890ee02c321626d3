"""`masreg pull` against a real FHIR server (SEKMET) holding the nine-patient cohort.

The pulled registry must equal `masreg import fixtures/nine_patients` in every clinical table.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result
from sqlalchemy import select

from registry import tables
from registry.cli import main
from registry.db import make_engine
from tests.integration.compare import clinical_snapshot, differences, without_lineage
from tests.integration.conftest import KID, SITE
from tests.integration.sekmet import BASIC, SMART_CLIENT, TOKEN, Sekmet


def write_config(
    directory: Path, server: str, connection: dict[str, Any] | None = None, **pull: Any
) -> Path:
    """A site TOML file: bearer token from a file, short waits, the given options."""
    token = directory / "token.txt"
    token.write_text(TOKEN + "\n", encoding="utf-8")
    options = {"read_timeout": 30, "max_delay": 0.2, "backoff_base": 0.01} | (connection or {})
    lines = [
        "[server]",
        f'url = "{server}"',
        'auth = "bearer"',
        'token_file = "token.txt"',
        *(f"{key} = {json.dumps(value)}" for key, value in options.items()),
        "[pull]",
        f'site = "{SITE}"',
        *(f"{key} = {json.dumps(value)}" for key, value in pull.items()),
    ]
    path = directory / "site.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run_pull(db_url: str, *args: str) -> tuple[Result, dict[str, Any]]:
    result = CliRunner().invoke(main, ["pull", "--db", db_url, "--json", *args])
    summary = json.loads(result.stdout) if result.stdout.strip().startswith("{") else {}
    return result, summary


def snapshot_of(db_url: str) -> dict[str, Any]:
    engine = make_engine(db_url)
    try:
        return clinical_snapshot(engine)
    finally:
        engine.dispose()


def run_details(db_url: str) -> list[tuple[str, str, dict[str, Any]]]:
    engine = make_engine(db_url)
    run = tables.INGEST_RUN
    with engine.connect() as conn:
        rows = conn.execute(select(run.c.kind, run.c.status, run.c.details).order_by(run.c.id))
        out = [(r.kind, r.status, json.loads(r.details)) for r in rows]
    engine.dispose()
    return out


def test_rest_pull_with_bearer_token_equals_import(
    fhir_server: Sekmet, db_url, reference_for, tmp_path
):
    """Verify that a REST pull gives the registry `masreg import` gives, and says what it did."""
    config = write_config(tmp_path, fhir_server.base)
    result, summary = run_pull(db_url, "--config", str(config))
    assert result.exit_code == 0, result.output
    assert (summary["status"], summary["cohort_size"], summary["read"]) == ("completed", 9, 4861)
    assert summary["quarantined"] == 0
    # SEKMET ignores AdverseEvent?subject=: every AdverseEvent came back for every patient and
    # the other patients' ones were dropped (7 AdverseEvents x 8 other patients).
    assert summary["dropped_other_patients"] == 56
    assert any("AdverseEvent" in note for note in summary["notes"])
    assert differences(reference_for(db_url), snapshot_of(db_url)) == {}
    ((kind, status, details),) = run_details(db_url)
    pull = details["pull"]
    assert (kind, status, pull["auth"], pull["mode"]) == ("pull", "completed", "bearer", "rest")
    assert pull["software"].startswith("SEKMET")
    assert pull["release"] == "R4"
    assert pull["server_time"]
    assert pull["searches"]["Observation"]["pages"] >= 9
    assert TOKEN not in json.dumps(details)
    assert TOKEN not in result.output


def test_bulk_pull_at_system_level_equals_import(
    fhir_server: Sekmet, db_url, reference_for, tmp_path
):
    """Verify that a Bulk Data pull imports the listed files into the same registry."""
    config = write_config(tmp_path, fhir_server.base, export_level="system")
    export = tmp_path / "export"
    result, summary = run_pull(
        db_url, "--config", str(config), "--bulk", "--export-dir", str(export)
    )
    assert result.exit_code == 0, result.output
    assert (summary["status"], summary["read"], summary["quarantined"]) == ("completed", 4861, 0)
    assert differences(reference_for(db_url), snapshot_of(db_url)) == {}
    ((_, _, details),) = run_details(db_url)
    assert details["pull"]["mode"] == "bulk"
    assert details["pull"]["server_time"]
    assert not export.exists()  # imported: the next pull starts a new export


def test_smart_backend_services_pull_equals_import(
    fhir_server: Sekmet, smart_key, reference_for, tmp_path, sqlite_url
):
    """Verify that SMART Backend Services (RS384 JWT assertion, v2 scopes) works end to end."""
    config = write_config(tmp_path, fhir_server.base)
    result, summary = run_pull(
        sqlite_url, "--config", str(config), "--auth", "smart", "--client-id", SMART_CLIENT,
        "--key", str(smart_key[0]), "--key-id", KID,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert summary["status"] == "completed"
    assert summary["http"]["reauthorizations"] == 0
    assert differences(reference_for(sqlite_url), snapshot_of(sqlite_url)) == {}
    assert run_details(sqlite_url)[0][2]["pull"]["auth"] == "smart"


def test_report_of_a_pull_equals_the_report_of_the_import(
    fhir_server: Sekmet, sqlite_url, reference_report, tmp_path
):
    """Verify issue 4's criterion: `masreg report` after a pull is the report of the import.

    Only lineage differs (row and source record ids, the server's lastUpdated).
    """
    config = write_config(tmp_path, fhir_server.base)
    result, _ = run_pull(sqlite_url, "--config", str(config))
    assert result.exit_code == 0, result.output
    out = tmp_path / "report.json"
    args = ["report", "--db", sqlite_url, "--format", "json", "--out", str(out)]
    report = CliRunner().invoke(main, args)
    assert report.exit_code == 0, report.output
    pulled = json.loads(out.read_text(encoding="utf-8"))
    assert without_lineage(pulled) == without_lineage(reference_report)


def test_basic_auth_pull_of_an_id_file_brings_only_those_patients(
    fhir_server: Sekmet, sqlite_url, tmp_path, monkeypatch
):
    """Verify that a cohort file (an id and an MRN) pulls those two patients and nobody else."""
    ids = tmp_path / "cohort.txt"
    ids.write_text("# two patients\nmas-02\nhttp://hospital.example.org/mrn|MAS-07\n")
    config = write_config(tmp_path, fhir_server.base)
    monkeypatch.setenv("MASREG_BASIC_PASSWORD", BASIC[1])
    result, summary = run_pull(
        sqlite_url, "--config", str(config), "--auth", "basic", "--basic-user", BASIC[0],
        "--cohort", f"ids:{ids}",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert summary["cohort_size"] == 2
    assert summary["quarantined"] == 0
    engine = make_engine(sqlite_url)
    source, observation = tables.SOURCE_RECORD, tables.OBSERVATION
    with engine.connect() as conn:
        patients = set(
            conn.scalars(select(source.c.resource_id).where(source.c.resource_type == "Patient"))
        )
        owners = set(conn.scalars(select(observation.c.patient_source_id).distinct()))
    engine.dispose()
    assert patients == {"mas-02", "mas-07"}
    assert len(owners) == 2


def test_wrong_token_fails_with_exit_2_and_no_secret_in_the_message(
    fhir_server: Sekmet, sqlite_url, tmp_path
):
    config = write_config(tmp_path, fhir_server.base)
    (tmp_path / "token.txt").write_text("not-the-token")
    result, _ = run_pull(sqlite_url, "--config", str(config))
    assert result.exit_code == 2
    assert "401" in result.stderr
    assert "not-the-token" not in result.output

"""`registry.pull.run.pull` end to end on the stub server, into SQLite and PostgreSQL."""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from adapter.config import ServerConfig
from adapter.errors import CapabilityError, ConfigError
from registry import tables
from registry.pull.config import PullSettings
from registry.pull.run import PullHooks, PullProgress, pull
from registry.pull.since import resolve_since, server_time
from tests.factories import observation, patient
from tests.registry.pull.conftest import make_client
from tests.registry.pull.stub import BASE, DATE


def settings(**options: Any) -> PullSettings:
    return PullSettings(server=ServerConfig(BASE), site="s1", **options)


def run(engine: Engine, clock, **options: Any):
    return pull(engine, settings(**options), client=make_client(clock))


def stored(engine: Engine) -> dict[str, str]:
    source = tables.SOURCE_RECORD
    with engine.connect() as conn:
        rows = conn.execute(select(source.c.resource_type, source.c.resource_id, source.c.origin))
        return {f"{r.resource_type}/{r.resource_id}": r.origin for r in rows}


def run_rows(engine: Engine) -> list[tuple[str, str, dict[str, Any]]]:
    run_table = tables.INGEST_RUN
    with engine.connect() as conn:
        rows = conn.execute(select(run_table).order_by(run_table.c.id))
        return [(r.kind, r.status, json.loads(r.details)) for r in rows]


def test_rest_pull_loads_the_cohort_and_records_the_run(engine, server, clock):
    result = run(engine, clock)
    assert result.status == "completed"
    assert set(stored(engine)) == {
        "Patient/p1", "Patient/p2", "Condition/c1", "Condition/c2",
        "Observation/o1", "Observation/o2", "Observation/o3",
    }  # fmt: skip
    assert set(stored(engine).values()) == {BASE}
    ((kind, status, details),) = run_rows(engine)
    info = details["pull"]
    assert (kind, status, info["mode"], info["auth"]) == ("pull", "completed", "rest", "none")
    assert info["server_time"] == "2024-07-01T10:00:00Z"  # the Date header of /metadata
    assert info["cohort_size"] == 2
    assert info["software"] == "Stub 1"
    assert info["http"]["requests"] == len(server.urls)
    assert result.summary()["read"] == 7
    # What was asked, as templates: the cohort search, then one search per type and patient.
    queries = info["queries"]
    assert queries[0].startswith("Condition?code=http://hl7.org/fhir/sid/icd-10-cm|")
    assert "Observation?patient={id}&_count=100" in queries
    assert "AdverseEvent?subject=Patient/{id}&_count=100" in queries
    assert not any("p1" in q or "p2" in q for q in queries)  # no patient ids


def test_pulling_again_changes_nothing(engine, server, clock):
    run(engine, clock)
    again = run(engine, clock)
    counts = again.imported.counts
    assert counts.read == counts.total("unchanged") == 7


def test_incomplete_pull_gets_status_incomplete(engine, server, clock):
    server.fail("/R4/Encounter", 403)
    result = run(engine, clock)
    assert result.status == "incomplete"
    ((_, status, details),) = run_rows(engine)
    assert status == "incomplete"
    assert details["pull"]["incomplete_reasons"][0]["type"] == "Encounter"
    assert "Observation/o3" in stored(engine)  # the rest is loaded


def test_since_auto_fetches_changes_of_known_patients_and_all_of_new_ones(engine, server, clock):
    run(engine, clock)
    server.resources[("Patient", "p4")] = patient("p4")
    server.resources[("Condition", "c4")] = {
        **server.resources[("Condition", "c1")], "id": "c4", "subject": {"reference": "Patient/p4"}
    }  # fmt: skip
    server.urls.clear()
    result = run(engine, clock, since="auto")
    searches = [u for u in server.urls if "/R4/Observation?" in u]
    known = [u for u in searches if "patient=p1" in u]
    new = [u for u in searches if "patient=p4" in u]
    assert all("_lastUpdated=ge2024-07-01T10%3A00%3A00Z" in u for u in known)
    assert new
    assert not any("_lastUpdated" in u for u in new)
    assert "Patient/p4" in stored(engine)
    assert result.details["since"] == "2024-07-01T10:00:00Z"


def test_since_auto_without_an_earlier_pull_means_everything(engine):
    assert resolve_since(engine, "auto", site="s1", source=BASE) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("2024-05-01", "2024-05-01"),
        ("2024-05-01T08:00:00+08:00", "2024-05-01T08:00:00+08:00"),
    ],
    ids=["none", "date", "instant"],
)
def test_since_values(engine, value, expected):
    assert resolve_since(engine, value, site="s1", source=BASE) == expected


def test_since_refuses_garbage(engine):
    with pytest.raises(ConfigError, match="neither 'auto'"):
        resolve_since(engine, "last tuesday", site="s1", source=BASE)


def test_server_time_of_a_date_header():
    assert server_time(DATE) == "2024-07-01T10:00:00Z"
    assert server_time("garbage") is None


def test_missing_capability_stops_the_pull_before_any_run(engine, server, clock):
    del server.declared["Condition"]
    with pytest.raises(CapabilityError, match="Condition"):
        run(engine, clock)
    assert run_rows(engine) == []


def test_bulk_pull_filters_the_cohort_applies_deletions_and_reads_medications(
    engine, server, clock, tmp_path: Path
):
    ref = {"medicationReference": {"reference": "Medication/m1"}}
    server.resources[("Medication", "m1")] = {"resourceType": "Medication", "id": "m1"}
    server.export_files = {
        "Patient": [patient("p1"), patient("p2"), patient("p3")],
        "Observation": [observation("o1"), observation("o4", patient_id="p3")],
        "MedicationAdministration": [
            {"resourceType": "MedicationAdministration", "id": "a1", "status": "completed",
             "subject": {"reference": "Patient/p2"}, "effectiveDateTime": "2024-03-01", **ref},
        ],
    }  # fmt: skip
    server.deleted_ids = [("Observation", "o9")]
    result = run(engine, clock, bulk=True, export_dir=tmp_path / "export")
    assert result.status == "completed"
    assert set(stored(engine)) >= {"Patient/p1", "Patient/p2", "Observation/o1", "Medication/m1"}
    assert "Patient/p3" not in stored(engine)  # exported, but not in the cohort
    assert "Observation/o4" not in stored(engine)
    assert result.report.dropped == 2
    assert result.imported.counts.deletions["tombstone"] == 1
    assert result.details["server_time"] == "2024-07-01T10:00:00Z"  # transactionTime
    assert server.kickoffs == 1
    assert "_type=" in next(u for u in server.urls if "$export" in u)
    assert "_typeFilter" not in next(u for u in server.urls if "$export" in u)
    assert not (tmp_path / "export").exists()


def test_bulk_kickoff_sends_the_type_filters_and_records_them(engine, server, clock, tmp_path):
    server.export_files = {"Patient": [patient("p1"), patient("p2")]}
    wanted = "MedicationRequest?status=active,completed"
    result = run(
        engine, clock, bulk=True, export_dir=tmp_path / "e", observations="codes",
        type_filters=(wanted,),
    )  # fmt: skip
    kickoff = urllib.parse.urlsplit(next(u for u in server.urls if "$export" in u))
    sent = [v for k, v in urllib.parse.parse_qsl(kickoff.query) if k == "_typeFilter"]
    assert sent[1] == wanted
    assert sent[0].startswith("Observation?code=http%3A%2F%2Floinc.org%7C")
    assert result.details["type_filters"] == [wanted]
    (kickoff_query,) = [q for q in result.details["queries"] if "$export" in q]
    assert kickoff_query.startswith("Patient/$export?_type=")
    assert "MedicationRequest%3Fstatus%3Dactive,completed" in kickoff_query


def test_bulk_error_files_make_the_pull_incomplete(engine, server, clock, tmp_path: Path):
    server.export_files = {"Patient": [patient("p1"), patient("p2")]}
    server.export_errors = ["Observation export failed for 3 resources"]
    result = run(engine, clock, bulk=True, export_dir=tmp_path / "export")
    assert result.status == "incomplete"
    assert result.report.messages() == ["export: error: Observation export failed for 3 resources"]
    assert {"Patient/p1", "Patient/p2"} <= set(stored(engine))


def test_progress_reports_fetched_types_pages_requests_and_retries(engine, server, clock):
    """The CLI's progress display: counts as the fetch goes, the final one complete."""
    server.fail("/R4/Encounter", 503)  # one retry on the way
    seen: list[PullProgress] = []
    hooks = PullHooks(on_progress=seen.append, progress_every=0.0)
    result = pull(engine, settings(), client=make_client(clock), hooks=hooks)
    assert result.status == "completed"
    final = seen[-1]
    assert final.fetched == {"Patient": 2, "Condition": 2, "Observation": 3}
    assert final.pages == sum(c["pages"] for c in result.report.as_dict()["searches"].values())
    assert final.pages > 0
    assert final.requests == len(server.urls)
    assert final.retries == 1
    assert len(seen) > 1  # told as it went, not only at the end
    assert [sum(p.fetched.values()) for p in seen] == sorted(sum(p.fetched.values()) for p in seen)


def test_a_large_bulk_pull_sets_the_report_indexes_aside(
    engine, server, clock, tmp_path: Path, monkeypatch
):
    """The export is on disk before its import: its size decides, as for files (issue 2)."""
    from registry import reportindexes

    monkeypatch.setattr(reportindexes, "MIN_RESOURCES", 1)  # the export's ~1 KB counts
    server.export_files = {
        "Patient": [patient("p1"), patient("p2")],
        "Observation": [observation("o1"), observation("o2", patient_id="p2")],
    }
    seen: list[list[str]] = []

    def during(_counts) -> None:
        with engine.connect() as conn:
            seen.append(reportindexes.missing(conn))

    heard: list[str] = []
    result = pull(
        engine,
        settings(bulk=True, export_dir=tmp_path / "export"),
        client=make_client(clock),
        hooks=PullHooks(on_batch=during, on_phase=heard.append),
    )
    assert result.status == "completed"
    assert seen
    assert seen[0]  # set aside while the batches were written
    assert heard == ["building the report's indexes", "post-load checks"]
    with engine.connect() as conn:
        assert reportindexes.missing(conn) == []
    ((_, _, details),) = run_rows(engine)
    assert details["options"]["defer_indexes"] is True


def test_a_rest_pull_keeps_the_report_indexes(engine, server, clock, monkeypatch):
    from registry import reportindexes

    monkeypatch.setattr(reportindexes, "MIN_RESOURCES", 1)
    run(engine, clock)
    ((_, _, details),) = run_rows(engine)
    assert details["options"]["defer_indexes"] is False

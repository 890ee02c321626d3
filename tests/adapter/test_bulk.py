"""Tests for adapter.bulk and adapter.manifest: the Bulk Data $export flow on the fake server."""

from __future__ import annotations

import json
from collections import Counter

import pytest
import requests
import responses

from adapter.bulk import STATE_FILE, BulkExporter
from adapter.client import FhirClient
from adapter.config import ServerConfig
from adapter.errors import BulkExportError, FatalHTTPError, OriginError
from adapter.manifest import ExportRequest, Manifest
from tests.fakeserver import BASE, FILES, OTHER_ORIGIN, FakeClock, FakeServer, Reply, outcome

STATUS = f"{BASE}/bulkstatus/job1"
KICKOFF = "Group/g1/$export"
TOKEN = "bulk-token"
ACCEPTED = Reply(202, headers={"Content-Location": STATUS})
TRANSACTION_TIME = "2024-03-01T10:00:00Z"


def ndjson(*resources):
    return "".join(json.dumps(r) + "\n" for r in resources).encode()


PATIENTS = ndjson(*({"resourceType": "Patient", "id": f"p{n}"} for n in (1, 2)))
OBS_1 = ndjson({"resourceType": "Observation", "id": "o1"})
OBS_2 = ndjson(*({"resourceType": "Observation", "id": f"o{n}"} for n in (2, 3, 4)))
DELETIONS = ndjson(
    {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [{"request": {"method": "DELETE", "url": "Observation/o9"}}],
    }
)
ERRORS = ndjson(outcome("Observation o7 could not be exported", severity="error"))


def manifest(requires_token=True, files=FILES, **counts):
    def item(kind, name, resource_type):
        entry = {"type": resource_type, "url": f"{files}/{name}"}
        if name in counts:
            entry["count"] = counts[name]
        return entry

    return {
        "transactionTime": TRANSACTION_TIME,
        "request": f"{BASE}/{KICKOFF}",
        "requiresAccessToken": requires_token,
        "output": [
            item("output", "patient.ndjson", "Patient"),
            item("output", "obs-1.ndjson", "Observation"),
            item("output", "obs-2.ndjson", "Observation"),
        ],
        "deleted": [item("deleted", "deleted.ndjson", "Bundle")],
        "error": [item("error", "errors.ndjson", "OperationOutcome")],
    }


FILE_NAMES = ("patient.ndjson", "obs-1.ndjson", "obs-2.ndjson", "deleted.ndjson", "errors.ndjson")


def serve_files(server, files=FILES):
    server.on("GET", f"{files}/patient.ndjson", Reply(body=PATIENTS))
    server.on("GET", f"{files}/obs-1.ndjson", Reply(body=OBS_1))
    server.on("GET", f"{files}/obs-2.ndjson", Reply(body=OBS_2))
    server.on("GET", f"{files}/deleted.ndjson", Reply(body=DELETIONS))
    server.on("GET", f"{files}/errors.ndjson", Reply(body=ERRORS))


REQUEST = ExportRequest(
    level="group",
    group_id="g1",
    types=("Patient", "Observation"),
    type_filters=("Observation?category=laboratory,vital-signs",),
    since="2024-01-01T00:00:00Z",
)


@pytest.fixture
def mock():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


@pytest.fixture
def server(mock):
    fake = FakeServer(mock, require_token=True)
    fake.valid_tokens.add(TOKEN)
    yield fake
    fake.assert_all_consumed()


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def open_client(clock):
    clients = []

    def open_one(**config):
        config = {"auth": "bearer", "token": TOKEN, "max_retries": 2, **config}
        config = ServerConfig(BASE, **config)
        client = FhirClient(config, sleep=clock.sleep, clock=clock, rand=lambda: 0.5)
        clients.append(client.__enter__())
        return client

    yield open_one
    for client in clients:
        client.__exit__(None, None, None)


def run(open_client, directory, request=REQUEST, **kwargs):
    exporter = BulkExporter(open_client(), directory, **kwargs)
    return exporter.run(request)


def test_bulk_export_whole_flow(server, open_client, clock, tmp_path):
    server.on("GET", KICKOFF, ACCEPTED)
    server.on(
        "GET",
        STATUS,
        Reply(202, headers={"X-Progress": "50% done", "Retry-After": "10"}),
        Reply(202),  # no Retry-After: backoff
        Reply(body=manifest(**{"patient.ndjson": 2, "obs-2.ndjson": 3})),
    )
    serve_files(server)
    server.on("DELETE", STATUS, Reply(202))
    progress, files = [], []

    result = run(
        open_client,
        tmp_path,
        on_progress=lambda *a: progress.append(a),
        on_file=files.append,
    )

    kickoff = server.requests[0]
    assert kickoff.headers["Accept"] == "application/fhir+json"
    assert kickoff.headers["Prefer"] == "respond-async"
    assert kickoff.url == (
        f"{BASE}/Group/g1/$export?_type=Patient%2CObservation"
        "&_typeFilter=Observation%3Fcategory%3Dlaboratory%2Cvital-signs"
        "&_since=2024-01-01T00%3A00%3A00Z"
    )
    assert progress[0] == ("50% done", 10.0)
    assert progress[1][0] is None
    assert clock.sleeps[0] == 10.0
    assert result.transaction_time == TRANSACTION_TIME
    assert {t: [f.lines for f in fs] for t, fs in result.output.items()} == {
        "Patient": [2],
        "Observation": [1, 3],
    }
    assert (tmp_path / "Observation.002.ndjson").read_bytes() == OBS_2
    assert result.deleted[0].path == tmp_path / "deleted" / "Bundle.001.ndjson"
    assert [i.text for i in result.error_issues] == ["Observation o7 could not be exported"]
    assert result.job_deleted
    assert not result.resumed
    assert len(files) == 5
    downloads = server.calls("GET", FILES)
    assert {r.headers["Authorization"] for r in downloads} == {f"Bearer {TOKEN}"}
    assert {r.headers["Accept"] for r in downloads} == {"application/fhir+ndjson"}
    assert not list(tmp_path.rglob("*.part"))
    assert json.loads((tmp_path / STATE_FILE).read_text())["complete"] is True


@pytest.mark.parametrize(
    ("request_", "path"),
    [
        (ExportRequest(), "$export"),
        (ExportRequest(level="patient", types=("Patient",)), "Patient/$export?_type=Patient"),
        (ExportRequest(level="group", group_id="a/b"), "Group/a%2Fb/$export"),
    ],
    ids=["system", "patient", "group-quoted"],
)
def test_bulk_kick_off_levels(server, open_client, tmp_path, request_, path):
    server.on("GET", path, Reply(400, outcome("not today")))

    with pytest.raises(FatalHTTPError, match="not today"):
        run(open_client, tmp_path, request=request_)


def test_bulk_files_without_required_token_get_no_token(server, open_client, tmp_path):
    server.require_token = False
    server.on("GET", KICKOFF, ACCEPTED)
    server.on("GET", STATUS, Reply(body=manifest(requires_token=False, files=OTHER_ORIGIN)))
    serve_files(server, files=OTHER_ORIGIN)
    server.on("DELETE", STATUS, Reply(202))

    run(open_client, tmp_path)

    assert len(server.calls("GET", OTHER_ORIGIN)) == 5
    assert all("Authorization" not in r.headers for r in server.calls("GET", OTHER_ORIGIN))


def test_bulk_refuses_to_send_the_token_to_another_origin(server, open_client, tmp_path):
    server.on("GET", KICKOFF, ACCEPTED)
    server.on("GET", STATUS, Reply(body=manifest(requires_token=True, files=OTHER_ORIGIN)))

    with pytest.raises(OriginError, match="refusing to send it there"):
        run(open_client, tmp_path)

    assert not server.calls("GET", OTHER_ORIGIN)


def test_bulk_resumes_after_interruption(server, open_client, tmp_path):
    server.on("GET", KICKOFF, ACCEPTED)
    server.on("GET", STATUS, Reply(body=manifest()))
    serve_files(server)
    server.routes["GET /bulkfiles/obs-2.ndjson"].clear()
    server.on("GET", f"{FILES}/obs-2.ndjson", Reply(403, outcome("try later")))

    with pytest.raises(FatalHTTPError, match="try later"):
        run(open_client, tmp_path)
    assert not (tmp_path / "Observation.002.ndjson").exists()

    server.on("GET", f"{FILES}/obs-2.ndjson", Reply(body=OBS_2))
    server.on("DELETE", STATUS, Reply(202))
    result = run(open_client, tmp_path)

    # One kick-off, one manifest, and every file fetched once, but the one that failed.
    assert len(server.calls("GET", f"{BASE}/Group")) == 1
    assert len(server.calls("GET", STATUS)) == 1
    fetched = Counter(r.url for r in server.calls("GET", FILES))
    assert fetched == {f"{FILES}/{name}": 1 for name in FILE_NAMES} | {f"{FILES}/obs-2.ndjson": 2}
    assert result.resumed
    assert [f.lines for f in result.output["Observation"]] == [1, 3]


def test_bulk_resumes_polling_without_a_new_kick_off(server, open_client, clock, tmp_path):
    server.on("GET", KICKOFF, ACCEPTED)
    server.on("GET", STATUS, Reply(202, headers={"Retry-After": "60"}))

    with pytest.raises(BulkExportError, match="still running after 30 s"):
        BulkExporter(open_client(), tmp_path, max_wait=30).run(REQUEST)

    server.on("GET", STATUS, Reply(body=manifest()))
    serve_files(server)
    server.on("DELETE", STATUS, Reply(202))
    result = run(open_client, tmp_path)

    assert len(server.calls("GET", f"{BASE}/Group")) == 1
    assert result.resumed


def test_bulk_completed_export_is_not_fetched_again(server, open_client, tmp_path):
    server.on("GET", KICKOFF, ACCEPTED)
    server.on("GET", STATUS, Reply(body=manifest()))
    serve_files(server)
    server.on("DELETE", STATUS, Reply(202))
    first = run(open_client, tmp_path)
    server.requests.clear()

    again = run(open_client, tmp_path)

    assert server.requests == []
    assert again.output == first.output
    assert again.resumed


def test_bulk_redownloads_a_damaged_file_on_resume(server, open_client, tmp_path):
    server.on("GET", KICKOFF, ACCEPTED)
    server.on("GET", STATUS, Reply(body=manifest()))
    serve_files(server)
    server.routes["GET /bulkfiles/errors.ndjson"].clear()
    server.on("GET", f"{FILES}/errors.ndjson", Reply(403))
    with pytest.raises(FatalHTTPError):
        run(open_client, tmp_path)
    (tmp_path / "Patient.001.ndjson").write_bytes(PATIENTS[:10])  # damaged since

    server.requests.clear()
    server.on("GET", f"{FILES}/patient.ndjson", Reply(body=PATIENTS))
    server.on("GET", f"{FILES}/errors.ndjson", Reply(body=ERRORS))
    server.on("DELETE", STATUS, Reply(202))
    run(open_client, tmp_path)

    assert sorted(r.url for r in server.requests if r.method == "GET") == [
        f"{FILES}/errors.ndjson",
        f"{FILES}/patient.ndjson",
    ]
    assert (tmp_path / "Patient.001.ndjson").read_bytes() == PATIENTS


def test_bulk_line_count_mismatch_is_retried_then_fatal(server, open_client, clock, tmp_path):
    server.on("GET", KICKOFF, ACCEPTED)
    server.on("GET", STATUS, Reply(body=manifest(**{"obs-2.ndjson": 4})))
    serve_files(server)
    server.on("GET", f"{FILES}/obs-2.ndjson", Reply(body=OBS_2), Reply(body=OBS_2))

    with pytest.raises(FatalHTTPError, match=r"has 3 lines, the manifest says 4 \(gave up"):
        run(open_client, tmp_path)

    assert len(server.calls("GET", f"{FILES}/obs-2.ndjson")) == 3  # 1 + max_retries 2
    assert not (tmp_path / "Observation.002.ndjson").exists()
    state = json.loads((tmp_path / STATE_FILE).read_text())
    assert f"{FILES}/obs-2.ndjson" not in state["files"]


@pytest.mark.parametrize(
    "first",
    [
        Reply(body=OBS_2[:-20]),
        Reply(body=b"".join(OBS_2.splitlines(keepends=True)[:2])),
        Reply(body=OBS_2[:30], headers={"Content-Length": str(len(OBS_2))}),
        Reply(error=requests.exceptions.ChunkedEncodingError("broken")),
    ],
    ids=["broken-last-line", "short-by-count", "content-length", "broken-chunks"],
)
def test_bulk_truncated_download_is_retried(server, open_client, tmp_path, first):
    server.on("GET", KICKOFF, ACCEPTED)
    server.on("GET", STATUS, Reply(body=manifest(**{"obs-2.ndjson": 3})))
    serve_files(server)
    server.routes["GET /bulkfiles/obs-2.ndjson"].appendleft(first)
    server.on("DELETE", STATUS, Reply(202))

    result = run(open_client, tmp_path)

    assert result.output["Observation"][1].path.read_bytes() == OBS_2


def test_bulk_counts_lines_across_chunks(server, open_client, tmp_path):
    big = [
        {"resourceType": "Observation", "id": f"o{n}", "note": "x" * (n % 400)} for n in range(900)
    ]
    body = b"\n".join(json.dumps(r).encode() for r in big) + b"\n\n  \n"  # no final line break
    body = body.rstrip(b"\n ")  # ... and trailing blank lines do not count
    assert len(body) > 3 * (1 << 16)
    server.on("GET", KICKOFF, ACCEPTED)
    files = {"output": [{"type": "Observation", "url": f"{FILES}/big.ndjson", "count": 900}]}
    server.on("GET", STATUS, Reply(body={"transactionTime": TRANSACTION_TIME, **files}))
    server.on("GET", f"{FILES}/big.ndjson", Reply(body=body))
    server.on("DELETE", STATUS, Reply(202))

    result = run(open_client, tmp_path)

    assert result.output["Observation"][0].lines == 900
    assert result.output["Observation"][0].path.read_bytes() == body


def test_bulk_job_gone_starts_over_next_time(server, open_client, tmp_path):
    server.on("GET", KICKOFF, ACCEPTED, ACCEPTED)
    server.on("GET", STATUS, Reply(404, outcome("no such job")))

    with pytest.raises(BulkExportError, match="export is gone"):
        run(open_client, tmp_path)
    assert json.loads((tmp_path / STATE_FILE).read_text())["status_url"] is None

    server.on("GET", STATUS, Reply(body=manifest()))
    serve_files(server)
    server.on("DELETE", STATUS, Reply(202))
    run(open_client, tmp_path)

    assert len(server.calls("GET", f"{BASE}/Group")) == 2


def test_bulk_expired_files_start_over_next_time(server, open_client, tmp_path):
    server.on("GET", KICKOFF, ACCEPTED, ACCEPTED)
    server.on("GET", STATUS, Reply(body=manifest()), Reply(body=manifest()))
    for name, body in zip(FILE_NAMES, (PATIENTS, OBS_1, OBS_2, DELETIONS, ERRORS), strict=True):
        server.on("GET", f"{FILES}/{name}", Reply(body=body), sticky=True)
    server.on("GET", f"{FILES}/obs-2.ndjson", Reply(410, outcome("expired")))

    with pytest.raises(BulkExportError, match="export is gone"):
        run(open_client, tmp_path)
    assert not list(tmp_path.rglob("*.ndjson"))  # nothing of the expired job is left
    server.on("DELETE", STATUS, Reply(202))
    result = run(open_client, tmp_path)

    assert len(server.calls("GET", f"{BASE}/Group")) == 2
    assert [f.lines for f in result.output["Observation"]] == [1, 3]


def test_bulk_failed_job_reports_the_outcome(server, open_client, tmp_path):
    server.on("GET", KICKOFF, ACCEPTED)
    server.on("GET", STATUS, Reply(400, outcome("Group g1 is too large to export")))

    with pytest.raises(BulkExportError, match=r"too large to export; delete .*export-state"):
        run(open_client, tmp_path)


@pytest.mark.parametrize(
    "reply",
    [Reply(200, body={"resourceType": "Bundle"}), Reply(202)],
    ids=["not-accepted", "no-content-location"],
)
def test_bulk_kick_off_must_be_accepted(server, open_client, tmp_path, reply):
    server.on("GET", KICKOFF, reply)

    with pytest.raises(BulkExportError, match="not 202 with one"):
        run(open_client, tmp_path)


def test_bulk_truncated_manifest_is_retried(server, open_client, clock, tmp_path):
    server.on("GET", KICKOFF, ACCEPTED)
    server.on("GET", STATUS, Reply(body=json.dumps(manifest())[:50]), Reply(body=manifest()))
    serve_files(server)
    server.on("DELETE", STATUS, Reply(202))

    client = open_client()
    result = BulkExporter(client, tmp_path).run(REQUEST)

    assert result.transaction_time == TRANSACTION_TIME
    assert client.counters.by_reason == {"invalid-body": 1}
    assert clock.sleeps == [0.75]


def test_bulk_polling_caps_retry_after(server, open_client, clock, tmp_path):
    server.on("GET", KICKOFF, ACCEPTED)
    server.on("GET", STATUS, Reply(202, headers={"Retry-After": "3600"}), Reply(body=manifest()))
    serve_files(server)
    server.on("DELETE", STATUS, Reply(202))

    run(open_client, tmp_path)

    assert clock.sleeps == [120.0]


def test_bulk_job_delete_failure_is_not_fatal(server, open_client, tmp_path):
    server.on("GET", KICKOFF, ACCEPTED)
    server.on("GET", STATUS, Reply(body=manifest()))
    serve_files(server)
    server.on("DELETE", STATUS, Reply(405, outcome("cannot delete")))

    result = run(open_client, tmp_path)

    assert not result.job_deleted
    assert result.output["Patient"][0].lines == 2


def test_bulk_refuses_a_directory_of_another_export(server, open_client, tmp_path):
    (tmp_path / STATE_FILE).write_text(
        json.dumps({"base_url": BASE, "request": {"level": "system"}, "status_url": STATUS})
    )

    with pytest.raises(BulkExportError, match="holds another export"):
        run(open_client, tmp_path)


def test_bulk_refuses_an_unreadable_state_file(server, open_client, tmp_path):
    (tmp_path / STATE_FILE).write_text("{not json")

    with pytest.raises(BulkExportError, match="unreadable"):
        run(open_client, tmp_path)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"output": []}, "no transactionTime"),
        ({"transactionTime": "t", "output": [{"type": "../x", "url": "u"}]}, "no valid type"),
        ({"transactionTime": "t", "error": [{"type": "OperationOutcome"}]}, "no url"),
    ],
    ids=["no-time", "bad-type", "no-url"],
)
def test_manifest_refuses_bad_entries(body, message):
    with pytest.raises(BulkExportError, match=message):
        Manifest.parse(body, BASE)


def test_manifest_resolves_relative_urls_and_reads_counts():
    parsed = Manifest.parse(
        {
            "transactionTime": TRANSACTION_TIME,
            "output": [{"type": "Patient", "url": "files/1.ndjson", "count": 5}],
            "deleted": [{"type": "Bundle", "url": "/files/d.ndjson", "count": True}],
        },
        BASE,
    )

    assert [(f.kind, f.url, f.count) for f in parsed.files] == [
        ("output", f"{BASE}/files/1.ndjson", 5),
        ("deleted", "https://fhir.example.invalid/files/d.ndjson", None),
    ]
    assert not parsed.requires_access_token


def test_export_request_needs_a_group_id():
    with pytest.raises(BulkExportError, match="needs a Group id"):
        ExportRequest(level="group").path()

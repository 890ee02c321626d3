"""Tests for adapter.client (with adapter.config and adapter.capabilities) on the fake server."""

from __future__ import annotations

import json
import threading

import jwt
import pytest
import requests
import responses
from cryptography.hazmat.primitives.asymmetric import ec

from adapter.capabilities import parse_capabilities
from adapter.client import FhirClient
from adapter.config import ServerConfig
from adapter.errors import (
    CapabilityError,
    ConfigError,
    FatalHTTPError,
    OriginError,
    PagingError,
)
from tests.fakeserver import (
    BASE,
    OTHER_ORIGIN,
    FakeClock,
    FakeServer,
    Reply,
    bundle,
    capability_statement,
    outcome,
)


def obs(n):
    return {"resourceType": "Observation", "id": f"o{n}"}


@pytest.fixture
def mock():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


@pytest.fixture
def server(mock):
    fake = FakeServer(mock, require_token=True)
    yield fake
    fake.assert_all_consumed()


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def key_file(tmp_path):
    key = ec.generate_private_key(ec.SECP384R1())
    path = tmp_path / "key.jwk"
    path.write_text(
        json.dumps({**jwt.algorithms.ECAlgorithm.to_jwk(key, as_dict=True), "kid": "k"})
    )
    return path


@pytest.fixture
def client(key_file, clock, server):
    config = ServerConfig(BASE, auth="smart", client_id="masreg", key_path=key_file)
    types = ["Patient", "Observation", "MedicationRequest"]
    with FhirClient(
        config, resource_types=types, sleep=clock.sleep, clock=clock, rand=lambda: 0.5
    ) as fhir:
        yield fhir


def test_client_request_outside_context_raises(key_file):
    client = FhirClient(ServerConfig(BASE))

    with pytest.raises(RuntimeError, match="with"):
        client.get_json("metadata")
    with pytest.raises(RuntimeError, match="with"):
        list(client.map_concurrent(str, [1]))


def test_client_owns_its_session_only_when_it_made_it(server):
    server.require_token = False
    given = requests.Session()
    with FhirClient(ServerConfig(BASE), session=given) as client:
        assert client.transport.session is given
        client.get_json("metadata")
    assert given.adapters  # not closed by the client
    given.close()

    with FhirClient(ServerConfig(BASE, concurrency=7)) as client:
        adapter = client.transport.session.get_adapter(BASE)
        assert adapter._pool_maxsize == 7
        assert client.transport.session.verify is True  # TLS verification stays on
    with pytest.raises(RuntimeError):
        client.get_json("metadata")


def test_client_search_follows_pages_with_the_token(client, server):
    server.on(
        "GET",
        "Observation?subject=Patient%2Fp1&code=1-8&code=2-9",
        Reply(body=bundle([obs(1)], next_url="Observation?page=2", total=2)),
    )
    server.on("GET", "Observation?page=2", Reply(body=bundle([obs(2)])))

    results = client.search(
        "Observation", [("subject", "Patient/p1"), ("code", "1-8"), ("code", "2-9")]
    )

    assert [r["id"] for r in results] == ["o1", "o2"]
    assert not results.incomplete
    pages = server.calls("GET", f"{BASE}/Observation")
    assert [p.headers["Authorization"] for p in pages] == ["Bearer token-1"] * 2
    assert pages[0].headers["Accept"] == "application/fhir+json"
    assert server.token_forms[0]["scope"] == (
        "system/MedicationRequest.rs system/Observation.rs system/Patient.rs"
    )


def test_client_search_never_sends_the_token_to_another_origin(client, server):
    server.on(
        "GET",
        "Observation?subject=Patient%2Fp1",
        Reply(body=bundle([obs(1)], next_url=f"{OTHER_ORIGIN}/R4/Observation?page=2")),
    )

    with pytest.raises(PagingError, match="another origin"):
        list(client.search("Observation", {"subject": "Patient/p1"}))

    assert not server.calls("GET", OTHER_ORIGIN)


def test_client_redirect_to_another_host_loses_the_token(client, server):
    moved = f"{OTHER_ORIGIN}/R4/Patient/p1"
    server.on("GET", "Patient/p1", Reply(302, headers={"Location": moved}))
    server.on("GET", moved, Reply(body={"resourceType": "Patient", "id": "p1"}))

    assert client.read("Patient/p1")["id"] == "p1"

    first, second = server.calls("GET", f"{BASE}/Patient") + server.calls("GET", OTHER_ORIGIN)
    assert first.headers["Authorization"] == "Bearer token-1"
    assert "Authorization" not in second.headers


def test_client_url_keeps_urls_in_query_values(client):
    assert client.url("Patient?identifier=http://hospital.example|42") == (
        f"{BASE}/Patient?identifier=http://hospital.example|42"
    )
    assert client.url(f"{BASE}/metadata") == f"{BASE}/metadata"


def test_client_refuses_credentials_for_another_origin(client, server):
    with pytest.raises(OriginError, match=r"files\.elsewhere\.invalid"):
        client.get_json(f"{OTHER_ORIGIN}/data.json")

    server.on("GET", f"{OTHER_ORIGIN}/data.json", Reply(body={"ok": True}))
    body = client.request(
        "GET", f"{OTHER_ORIGIN}/data.json", lambda r: r.json(), authenticated=False
    )
    assert body == {"ok": True}
    assert "Authorization" not in server.calls("GET", OTHER_ORIGIN)[0].headers


@pytest.mark.parametrize(
    "reference",
    ["Patient/p1", f"{BASE}/Patient/p1"],
    ids=["relative", "absolute"],
)
def test_client_read(client, server, reference):
    server.on("GET", "Patient/p1", Reply(body={"resourceType": "Patient", "id": "p1"}))

    assert client.read(reference) == {"resourceType": "Patient", "id": "p1"}


@pytest.mark.parametrize(
    "reference",
    [
        "Patient",
        "Patient/p1/_history/2",
        "#contained",
        f"{OTHER_ORIGIN}/R4/Patient/p1",
        "Patient/p1?x=1",
    ],
    ids=["no-id", "vread", "contained", "other-server", "query"],
)
def test_client_read_refuses_odd_references(client, reference):
    with pytest.raises(ValueError, match="Type/id"):
        client.read(reference)


def test_client_read_checks_what_came_back(client, server):
    server.on("GET", "Patient/p1", Reply(body={"resourceType": "Patient", "id": "p2"}))

    with pytest.raises(FatalHTTPError, match="returned another resource"):
        client.read("Patient/p1")


def test_client_read_missing_is_fatal_404(client, server):
    server.on("GET", "Medication/m9", Reply(404, outcome("Medication/m9 is not known")))

    with pytest.raises(FatalHTTPError) as info:
        client.read("Medication/m9")

    assert info.value.status == 404


def test_client_counts_retries_and_calls_on_retry(server, clock):
    server.require_token = False
    server.on("GET", "metadata", Reply(429, headers={"Retry-After": "30"}))
    waits = []
    with FhirClient(
        ServerConfig(BASE), sleep=clock.sleep, clock=clock, on_retry=lambda *a: waits.append(a)
    ) as client:
        assert client.capabilities().release == "R4"

    assert waits == [(429, 30.0, 1)]
    assert client.counters.retries == 1
    assert client.counters.waited_seconds == 30.0
    assert client.auth_kind == "none"


def test_client_map_concurrent_keeps_order_and_bounds(server):
    server.require_token = False
    in_flight, peak, lock = [0], [0], threading.Lock()
    release = threading.Event()

    def work(n):
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        release.wait(1)
        with lock:
            in_flight[0] -= 1
        return n * n

    with FhirClient(ServerConfig(BASE, concurrency=3)) as client:
        release.set()
        assert list(client.map_concurrent(work, range(20))) == [n * n for n in range(20)]

    assert peak[0] <= 3


def test_client_map_concurrent_reraises(server):
    server.require_token = False

    def work(n):
        if n == 2:
            raise FatalHTTPError("boom")
        return n

    with FhirClient(ServerConfig(BASE)) as client, pytest.raises(FatalHTTPError, match="boom"):
        list(client.map_concurrent(work, range(5)))


@pytest.mark.parametrize(
    ("version", "release"),
    [("4.0.1", "R4"), ("4.3.0", "R4B"), ("5.0.0", "R5")],
    ids=["r4", "r4b", "r5"],
)
def test_capabilities_versions(version, release):
    assert parse_capabilities(capability_statement(version)).release == release


@pytest.mark.parametrize(
    "version", ["3.0.2", "4.2.0", "6.0.0", ""], ids=["stu3", "ballot", "r6", "none"]
)
def test_capabilities_refuse_other_versions(version):
    with pytest.raises(CapabilityError, match=r"supported: 4\.0\.x"):
        parse_capabilities(capability_statement(version))


def test_capabilities_search_parameters_and_operations(client):
    caps = client.capabilities()

    assert caps.software == "FakeFHIR 1.0"
    assert caps.patient_param("Observation") == "subject"
    assert caps.patient_param("MedicationRequest") == "patient"
    assert caps.supports_search("Observation", "_count")  # declared for all types
    assert caps.supports_search("MedicationRequest", "_include")
    assert not caps.supports_search("Observation", "_include")
    assert caps.supports_include("MedicationRequest", "MedicationRequest:medication")
    assert caps.export_levels() == {"system", "patient", "group"}
    with pytest.raises(CapabilityError, match="cannot search Patient by patient"):
        caps.patient_param("Patient")


def test_capabilities_require_names_everything_missing(client):
    caps = client.capabilities()

    with pytest.raises(CapabilityError) as info:
        caps.require(
            {
                "Observation": ["subject", "patient", "code"],
                "AdverseEvent": ["subject"],
                "MedicationRequest": ["_include"],
            }
        )

    assert str(info.value) == (
        "the server does not support: Observation?patient, AdverseEvent (resource type)"
    )


@pytest.mark.parametrize(
    "statement",
    [
        {"resourceType": "Bundle"},
        {
            "resourceType": "CapabilityStatement",
            "fhirVersion": "4.0.1",
            "rest": [{"mode": "client"}],
        },
    ],
    ids=["not-capability", "no-server-rest"],
)
def test_capabilities_refuse_odd_statements(statement):
    with pytest.raises(CapabilityError):
        parse_capabilities(statement)


@pytest.mark.parametrize(
    ("url", "allow", "ok"),
    [
        ("https://fhir.example.invalid/R4/", False, True),
        ("http://fhir.example.invalid/R4", False, False),
        ("http://fhir.example.invalid/R4", True, True),
        ("http://127.0.0.1:8080/fhir", False, True),
        ("ftp://fhir.example.invalid/R4", True, False),
        ("fhir.example.invalid/R4", False, False),
    ],
    ids=["https", "http-remote", "http-allowed", "http-loopback", "ftp", "no-scheme"],
)
def test_config_base_url_rules(url, allow, ok):
    if ok:
        assert not ServerConfig(url, allow_insecure_http=allow).base_url.endswith("/")
    else:
        with pytest.raises(ConfigError):
            ServerConfig(url, allow_insecure_http=allow)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"auth": "bearer"}, "needs a token"),
        ({"auth": "basic", "basic_user": "u"}, "needs a user and a password"),
        ({"auth": "smart", "client_id": "c"}, "needs a client id and a private key"),
        ({"auth": "kerberos"}, "unknown auth kind"),
        ({"concurrency": 0}, "concurrency must be positive"),
        ({"max_retries": -1}, "must not be negative"),
        ({"token_url": "http://auth.example.invalid/token"}, "plain http"),
    ],
    ids=["bearer", "basic", "smart", "kind", "concurrency", "retries", "token-url"],
)
def test_config_refuses_incomplete_settings(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        ServerConfig(BASE, **kwargs)


def test_config_secrets_prefer_files_and_stay_out_of_repr(tmp_path):
    token_file, password_file = tmp_path / "token", tmp_path / "password"
    token_file.write_text("from-file\n")
    password_file.write_text("")
    config = ServerConfig(
        BASE,
        auth="bearer",
        token="from-value",
        token_file=token_file,
        basic_user="u",
        basic_password="pw-value",
        basic_password_file=password_file,
    )

    assert config.read_token() == "from-file"
    assert "from-value" not in repr(config)
    assert "pw-value" not in repr(config)
    with pytest.raises(ConfigError, match="is empty"):
        config.read_basic_password()
    with pytest.raises(ConfigError, match="cannot read"):
        ServerConfig(BASE, auth="bearer", token_file=tmp_path / "absent").read_token()


def test_client_enter_fails_cleanly_on_bad_secrets(tmp_path):
    config = ServerConfig(BASE, auth="bearer", token_file=tmp_path / "absent")

    with pytest.raises(ConfigError, match="cannot read the bearer token file"), FhirClient(config):
        pass

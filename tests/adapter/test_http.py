"""Tests for adapter.http: the one send-with-retry function."""

from __future__ import annotations

import email.utils

import pytest
import requests
import responses

from adapter.errors import ConfigError, FatalHTTPError, TemporaryHTTPError
from adapter.http import (
    RetryPolicy,
    Transport,
    as_json,
    as_response,
    parse_retry_after,
    send,
)
from adapter.messages import safe_url
from tests.fakeserver import BASE, START, FakeClock, FakeServer, Reply, outcome

OK = Reply(body={"resourceType": "Patient", "id": "p1"})
URL = f"{BASE}/Patient/p1"


@pytest.fixture
def mock():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


@pytest.fixture
def server(mock):
    fake = FakeServer(mock)
    yield fake
    fake.assert_all_consumed()


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def retries():
    return []


@pytest.fixture
def transport(clock, retries):
    session = requests.Session()
    yield Transport(
        session,
        RetryPolicy(max_retries=4, backoff_base=1.0, max_delay=120.0),
        sleep=clock.sleep,
        clock=clock,
        rand=lambda: 0.5,
        on_retry=lambda status, delay, attempt: retries.append((status, delay, attempt)),
    )
    session.close()


class HeaderAuth(requests.auth.AuthBase):
    def __call__(self, request):
        request.headers["Authorization"] = "Bearer s3cret-token"
        return request


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504], ids=lambda s: f"status-{s}")
def test_send_retries_retriable_statuses(server, transport, clock, retries, status):
    server.on("GET", URL, Reply(status, outcome("busy")), OK)

    body = send(transport, "GET", URL, as_json)

    assert body["id"] == "p1"
    # Backoff 1 s for the first retry, equal jitter with rand 0.5: 0.5 + 0.5 * 0.5.
    assert clock.sleeps == [0.75]
    assert retries == [(status, 0.75, 1)]
    assert transport.counters.retries == 1
    assert transport.counters.by_reason == {str(status): 1}
    assert transport.counters.requests == 2


@pytest.mark.parametrize("status", [400, 403, 404, 405, 409, 410, 422], ids=lambda s: f"status-{s}")
def test_send_never_retries_other_4xx(server, transport, clock, status):
    server.on("GET", URL, Reply(status, outcome("no such thing")))

    with pytest.raises(FatalHTTPError, match=r"\[\d+\] no such thing") as info:
        send(transport, "GET", URL, as_json)

    assert info.value.status == status
    assert clock.sleeps == []
    assert len(server.requests) == 1


def _truncated():
    # Content-Length says 100 bytes, 7 arrive: urllib3 raises IncompleteRead.
    return Reply(body=b'{"a": 1', headers={"Content-Length": "100"})


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        (Reply(error=requests.ConnectionError("reset by peer")), "connection"),
        (Reply(error=requests.exceptions.ConnectTimeout("connect")), "timeout"),
        (Reply(error=requests.exceptions.ReadTimeout("read")), "timeout"),
        (Reply(error=requests.exceptions.ChunkedEncodingError("chunk")), "truncated"),
        (_truncated(), "truncated"),
        (Reply(body='{"resourceType": "Pat'), "invalid-body"),
    ],
    ids=["reset", "connect-timeout", "read-timeout", "chunked", "content-length", "invalid-json"],
)
def test_send_retries_transport_faults(server, transport, clock, retries, fault, reason):
    server.on("GET", URL, fault, OK)

    assert send(transport, "GET", URL, as_json)["id"] == "p1"
    assert retries == [(None, 0.75, 1)]
    assert transport.counters.by_reason == {reason: 1}


def test_send_does_not_retry_tls_failures(server, transport):
    server.on("GET", URL, Reply(error=requests.exceptions.SSLError("bad certificate")))

    with pytest.raises(FatalHTTPError, match="TLS failure"):
        send(transport, "GET", URL, as_json)


def test_send_gives_up_after_max_retries(server, transport, clock):
    server.on("GET", URL, *[Reply(503, outcome("down"))] * 5)

    with pytest.raises(FatalHTTPError, match="gave up after 4 retries") as info:
        send(transport, "GET", URL, as_json)

    assert isinstance(info.value.__cause__, TemporaryHTTPError)
    assert info.value.status == 503
    # 1, 2, 4, 8 s backoff, each 0.75 of itself with rand 0.5.
    assert clock.sleeps == [0.75, 1.5, 3.0, 6.0]
    assert len(server.requests) == 5


@pytest.mark.parametrize(
    ("rand", "expected"),
    [(0.0, [2.0, 2.5, 2.5]), (0.999, [3.998, 4.9975, 4.9975])],
    ids=["jitter-low", "jitter-high"],
)
def test_send_caps_exponential_backoff(server, transport, clock, rand, expected):
    transport.policy = RetryPolicy(max_retries=3, backoff_base=4.0, max_delay=5.0)
    transport.rand = lambda: rand
    server.on("GET", URL, *[Reply(502)] * 3, OK)

    send(transport, "GET", URL, as_json)

    # 4 s, then 8 and 16 capped at 5 s; equal jitter gives between half and all of it.
    assert clock.sleeps == pytest.approx(expected)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("30", 30.0),
        (email.utils.formatdate(START + 45, usegmt=True), 45.0),
        ("3600", 120.0),
        (email.utils.formatdate(START + 7200, usegmt=True), 120.0),
        (email.utils.formatdate(START - 60, usegmt=True), 0.0),
        ("soon", 0.75),
    ],
    ids=["seconds", "http-date", "seconds-capped", "date-capped", "date-past", "garbage-backoff"],
)
def test_send_honours_retry_after(server, transport, clock, retries, header, expected):
    server.on("GET", URL, Reply(429, headers={"Retry-After": header}), OK)

    send(transport, "GET", URL, as_json)

    assert clock.sleeps == [expected]
    assert retries == [(429, expected, 1)]
    assert transport.counters.waited_seconds == expected


def test_send_reauthorizes_once_on_401_without_spending_a_retry(server, transport, clock):
    transport.policy = RetryPolicy(max_retries=0)
    server.on("GET", URL, Reply(401, outcome("expired")), OK)
    calls = []

    body = send(transport, "GET", URL, as_json, reauthorize=lambda: calls.append(1) or True)

    assert body["id"] == "p1"
    assert calls == [1]
    assert transport.counters.reauthorizations == 1
    assert transport.counters.retries == 0
    assert clock.sleeps == []


def test_send_fails_on_second_401(server, transport):
    server.on("GET", URL, Reply(401, outcome("expired")), Reply(401, outcome("still no")))
    calls = []

    with pytest.raises(FatalHTTPError, match=r"\[401\] still no"):
        send(transport, "GET", URL, as_json, reauthorize=lambda: calls.append(1) or True)

    assert calls == [1]


@pytest.mark.parametrize("reauthorize", [None, lambda: False], ids=["no-auth", "cannot-refresh"])
def test_send_401_is_fatal_without_new_credentials(server, transport, reauthorize):
    server.on("GET", URL, Reply(401, outcome("who are you")))

    with pytest.raises(FatalHTTPError, match=r"\[401\] who are you"):
        send(transport, "GET", URL, as_json, reauthorize=reauthorize)

    assert len(server.requests) == 1


def test_send_calls_form_builder_per_attempt(server, transport):
    server.on("POST", f"{BASE}/x", Reply(503), OK)
    built = []

    def form():
        built.append(len(built))
        return {"n": str(len(built))}

    send(transport, "POST", f"{BASE}/x", as_json, data=form)

    assert [r.body for r in server.requests] == ["n=1", "n=2"]


@pytest.mark.parametrize(
    ("target", "keeps_auth"),
    [
        (f"{BASE}/Patient/p1-moved", True),
        ("https://elsewhere.example.invalid/R4/Patient/p1", False),
        ("https://fhir.example.invalid:8443/R4/Patient/p1", False),
    ],
    ids=["same-origin", "other-host", "other-port"],
)
def test_send_drops_credentials_on_cross_origin_redirect(server, transport, target, keeps_auth):
    server.on("GET", URL, Reply(302, headers={"Location": target}))
    server.on("GET", target, OK)

    send(transport, "GET", URL, as_json, auth=HeaderAuth())

    first, second = server.requests
    assert first.headers["Authorization"] == "Bearer s3cret-token"
    assert ("Authorization" in second.headers) is keeps_auth
    assert second.url == target


def test_send_never_restores_credentials_after_leaving_origin(server, transport):
    away = "https://elsewhere.example.invalid/hop"
    server.on("GET", URL, Reply(307, headers={"Location": away}))
    server.on("GET", away, Reply(307, headers={"Location": f"{BASE}/Patient/p2"}))
    server.on("GET", f"{BASE}/Patient/p2", OK)

    send(transport, "GET", URL, as_json, auth=HeaderAuth())

    assert ["Authorization" in r.headers for r in server.requests] == [True, False, False]


def test_send_follows_303_with_get(server, transport):
    server.on("POST", f"{BASE}/x", Reply(303, headers={"Location": "/R4/Patient/p1"}))
    server.on("GET", URL, OK)

    assert send(transport, "POST", f"{BASE}/x", as_json, data={"a": "b"})["id"] == "p1"
    assert [r.method for r in server.requests] == ["POST", "GET"]


def test_send_refuses_too_many_redirects(server, transport):
    server.on("GET", URL, Reply(302, headers={"Location": URL}), sticky=True)

    with pytest.raises(FatalHTTPError, match="more than 5 redirects"):
        send(transport, "GET", URL, as_json)


def test_send_refuses_redirect_to_plain_http(server, transport):
    server.on("GET", URL, Reply(301, headers={"Location": "http://fhir.example.invalid/R4/x"}))

    with pytest.raises(ConfigError, match="plain http"):
        send(transport, "GET", URL, as_json, auth=HeaderAuth())

    assert len(server.requests) == 1


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("http://fhir.example.invalid/R4/metadata", False),
        ("http://127.0.0.1:8080/fhir/metadata", True),
        ("http://localhost:8080/fhir/metadata", True),
        ("http://[::1]:8080/fhir/metadata", True),
    ],
    ids=["remote", "ipv4-loopback", "localhost", "ipv6-loopback"],
)
def test_send_refuses_plain_http_except_loopback(mock, transport, url, allowed):
    mock.add(responses.GET, url, json={"resourceType": "CapabilityStatement"})

    if allowed:
        assert send(transport, "GET", url, as_json)["resourceType"] == "CapabilityStatement"
    else:
        with pytest.raises(ConfigError, match="refusing plain http"):
            send(transport, "GET", url, as_json)
        transport.policy = RetryPolicy(allow_insecure_http=True)
        assert send(transport, "GET", url, as_json)["resourceType"] == "CapabilityStatement"


def test_send_error_messages_hold_no_identifiers(server, transport, caplog):
    url = f"{BASE}/Patient?identifier=urn:mrn|MRN-12345"
    server.on("GET", url, Reply(503, "Patient MRN-12345 is locked"))
    server.on("GET", url, Reply(error=requests.ConnectionError(f"failed for {url}")))
    server.on("GET", url, Reply(400, {"resourceType": "Patient", "name": "MRN-12345"}))

    with pytest.raises(FatalHTTPError) as info, caplog.at_level("DEBUG"):
        send(transport, "GET", url, as_json, auth=HeaderAuth())

    assert str(info.value) == f"GET {BASE}/Patient: [400] Bad Request"
    assert "MRN-12345" not in caplog.text
    assert "s3cret" not in caplog.text


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (outcome("Resource type not supported"), "Resource type not supported"),
        (
            {"resourceType": "OperationOutcome", "issue": [{"diagnostics": "HAPI-0302: x"}]},
            "HAPI-0302: x",
        ),
        ({"error": "invalid_client", "error_description": "bad jwt"}, "bad jwt"),
        ({"error": "invalid_scope"}, "invalid_scope"),
        ({"resourceType": "OperationOutcome", "issue": [{"details": {"text": "x" * 500}}]}, None),
    ],
    ids=["outcome-text", "outcome-diagnostics", "oauth-description", "oauth-error", "long"],
)
def test_send_error_message_comes_from_outcome_or_oauth(server, transport, body, expected):
    server.on("GET", URL, Reply(403, body))

    with pytest.raises(FatalHTTPError) as info:
        send(transport, "GET", URL, as_json)

    message = str(info.value)
    if expected is None:
        assert len(message) < 400
        assert message.endswith("…")
    else:
        assert message == f"GET {BASE}/Patient/{{id}}: [403] {expected}"


def test_send_retries_a_stream_broken_while_consumed(server, transport):
    server.on("GET", URL, _truncated(), Reply(body=b'{"ok": true}'))
    seen = []

    def consume(response):
        seen.append(b"".join(response.iter_content(4)))
        return seen[-1]

    assert send(transport, "GET", URL, consume, stream=True) == b'{"ok": true}'
    assert transport.counters.by_reason == {"truncated": 1}


def test_send_as_json_refuses_non_objects(server, transport):
    server.on("GET", URL, Reply(body=[1, 2]))

    with pytest.raises(FatalHTTPError, match="not an object"):
        send(transport, "GET", URL, as_json)


def test_send_as_response_returns_the_response(server, transport):
    server.on("GET", URL, OK)

    assert send(transport, "GET", URL, as_response).status_code == 200


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (f"{BASE}/Patient/123", f"{BASE}/Patient/{{id}}"),
        (f"{BASE}/Patient/123/_history/4", f"{BASE}/Patient/{{id}}/_history/{{id}}"),
        (f"{BASE}/Group/g1/$export?_type=Patient", f"{BASE}/Group/{{id}}/$export"),
        (f"{BASE}/Observation?subject=Patient/9", f"{BASE}/Observation"),
        ("https://user:pw@h.invalid/R4/metadata#x", "https://h.invalid/R4/metadata"),
    ],
    ids=["read", "vread", "export", "search-query", "userinfo"],
)
def test_safe_url_hides_ids_queries_and_credentials(url, expected):
    assert safe_url(url) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        (" 12 ", 12.0),
        ("Tue, 14 Nov 2023 22:14:20 GMT", 60.0),
        ("Tue, 14 Nov 2023 22:14:20 -0000", 60.0),
        ("tomorrow", None),
        ("-5", None),
    ],
    ids=["none", "empty", "seconds", "date", "date-no-zone", "garbage", "negative"],
)
def test_parse_retry_after(value, expected):
    # START is 2023-11-14T22:13:20Z, so the dates are one minute later.
    assert parse_retry_after(value, START) == expected


def test_retry_warning_never_logs_the_servers_text(caplog):
    """Verify a server message echoing a patient id does not reach the log (no PHI in logs)."""
    import logging

    import requests

    from adapter.errors import TemporaryHTTPError
    from adapter.http import _loggable

    response = requests.Response()
    response.status_code = 503
    response.url = "https://fhir.example.invalid/R4/Patient/12345?identifier=MRN-998"
    response.request = requests.Request("GET", response.url).prepare()
    error = TemporaryHTTPError("GET ...: Patient/12345 is busy", status=503, response=response)
    with caplog.at_level(logging.WARNING):
        logging.getLogger("adapter.http").warning("%s", _loggable(error, "503"))
    assert "12345" not in caplog.text
    assert "MRN-998" not in caplog.text
    assert "[503]" in caplog.text

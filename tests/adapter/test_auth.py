"""Tests for adapter.auth: bearer, basic and SMART Backend Services credentials."""

from __future__ import annotations

import base64
import json

import jwt
import pytest
import requests
import responses
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from adapter.auth import (
    BasicAuth,
    BearerAuth,
    NoAuth,
    SmartBackendAuth,
    make_auth,
    scope_suffix,
)
from adapter.config import ServerConfig
from adapter.errors import AuthError, ConfigError, FatalHTTPError
from adapter.http import RetryPolicy, Transport, as_json, send
from adapter.keys import load_signing_key
from tests.fakeserver import BASE, TOKEN_URL, FakeClock, FakeServer, Reply

PATIENTS = f"{BASE}/Patient"
SEARCH_OK = Reply(body={"resourceType": "Bundle", "type": "searchset"})


@pytest.fixture(scope="module")
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ec_key():
    return ec.generate_private_key(ec.SECP384R1())


def _jwk(key, kid, **extra):
    if isinstance(key, rsa.RSAPrivateKey):
        data = jwt.algorithms.RSAAlgorithm.to_jwk(key, as_dict=True)
    else:
        data = jwt.algorithms.ECAlgorithm.to_jwk(key, as_dict=True)
    return {**data, "kid": kid, **extra}


def _pem(key):
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


@pytest.fixture
def mock():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


@pytest.fixture
def server(mock):
    fake = FakeServer(mock, require_token=True)
    fake.on("GET", PATIENTS, SEARCH_OK, sticky=True)
    yield fake
    fake.assert_all_consumed()


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def transport(clock):
    session = requests.Session()
    yield Transport(session, RetryPolicy(), sleep=clock.sleep, clock=clock, rand=lambda: 0.5)
    session.close()


@pytest.fixture
def key_file(tmp_path, rsa_key):
    path = tmp_path / "key.jwks"
    path.write_text(json.dumps({"keys": [_jwk(rsa_key, "rsa-1")]}))
    return path


def _smart(transport, key_file, types=("Observation", "Patient"), **kwargs):
    key = load_signing_key(key_file)
    return SmartBackendAuth(
        transport, base_url=BASE, client_id="masreg", key=key, resource_types=types, **kwargs
    )


def _verify(token, public_key, algorithm):
    # The signature is checked with the public key; exp against the fake clock by the caller.
    options = {"verify_exp": False}
    return jwt.decode(token, public_key, [algorithm], audience=TOKEN_URL, options=options)


def _get(transport, auth, url=PATIENTS):
    return send(transport, "GET", url, as_json, auth=auth, reauthorize=auth.reauthorize)


@pytest.mark.parametrize(
    ("make_file", "kid", "algorithm"),
    [
        (lambda r, e: json.dumps(_jwk(r, "k1")), None, "RS384"),
        (lambda r, e: json.dumps(_jwk(e, "k1")), None, "ES384"),
        (lambda r, e: json.dumps({"keys": [_jwk(r, "a"), _jwk(e, "k1")]}), "k1", "ES384"),
        (
            lambda r, e: json.dumps({"keys": [_jwk(r, "a", alg="RS256"), _jwk(r, "k1")]}),
            None,
            "RS384",
        ),
        (lambda r, e: _pem(r), "k1", "RS384"),
        (lambda r, e: _pem(e), "k1", "ES384"),
    ],
    ids=["jwk-rsa", "jwk-ec", "jwks-by-kid", "jwks-by-alg", "pem-rsa", "pem-ec"],
)
def test_smart_assertion_is_signed_with_the_right_claims(
    server, transport, clock, tmp_path, rsa_key, ec_key, make_file, kid, algorithm
):
    path = tmp_path / "key"
    path.write_text(make_file(rsa_key, ec_key))
    auth = SmartBackendAuth(
        transport,
        base_url=BASE,
        client_id="masreg-client",
        key=load_signing_key(path, kid=kid),
        resource_types=["Patient"],
    )

    _get(transport, auth)
    auth.reauthorize()

    public = (rsa_key if algorithm == "RS384" else ec_key).public_key()
    first, second = server.assertions
    header = jwt.get_unverified_header(first)
    assert header == {"alg": algorithm, "kid": "k1", "typ": "JWT"}
    claims, again = (_verify(token, public, algorithm) for token in (first, second))
    assert claims["iss"] == claims["sub"] == "masreg-client"
    assert claims["aud"] == TOKEN_URL
    assert 0 < claims["exp"] - clock.now <= 300  # SMART: at most five minutes ahead
    assert claims["jti"] != again["jti"]
    form = server.token_forms[0]
    assert form["grant_type"] == "client_credentials"
    assert form["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@pytest.mark.parametrize(
    ("configuration", "suffix"),
    [
        ({"capabilities": ["permission-v2"]}, "rs"),
        ({"capabilities": ["permission-v1", "permission-v2"]}, "rs"),
        ({"capabilities": ["permission-v1"]}, "read"),
        ({"scopes_supported": ["system/*.rs", "openid"]}, "rs"),
        ({"scopes_supported": ["system/*.cruds"]}, "rs"),
        ({"scopes_supported": ["system/*.read", "system/*.*"]}, "read"),
        ({}, "read"),
    ],
    ids=["v2", "v1-and-v2", "v1", "v2-scopes", "v2-cruds", "v1-scopes", "silent-server"],
)
def test_scope_suffix_follows_the_smart_configuration(configuration, suffix):
    assert scope_suffix(configuration) == suffix


@pytest.mark.parametrize(
    ("capabilities", "expected"),
    [
        (["permission-v2"], "system/Observation.rs system/Patient.rs"),
        (["permission-v1"], "system/Observation.read system/Patient.read"),
    ],
    ids=["v2", "v1"],
)
def test_smart_scopes_are_built_from_requested_types(
    server, transport, key_file, capabilities, expected
):
    server.smart_configuration["capabilities"] = capabilities
    auth = _smart(transport, key_file, types=["Patient", "Observation", "Patient"])

    _get(transport, auth)

    assert server.token_forms[0]["scope"] == expected


def test_smart_scopes_override(server, transport, key_file):
    auth = _smart(transport, key_file, scopes=["system/*.rs"])

    _get(transport, auth)

    assert server.token_forms[0]["scope"] == "system/*.rs"


def test_smart_token_is_cached_and_refreshed_before_expiry(server, transport, clock, key_file):
    auth = _smart(transport, key_file)

    _get(transport, auth)
    clock.now += 239  # 300 s token, renewed 60 s before it expires
    _get(transport, auth)
    assert len(server.assertions) == 1
    clock.now += 1
    _get(transport, auth)

    assert len(server.assertions) == 2
    tokens = [r.headers["Authorization"] for r in server.calls("GET", PATIENTS)]
    assert tokens == ["Bearer token-1", "Bearer token-1", "Bearer token-2"]


def test_smart_short_token_is_refreshed_at_half_life(server, transport, clock, key_file):
    server.token_lifetime = 60
    auth = _smart(transport, key_file)

    auth.access_token()
    clock.now += 29
    auth.access_token()
    clock.now += 1
    auth.access_token()

    assert len(server.assertions) == 2


def test_smart_reauthorizes_on_401(server, transport, key_file):
    auth = _smart(transport, key_file)
    _get(transport, auth)
    server.valid_tokens.clear()  # the server revokes the token early

    _get(transport, auth)

    tokens = [r.headers["Authorization"] for r in server.calls("GET", PATIENTS)]
    assert tokens == ["Bearer token-1", "Bearer token-1", "Bearer token-2"]
    assert transport.counters.reauthorizations == 1
    assert transport.counters.retries == 0


def test_smart_token_request_is_retried(server, transport, clock, key_file):
    server.token_replies.append(Reply(503, {"error": "temporarily_unavailable"}))
    auth = _smart(transport, key_file)

    _get(transport, auth)

    assert clock.sleeps == [0.75]
    assert len(set(server.assertions)) == 2  # a fresh assertion for each attempt
    assert "Authorization" not in server.calls("POST", TOKEN_URL)[0].headers


def test_smart_token_refusal_is_an_auth_error(server, transport, key_file):
    server.token_replies.append(
        Reply(400, {"error": "invalid_client", "error_description": "unknown kid"})
    )
    auth = _smart(transport, key_file)

    with pytest.raises(AuthError, match=r"token request failed: .*\[400\] unknown kid"):
        _get(transport, auth)


@pytest.mark.parametrize(
    ("configuration", "message"),
    [
        ({"capabilities": []}, "names no token_endpoint"),
        ({"token_endpoint": "http://auth.example.invalid/token"}, "plain http"),
    ],
    ids=["no-endpoint", "insecure-endpoint"],
)
def test_smart_configuration_problems(server, transport, key_file, configuration, message):
    server.smart_configuration = configuration
    auth = _smart(transport, key_file)

    with pytest.raises(AuthError, match=message):
        _get(transport, auth)


def test_smart_configuration_unreadable(server, transport, key_file):
    server.smart_configuration = None
    auth = _smart(transport, key_file)

    with pytest.raises(AuthError, match=r"cannot read the SMART configuration: .*\[404\]"):
        _get(transport, auth)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"token_type": "bearer"}, "no access_token"),
        ({"access_token": "t", "token_type": "mac"}, "not a bearer token"),
    ],
    ids=["no-token", "not-bearer"],
)
def test_smart_bad_token_response(server, transport, key_file, body, message):
    server.token_replies.append(Reply(body=body))

    with pytest.raises(AuthError, match=message):
        _smart(transport, key_file).access_token()


def test_smart_never_logs_secrets(server, transport, key_file, caplog, rsa_key):
    auth = _smart(transport, key_file)
    with caplog.at_level("DEBUG"):
        _get(transport, auth)
        server.valid_tokens.clear()
        _get(transport, auth)

    assert "token-1" not in caplog.text
    assert "token-2" not in caplog.text
    assert all(assertion[:20] not in caplog.text for assertion in server.assertions)
    assert _jwk(rsa_key, "x")["d"][:16] not in caplog.text
    assert repr(load_signing_key(key_file)) == "SigningKey(algorithm='RS384', kid='rsa-1')"


def test_bearer_token_from_file_is_reread_on_401(server, transport, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("old-token\n")
    config = ServerConfig(BASE, auth="bearer", token="ignored", token_file=token_file)
    auth = make_auth(config, transport)
    token_file.write_text("new-token\n")  # rotated by another process
    server.valid_tokens.add("new-token")

    _get(transport, auth)

    tokens = [r.headers["Authorization"] for r in server.calls("GET", PATIENTS)]
    assert tokens == ["Bearer old-token", "Bearer new-token"]
    assert isinstance(auth, BearerAuth)


def test_bearer_token_without_file_cannot_reauthorize(server, transport):
    auth = BearerAuth("static")

    with pytest.raises(FatalHTTPError, match=r"\[401\]"):
        _get(transport, auth)

    assert len(server.calls("GET", PATIENTS)) == 1


def test_basic_auth_header(server, transport):
    server.require_token = False
    auth = make_auth(
        ServerConfig(BASE, auth="basic", basic_user="site", basic_password="pw:1"), transport
    )

    _get(transport, auth)

    expected = "Basic " + base64.b64encode(b"site:pw:1").decode()
    assert server.calls("GET", PATIENTS)[0].headers["Authorization"] == expected
    assert isinstance(auth, BasicAuth)
    assert "pw" not in repr(auth)


def test_make_auth_kinds(transport, key_file):
    assert isinstance(make_auth(ServerConfig(BASE), transport), NoAuth)
    smart = ServerConfig(BASE, auth="smart", client_id="c", key_path=key_file)
    assert isinstance(make_auth(smart, transport, resource_types=["Patient"]), SmartBackendAuth)
    with pytest.raises(ConfigError, match="resource types"):
        make_auth(smart, transport)


@pytest.mark.parametrize(
    ("content", "kid", "message"),
    [
        (
            lambda r, e: json.dumps({k: v for k, v in _jwk(r, "k").items() if k != "d"}),
            None,
            "no RS384",
        ),
        (lambda r, e: json.dumps({"keys": [_jwk(r, "a")]}), "b", "kid 'b'"),
        (lambda r, e: json.dumps(_jwk(r, "k", alg="RS256")), None, "no RS384"),
        (lambda r, e: json.dumps(_jwk(r, "k", use="enc")), None, "no RS384"),
        (lambda r, e: _pem(ec.generate_private_key(ec.SECP256R1())), "k", "P-384"),
        (lambda r, e: _pem(r), None, "give the key id"),
        (lambda r, e: "not a key", None, "neither a JWK"),
    ],
    ids=["public-only", "unknown-kid", "wrong-alg", "encryption-key", "p256", "pem-no-kid", "junk"],
)
def test_load_signing_key_refuses_unusable_keys(tmp_path, rsa_key, ec_key, content, kid, message):
    path = tmp_path / "key"
    text = content(rsa_key, ec_key)
    path.write_text(text)

    with pytest.raises(ConfigError, match=message) as info:
        load_signing_key(path, kid=kid)

    assert len(text) < 60 or text[30:60] not in str(info.value)


def test_load_signing_key_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the private key file"):
        load_signing_key(tmp_path / "absent.jwks")

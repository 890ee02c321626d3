"""Credentials for FHIR requests: `requests.auth.AuthBase` subclasses, built by `make_auth()`.

Classes only produce credentials; retries live in `adapter.http` (token requests go through the
same `send`), and the client decides which URLs get them (same origin as the base only).
SMART Backend Services: https://hl7.org/fhir/smart-app-launch/backend-services.html
"""

from __future__ import annotations

import base64
import logging
import re
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jwt
from requests import PreparedRequest
from requests.auth import AuthBase

from adapter.config import ServerConfig, check_url
from adapter.errors import AuthError, ConfigError, HTTPError
from adapter.http import Transport, as_json, send
from adapter.keys import SigningKey, load_signing_key

logger = logging.getLogger(__name__)

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_LIFETIME = 240  # seconds; SMART requires exp <= 5 min, this leaves room for clock skew
_V2_SCOPE = re.compile(r"^(system|user|patient)/[^.]+\.(?=[cruds])c?r?u?d?s?$")


class FhirAuth(AuthBase):
    """Credentials that add nothing; subclasses add a header. Repr never shows a secret."""

    kind = "none"

    def __call__(self, request: PreparedRequest) -> PreparedRequest:
        """Return the request unchanged."""
        return request

    def reauthorize(self) -> bool:
        """Get new credentials after a 401; return whether a new attempt may succeed."""
        return False

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class NoAuth(FhirAuth):
    """No authentication (open servers, or a server behind a trusted proxy)."""


class BearerAuth(FhirAuth):
    """A static bearer token; with `reload`, a 401 re-reads it (a token file rotated outside)."""

    kind = "bearer"

    def __init__(self, token: str, *, reload: Callable[[], str] | None = None) -> None:
        self._token = token
        self._reload = reload
        self._lock = threading.Lock()

    def __call__(self, request: PreparedRequest) -> PreparedRequest:
        """Add ``Authorization: Bearer <token>``."""
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def reauthorize(self) -> bool:
        """Re-read the token file; only a changed token is worth another attempt."""
        if self._reload is None:
            return False
        with self._lock:
            token = self._reload()
            changed, self._token = token != self._token, token
        return changed


class BasicAuth(FhirAuth):
    """HTTP Basic user and password."""

    kind = "basic"

    def __init__(self, user: str, password: str) -> None:
        pair = f"{user}:{password}".encode()
        self._header = "Basic " + base64.b64encode(pair).decode("ascii")

    def __call__(self, request: PreparedRequest) -> PreparedRequest:
        """Add ``Authorization: Basic ...``."""
        request.headers["Authorization"] = self._header
        return request


def scope_suffix(smart_configuration: Mapping[str, Any]) -> str:
    """``rs`` when the server speaks SMART v2 scopes, else ``read`` (v1).

    v2 shows as the ``permission-v2`` capability or a v2-style scope in ``scopes_supported``.
    Servers that say nothing are assumed to be v1, which older servers require.
    """
    capabilities = smart_configuration.get("capabilities") or []
    supported = smart_configuration.get("scopes_supported") or []
    if "permission-v2" in capabilities:
        return "rs"
    v2 = any(isinstance(scope, str) and _V2_SCOPE.match(scope) for scope in supported)
    return "rs" if v2 else "read"


class SmartBackendAuth(FhirAuth):
    """SMART Backend Services: client-credentials grant with a signed JWT assertion.

    The token is cached and renewed `refresh_margin` seconds before it expires (or at half its
    life for short-lived tokens), under a lock so that a thread pool fetches it once.
    """

    kind = "smart"

    def __init__(
        self,
        transport: Transport,
        *,
        base_url: str,
        client_id: str,
        key: SigningKey,
        resource_types: Sequence[str],
        scopes: Sequence[str] | None = None,
        token_url: str | None = None,
        refresh_margin: float = 60.0,
    ) -> None:
        if not (scopes or resource_types):
            raise ConfigError("SMART auth needs the resource types to request scopes for")
        self._transport = transport
        self._base_url = base_url.rstrip("/")
        self._client_id = client_id
        self._key = key
        self._types = sorted(set(resource_types))
        self._scopes = list(scopes) if scopes else None
        self._token_url = token_url
        self._margin = refresh_margin
        self._lock = threading.Lock()
        self._configuration: dict[str, Any] | None = None
        self._token: str | None = None
        self._refresh_at = 0.0

    def __call__(self, request: PreparedRequest) -> PreparedRequest:
        """Add ``Authorization: Bearer <access token>``, fetching or renewing it as needed."""
        request.headers["Authorization"] = f"Bearer {self.access_token()}"
        return request

    def access_token(self) -> str:
        """Return a valid access token, from the cache while it is not about to expire.

        Raises:
            AuthError: the token endpoint refused or failed.
        """
        with self._lock:
            if self._token is None or self._transport.clock() >= self._refresh_at:
                return self._fetch_token()
            return self._token

    def reauthorize(self) -> bool:
        """Drop the cached token and fetch a new one (the server said 401)."""
        with self._lock:
            self._token = None
            self._fetch_token()
        return True

    def scopes(self) -> list[str]:
        """The scopes requested: the override, or one per resource type in v1 or v2 form."""
        if self._scopes:
            return self._scopes
        suffix = scope_suffix(self.smart_configuration())
        return [f"system/{resource_type}.{suffix}" for resource_type in self._types]

    def smart_configuration(self) -> dict[str, Any]:
        """Fetch ``<base>/.well-known/smart-configuration`` once.

        Raises:
            AuthError: it cannot be read or names no token endpoint.
        """
        if self._configuration is None:
            url = f"{self._base_url}/.well-known/smart-configuration"
            headers = {"Accept": "application/json"}
            try:
                self._configuration = send(self._transport, "GET", url, as_json, headers=headers)
            except HTTPError as exc:
                raise AuthError(f"cannot read the SMART configuration: {exc}") from exc
        return self._configuration

    def _endpoint(self) -> str:
        url = self._token_url or self.smart_configuration().get("token_endpoint")
        if not isinstance(url, str) or not url:
            raise AuthError("the server's SMART configuration names no token_endpoint")
        try:
            check_url(url, allow_insecure_http=self._transport.policy.allow_insecure_http)
        except ConfigError as exc:
            raise AuthError(f"unusable token endpoint: {exc}") from exc
        return url

    def _fetch_token(self) -> str:
        url, scope = self._endpoint(), " ".join(self.scopes())

        def form() -> dict[str, str]:  # a fresh assertion (new jti) for every attempt
            return {
                "grant_type": "client_credentials",
                "scope": scope,
                "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": self._assertion(url),
            }

        headers = {"Accept": "application/json"}
        try:
            body = send(self._transport, "POST", url, as_json, data=form, headers=headers)
        except HTTPError as exc:
            raise AuthError(f"the SMART token request failed: {exc}") from exc
        token, lifetime = body.get("access_token"), body.get("expires_in", 300)
        if not isinstance(token, str) or not token:
            raise AuthError("the SMART token response holds no access_token")
        if str(body.get("token_type", "bearer")).lower() != "bearer":
            raise AuthError("the SMART token response is not a bearer token")
        lifetime = float(lifetime) if isinstance(lifetime, int | float) and lifetime > 0 else 300.0
        self._token = token
        self._refresh_at = self._transport.clock() + lifetime - min(self._margin, lifetime / 2)
        logger.info("got a SMART access token, valid %d s, scopes: %s", lifetime, scope)
        return token

    def _assertion(self, audience: str) -> str:
        now = int(self._transport.clock())
        claims = {
            "iss": self._client_id,
            "sub": self._client_id,
            "aud": audience,
            "exp": now + ASSERTION_LIFETIME,
            "jti": uuid.uuid4().hex,
        }
        headers = {"kid": self._key.kid, "typ": "JWT"}
        return jwt.encode(claims, self._key.key, algorithm=self._key.algorithm, headers=headers)


def make_auth(
    config: ServerConfig, transport: Transport, *, resource_types: Sequence[str] = ()
) -> FhirAuth:
    """Build the credentials `config.auth` asks for.

    Args:
        config: the server configuration (secrets are read from their files here).
        transport: used by SMART auth for its configuration and token requests.
        resource_types: the resource types the run will request (SMART scopes).

    Raises:
        ConfigError: missing or unreadable secrets or key, or SMART without resource types.
    """
    if config.auth == "bearer":
        reload = config.read_token if config.token_file is not None else None
        return BearerAuth(config.read_token(), reload=reload)
    if config.auth == "basic":
        return BasicAuth(config.basic_user or "", config.read_basic_password())
    if config.auth == "smart":
        if not config.client_id or config.key_path is None:
            raise ConfigError("auth 'smart' needs a client id and a private key file")
        return SmartBackendAuth(
            transport,
            base_url=config.base_url,
            client_id=config.client_id,
            key=load_signing_key(config.key_path, kid=config.key_id),
            resource_types=resource_types,
            scopes=config.scopes,
            token_url=config.token_url,
        )
    return NoAuth()

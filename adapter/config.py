"""ServerConfig: everything needed to talk to one FHIR server, typed and frozen.

Built only by the CLI (flag, then environment, then TOML file, then default). Secrets can be given
as a value or as a file path; when both are given the file wins, because a file keeps the secret
out of shell history and process listings. Secret values never appear in `repr()`.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from adapter.errors import ConfigError

AuthKind = Literal["none", "bearer", "basic", "smart"]
AUTH_KINDS: tuple[AuthKind, ...] = ("none", "bearer", "basic", "smart")


@dataclass(frozen=True)
class ServerConfig:
    """How to reach and authenticate against one FHIR server.

    Attributes:
        base_url: the FHIR base, e.g. ``https://fhir.example.org/R4`` (no trailing slash kept).
        auth: ``none``, ``bearer`` (static token), ``basic`` or ``smart`` (Backend Services).
        client_id: SMART client id.
        key_path: SMART private key: a JWK, a JWKS (several keys) or a PEM file.
        key_id: the ``kid`` to pick from a JWKS, and the ``kid`` header for a PEM key.
        token_url: overrides the token endpoint of ``.well-known/smart-configuration``.
        token: static bearer token value (prefer `token_file`).
        token_file: file holding the static bearer token; re-read when the server answers 401.
        basic_user: HTTP Basic user name.
        basic_password: HTTP Basic password value (prefer `basic_password_file`).
        basic_password_file: file holding the HTTP Basic password.
        scopes: replaces the SMART scopes built from the requested resource types.
        connect_timeout: seconds to wait for a connection.
        read_timeout: seconds to wait between two bytes of a response.
        max_retries: retries after the first attempt for retriable failures.
        backoff_base: first backoff delay in seconds, doubled on every retry.
        max_delay: cap in seconds on any single wait (backoff, Retry-After, bulk polling).
        concurrency: size of the thread pool and of the connection pool.
        max_pages: page cap for one search, a guard against endless paging.
        allow_insecure_http: allow ``http://`` to hosts other than loopback.
    """

    base_url: str
    auth: AuthKind = "none"
    client_id: str | None = None
    key_path: Path | None = None
    key_id: str | None = None
    token_url: str | None = None
    token: str | None = field(default=None, repr=False)
    token_file: Path | None = None
    basic_user: str | None = None
    basic_password: str | None = field(default=None, repr=False)
    basic_password_file: Path | None = None
    scopes: tuple[str, ...] | None = None
    connect_timeout: float = 10.0
    read_timeout: float = 120.0
    max_retries: int = 4
    backoff_base: float = 1.0
    max_delay: float = 120.0
    concurrency: int = 4
    max_pages: int = 10_000
    allow_insecure_http: bool = False

    def __post_init__(self) -> None:
        """Normalize the base URL and check the settings fit together.

        Raises:
            ConfigError: for a bad URL, an unknown auth kind, missing credentials or bad limits.
        """
        object.__setattr__(self, "base_url", self.base_url.rstrip("/"))
        check_url(self.base_url, allow_insecure_http=self.allow_insecure_http)
        if self.token_url is not None:
            check_url(self.token_url, allow_insecure_http=self.allow_insecure_http)
        if self.auth not in AUTH_KINDS:
            raise ConfigError(f"unknown auth kind {self.auth!r}; use one of {AUTH_KINDS}")
        self._check_credentials()
        for name in ("connect_timeout", "read_timeout", "max_delay", "concurrency", "max_pages"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be positive")
        if self.max_retries < 0 or self.backoff_base < 0:
            raise ConfigError("max_retries and backoff_base must not be negative")

    def _check_credentials(self) -> None:
        if self.auth == "bearer" and not (self.token or self.token_file):
            raise ConfigError("auth 'bearer' needs a token or a token file")
        if self.auth == "basic" and not (
            self.basic_user and (self.basic_password or self.basic_password_file)
        ):
            raise ConfigError("auth 'basic' needs a user and a password or password file")
        if self.auth == "smart" and not (self.client_id and self.key_path):
            raise ConfigError("auth 'smart' needs a client id and a private key file")

    @property
    def timeout(self) -> tuple[float, float]:
        """The ``(connect, read)`` timeout tuple given to every request."""
        return (self.connect_timeout, self.read_timeout)

    def read_token(self) -> str:
        """Return the static bearer token, from its file when one is given.

        Raises:
            ConfigError: the file cannot be read or is empty, or no token is configured.
        """
        return _secret(self.token, self.token_file, "bearer token")

    def read_basic_password(self) -> str:
        """Return the HTTP Basic password, from its file when one is given.

        Raises:
            ConfigError: the file cannot be read or is empty, or no password is configured.
        """
        return _secret(self.basic_password, self.basic_password_file, "Basic password")


def _secret(value: str | None, path: Path | None, what: str) -> str:
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"cannot read the {what} file {path}: {exc.strerror}") from exc
        if not text:
            raise ConfigError(f"the {what} file {path} is empty")
        return text
    if not value:
        raise ConfigError(f"no {what} configured")
    return value


def origin_of(url: str) -> tuple[str, str, int | None]:
    """Return the origin ``(scheme, host, port)`` of a URL, with the default port made explicit.

    >>> origin_of("https://Fhir.Example.org/R4/Patient")
    ('https', 'fhir.example.org', 443)
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None:
        port = {"https": 443, "http": 80}.get(scheme)
    return (scheme, (parts.hostname or "").lower(), port)


def is_loopback(host: str) -> bool:
    """Tell whether a host name or address is the local machine (``localhost``, 127/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str, *, allow_insecure_http: bool) -> None:
    """Refuse URLs that are not https, except http to loopback or when explicitly allowed.

    Raises:
        ConfigError: the URL has no host, a scheme other than http(s), or is http without
            permission.
    """
    scheme, host, _ = origin_of(url)
    if scheme not in ("https", "http") or not host:
        raise ConfigError(f"not an http(s) URL with a host: {scheme or 'no scheme'}://{host}")
    if scheme == "http" and not (allow_insecure_http or is_loopback(host)):
        raise ConfigError(
            f"refusing plain http:// to {host}: use https, or allow insecure http explicitly"
        )

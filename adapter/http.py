"""The one send-with-retry function that every request goes through: token, metadata, search, bulk.

Classify -> back off (capped exponential with jitter, or the server's Retry-After, capped) ->
re-authorize once on 401 without spending a retry. Redirects are followed here, not by requests,
so that credentials never follow a redirect to another origin. Sleep, clock and jitter are
injected so tests never wait. Messages come from OperationOutcome or OAuth error fields only:
never response bodies, headers or query strings, which may carry patient identifiers.
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any, TypeVar
from urllib.parse import urljoin

import requests
from requests.auth import AuthBase

from adapter.config import ServerConfig, check_url, origin_of
from adapter.errors import FatalHTTPError, HTTPError, TemporaryHTTPError
from adapter.jsontext import parse_json
from adapter.messages import error_detail, safe_url

logger = logging.getLogger(__name__)

T = TypeVar("T")
OnRetry = Callable[[int | None, float, int], None]
Params = Mapping[str, str | Sequence[str]] | Sequence[tuple[str, str]]
FormData = Mapping[str, str]

# 408 request timeout, 429 busy, 502/503/504 gateway blips. 500 is retried too: servers (Oracle,
# Cerner) give it for transient failures as well, see cumulus-fhir-support http.py.
RETRIABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 5
# Truncated bodies (Content-Length mismatch, broken chunking, bad gzip) are transport faults.
_TRANSPORT_FAULTS: dict[type[Exception], str] = {
    requests.exceptions.ChunkedEncodingError: "truncated",
    requests.exceptions.ContentDecodingError: "truncated",
    requests.exceptions.Timeout: "timeout",
    requests.exceptions.ConnectionError: "connection",
}


@dataclass(frozen=True)
class RetryPolicy:
    """Retry budget, backoff and timeouts shared by every request of a client."""

    max_retries: int = 4
    backoff_base: float = 1.0
    max_delay: float = 120.0
    timeout: tuple[float, float] = (10.0, 120.0)
    allow_insecure_http: bool = False

    @classmethod
    def from_config(cls, config: ServerConfig) -> RetryPolicy:
        """Take the retry settings of a server configuration."""
        return cls(
            max_retries=config.max_retries,
            backoff_base=config.backoff_base,
            max_delay=config.max_delay,
            timeout=config.timeout,
            allow_insecure_http=config.allow_insecure_http,
        )


class RetryCounters:
    """Thread-safe counts of requests, retries (by reason) and waits, for the run record."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests = 0
        self.retries = 0
        self.reauthorizations = 0
        self.waited_seconds = 0.0
        self.by_reason: Counter[str] = Counter()

    def count_request(self) -> None:
        """Count one HTTP exchange (each redirect hop and each retry is one)."""
        with self._lock:
            self.requests += 1

    def count_reauthorization(self) -> None:
        """Count one re-authorization after a 401."""
        with self._lock:
            self.reauthorizations += 1

    def count_retry(self, reason: str, delay: float) -> None:
        """Count one retry, its reason (``429``, ``timeout``, ``truncated`` ...) and its wait."""
        with self._lock:
            self.retries += 1
            self.waited_seconds += delay
            self.by_reason[reason] += 1


@dataclass
class Transport:
    """A session with its retry policy and the injected sleep, clock, jitter and callbacks.

    Attributes:
        session: the one `requests.Session` of a client.
        policy: retry budget, backoff, timeouts, http:// permission.
        sleep: waits a number of seconds (`time.sleep`; a recorder in tests).
        clock: returns the current time as epoch seconds (`time.time`).
        rand: returns a float in [0, 1) for jitter (`random.random`).
        on_retry: called as ``on_retry(status, delay, attempt)`` before each wait; status is None
            for transport faults. The CLI shows "server busy, waiting 30 s" from it.
        counters: retry counters for the run record.
    """

    session: requests.Session
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time
    rand: Callable[[], float] = random.random
    on_retry: OnRetry | None = None
    counters: RetryCounters = field(default_factory=RetryCounters)


def send(
    transport: Transport,
    method: str,
    url: str,
    consume: Callable[[requests.Response], T],
    *,
    auth: AuthBase | None = None,
    reauthorize: Callable[[], bool] | None = None,
    headers: Mapping[str, str] | None = None,
    params: Params | None = None,
    data: FormData | Callable[[], FormData] | None = None,
    stream: bool = False,
) -> T:
    """Send one request with retries and return what `consume` makes of the response.

    `consume` runs inside the retry loop, so a body that breaks off while it is read (also while
    streaming to disk) is retried like any transport fault; it may raise `TemporaryHTTPError`
    itself (invalid JSON, a short file). A callable `data` is called for every attempt, so each
    attempt can carry a fresh JWT assertion.

    Args:
        transport: session, policy and injected time functions.
        method: HTTP method.
        url: absolute URL.
        consume: turns a successful response into the result (see `as_response`, `as_json`).
        auth: credentials, sent to the origin of `url` only (dropped on cross-origin redirects).
        reauthorize: called once after a 401; returns whether a new attempt may succeed.
        headers: request headers.
        params: query parameters (repeatable as a sequence of pairs).
        data: form body, or a callable building it per attempt.
        stream: do not read the body before calling `consume`.

    Returns:
        The value returned by `consume`.

    Raises:
        FatalHTTPError: a non-retriable status (4xx other than 408/429, a 401 after one
            re-authorization), too many redirects, or retries exhausted (chained to the last
            `TemporaryHTTPError`).
        ConfigError: the URL, or a redirect target, is plain http:// to a non-loopback host.
        AuthError: `reauthorize` failed to get new credentials.
    """
    retries, reauthorize_left = 0, reauthorize
    while True:
        form = data() if callable(data) else data
        try:
            response = _exchange(transport, method, url, auth, headers, params, form, stream)
            if response.status_code == 401 and reauthorize_left is not None:
                transport.counters.count_reauthorization()
                refresh, reauthorize_left = reauthorize_left, None
                if refresh():
                    response.close()
                    continue  # new credentials do not spend a retry
            _raise_for_status(method, url, response)
            return _consume(response, consume)
        except TemporaryHTTPError as exc:
            error = exc
        if retries >= transport.policy.max_retries:
            message = f"{error} (gave up after {retries} retries)"
            raise FatalHTTPError(message, status=error.status, response=error.response) from error
        retries += 1
        _wait(transport, error, retries)


def _exchange(
    transport: Transport,
    method: str,
    url: str,
    auth: AuthBase | None,
    headers: Mapping[str, str] | None,
    params: Params | None,
    data: FormData | None,
    stream: bool,
) -> requests.Response:
    """Do one exchange, following redirects by hand so credentials stay on their origin."""
    target, hop_auth, hop_headers = url, auth, dict(headers or {})
    for _ in range(MAX_REDIRECTS + 1):
        check_url(target, allow_insecure_http=transport.policy.allow_insecure_http)
        transport.counters.count_request()
        try:
            response = transport.session.request(
                method,
                target,
                auth=hop_auth,
                headers=hop_headers,
                params=params if target == url else None,
                data=data,
                stream=stream,
                timeout=transport.policy.timeout,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            raise _transport_error(method, url, exc) from exc
        location = response.headers.get("Location")
        if response.status_code not in REDIRECT_STATUSES or not location:
            return response
        response.close()
        target = urljoin(target, location)
        if origin_of(target) != origin_of(url):
            hop_auth = None  # never again on this exchange, even if redirected back
            hop_headers = {k: v for k, v in hop_headers.items() if k.lower() != "authorization"}
        if response.status_code == 303:
            method, data = "GET", None
    raise FatalHTTPError(f"{method} {safe_url(url)}: more than {MAX_REDIRECTS} redirects")


def _transport_error(method: str, url: str, exc: requests.RequestException) -> HTTPError:
    # The exception's own text names the URL with its query string: keep only its kind.
    if isinstance(exc, requests.exceptions.SSLError):
        return FatalHTTPError(f"{method} {safe_url(url)}: TLS failure ({type(exc).__name__})")
    for kind, reason in _TRANSPORT_FAULTS.items():
        if isinstance(exc, kind):
            return TemporaryHTTPError(f"{method} {safe_url(url)}: {reason} ({type(exc).__name__})")
    return FatalHTTPError(f"{method} {safe_url(url)}: request failed ({type(exc).__name__})")


def _raise_for_status(method: str, url: str, response: requests.Response) -> None:
    status = response.status_code
    if status < 400:
        return
    message = f"{method} {safe_url(url)}: [{status}] {error_detail(response)}"
    response.close()
    error = TemporaryHTTPError if status in RETRIABLE_STATUSES else FatalHTTPError
    raise error(message, status=status, response=response)


def _consume(response: requests.Response, consume: Callable[[requests.Response], T]) -> T:
    try:
        return consume(response)
    except requests.RequestException as exc:
        response.close()
        raise _transport_error(response.request.method or "GET", response.url, exc) from exc
    except BaseException:
        response.close()
        raise


def _wait(transport: Transport, error: TemporaryHTTPError, attempt: int) -> None:
    delay = retry_delay(transport, attempt, error.response)
    reason = str(error.status) if error.status is not None else _cause_reason(error)
    transport.counters.count_retry(reason, delay)
    logger.warning(
        "%s; retry %d of %d in %.1f s",
        _loggable(error, reason),
        attempt,
        transport.policy.max_retries,
        delay,
    )
    if transport.on_retry is not None:
        transport.on_retry(error.status, delay, attempt)
    transport.sleep(delay)


def _loggable(error: TemporaryHTTPError, reason: str) -> str:
    """Say what failed without the server's own text, which may echo patient identifiers."""
    response = error.response
    if response is None or getattr(response, "request", None) is None:
        return str(error)  # transport faults: method, redacted URL and fault class only
    return f"{response.request.method} {safe_url(response.url)}: [{reason}]"


def _cause_reason(error: TemporaryHTTPError) -> str:
    cause = error.__cause__
    for kind, reason in _TRANSPORT_FAULTS.items():
        if isinstance(cause, kind):
            return reason
    return "invalid-body"


def retry_delay(transport: Transport, attempt: int, response: requests.Response | None) -> float:
    """Seconds to wait before retry number `attempt` (1-based).

    The server's ``Retry-After`` wins when present; otherwise capped exponential backoff with
    equal jitter (half fixed, half random). Both are capped by `RetryPolicy.max_delay`.
    """
    policy = transport.policy
    if response is not None:
        after = parse_retry_after(response.headers.get("Retry-After"), transport.clock())
        if after is not None:
            return min(after, policy.max_delay)
    backoff = min(policy.max_delay, policy.backoff_base * 2.0 ** (attempt - 1))
    return backoff / 2 + transport.rand() * backoff / 2


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Read a ``Retry-After`` value (delay-seconds or HTTP-date) as seconds from `now`.

    >>> parse_retry_after("30", 0.0)
    30.0
    >>> parse_retry_after("Thu, 01 Jan 1970 00:01:00 GMT", 15.0)
    45.0
    """
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # HTTP-dates are always GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - now)


def as_response(response: requests.Response) -> requests.Response:
    """Consumer returning the response itself (its body already read unless streaming)."""
    return response


def as_json(response: requests.Response) -> dict[str, Any]:
    """Consumer parsing a JSON object; an unparsable body is a truncated one, so retriable.

    Raises:
        TemporaryHTTPError: the body is not valid JSON.
        FatalHTTPError: the body is valid JSON but not an object.
    """
    try:
        body = parse_json(response.content)  # exact decimals (2.250 stays 2.250), as from files
    except ValueError as exc:
        message = f"{response.request.method} {safe_url(response.url)}: invalid JSON body"
        raise TemporaryHTTPError(message, status=None, response=response) from exc
    if not isinstance(body, dict):
        message = f"{response.request.method} {safe_url(response.url)}: JSON is not an object"
        raise FatalHTTPError(message, status=response.status_code, response=response)
    return body

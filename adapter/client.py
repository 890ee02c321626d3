"""FhirClient: one server, one `requests.Session`, one retry transport, credentials kept on origin.

Use it as a context manager: the session and the thread pool live between ``__enter__`` and
``__exit__``, and `request()` outside raises. Every request goes through `adapter.http.send`.
"""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from adapter.auth import FhirAuth, make_auth
from adapter.capabilities import ServerCapabilities, parse_capabilities
from adapter.config import ServerConfig, origin_of
from adapter.errors import FatalHTTPError, OriginError
from adapter.http import (
    FormData,
    OnRetry,
    Params,
    RetryCounters,
    RetryPolicy,
    Transport,
    as_json,
    send,
)
from adapter.messages import OutcomeIssue
from adapter.paging import Resource, SearchResults

T = TypeVar("T")
R = TypeVar("R")
FHIR_JSON = "application/fhir+json"
USER_AGENT = "mas-registry/0.1 (python-requests)"


class FhirClient:
    """A client for one FHIR server.

    Args:
        config: the server configuration.
        session: a session to use instead of a new one (the client then does not close it).
        resource_types: the types the run will request (SMART scopes are built from them).
        auth: credentials to use instead of those `config` describes.
        sleep: waits between retries and bulk polls (`time.sleep`).
        clock: current epoch seconds (`time.time`), for Retry-After dates and token expiry.
        rand: jitter source in [0, 1).
        on_retry: ``on_retry(status, delay, attempt)`` before each retry wait.
    """

    def __init__(
        self,
        config: ServerConfig,
        *,
        session: requests.Session | None = None,
        resource_types: Sequence[str] = (),
        auth: FhirAuth | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        rand: Callable[[], float] = random.random,
        on_retry: OnRetry | None = None,
    ) -> None:
        self.config = config
        self.counters = RetryCounters()
        self._given_session = session
        self._resource_types = tuple(resource_types)
        self._given_auth = auth
        self._time = (sleep, clock, rand, on_retry)
        self._transport: Transport | None = None
        self._auth: FhirAuth | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._capabilities: ServerCapabilities | None = None

    def __enter__(self) -> FhirClient:
        """Open the session, the credentials and the thread pool.

        Raises:
            ConfigError: unreadable secrets or key file.
        """
        session = self._given_session
        if session is None:
            session = requests.Session()
            size = self.config.concurrency
            adapter = HTTPAdapter(pool_connections=size, pool_maxsize=size, max_retries=0)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
            session.headers["User-Agent"] = USER_AGENT
        sleep, clock, rand, on_retry = self._time
        policy = RetryPolicy.from_config(self.config)
        transport = Transport(session, policy, sleep, clock, rand, on_retry, self.counters)
        try:
            auth = self._given_auth or make_auth(
                self.config, transport, resource_types=self._resource_types
            )
        except BaseException:
            if self._given_session is None:
                session.close()
            raise
        self._transport, self._auth = transport, auth
        self._pool = ThreadPoolExecutor(self.config.concurrency, thread_name_prefix="fhir")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop the thread pool and close the session if the client opened it."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
        if self._transport is not None and self._given_session is None:
            self._transport.session.close()
        self._transport = self._auth = self._pool = None

    @property
    def base_url(self) -> str:
        """The FHIR base URL, without a trailing slash."""
        return self.config.base_url

    @property
    def auth_kind(self) -> str:
        """The kind of credentials (``none``, ``bearer``, ``basic``, ``smart``), not the secret."""
        return self._auth.kind if self._auth is not None else self.config.auth

    @property
    def transport(self) -> Transport:
        """The open transport (session, policy, sleep and clock).

        Raises:
            RuntimeError: outside the ``with`` block.
        """
        if self._transport is None:
            raise RuntimeError("use FhirClient inside a 'with' block")
        return self._transport

    def url(self, path_or_url: str) -> str:
        """An absolute URL: absolute ones unchanged, others relative to the base."""
        if urlsplit(path_or_url).scheme:
            return path_or_url
        return f"{self.base_url}/{path_or_url.lstrip('/')}"

    def same_origin(self, url: str) -> bool:
        """Tell whether a URL is on the origin of the base URL (where credentials may go)."""
        return origin_of(url) == origin_of(self.base_url)

    def request(
        self,
        method: str,
        path_or_url: str,
        consume: Callable[[requests.Response], T],
        *,
        params: Params | None = None,
        headers: Mapping[str, str] | None = None,
        data: FormData | None = None,
        stream: bool = False,
        authenticated: bool = True,
    ) -> T:
        """Send one request through the retry function, with credentials when asked.

        Raises:
            RuntimeError: outside the ``with`` block.
            OriginError: credentials asked for a URL on another origin than the base.
            HTTPError: see `adapter.http.send`.
            ConfigError: plain http:// to a non-loopback host.
            AuthError: the credentials could not be obtained.
        """
        transport, url = self.transport, self.url(path_or_url)
        auth = self._auth if authenticated else None
        if auth is not None and auth.kind != "none" and not self.same_origin(url):
            raise OriginError(
                f"refusing to send credentials to {origin_of(url)[1]}: "
                f"not the origin of the FHIR base ({origin_of(self.base_url)[1]})"
            )
        return send(
            transport,
            method,
            url,
            consume,
            auth=auth,
            reauthorize=auth.reauthorize if auth is not None else None,
            headers=headers,
            params=params,
            data=data,
            stream=stream,
        )

    def get_json(self, path_or_url: str, params: Params | None = None) -> dict[str, Any]:
        """GET a FHIR JSON object (a resource or a Bundle), authenticated.

        Raises:
            HTTPError, OriginError, AuthError: see `request`.
        """
        headers = {"Accept": FHIR_JSON}
        return self.request("GET", path_or_url, as_json, params=params, headers=headers)

    def capabilities(self) -> ServerCapabilities:
        """The server's CapabilityStatement, read once from ``/metadata``.

        Raises:
            CapabilityError: not a CapabilityStatement, or an unsupported FHIR version.
            HTTPError: see `request`.
        """
        if self._capabilities is None:
            self._capabilities = parse_capabilities(self.get_json("metadata"))
        return self._capabilities

    def read(self, reference: str) -> Resource:
        """Read one resource by ``Type/id`` (or an absolute URL on the base's origin).

        Raises:
            ValueError: the reference is not ``Type/id``.
            FatalHTTPError: 404/410 and other refusals, or the server returned another resource.
            HTTPError, OriginError, AuthError: see `request`.
        """
        url, prefix = self.url(reference), self.base_url + "/"
        parts = url[len(prefix) :].split("/") if url.startswith(prefix) else []
        if len(parts) != 2 or not all(parts) or any(c in url for c in "?#"):
            raise ValueError("a read needs a 'Type/id' reference on the server's base")
        resource = self.get_json(url)
        if resource.get("resourceType") != parts[0] or resource.get("id") != parts[1]:
            raise FatalHTTPError(f"reading a {parts[0]} returned another resource")
        return resource

    def search(
        self,
        resource_type: str,
        params: Params | None = None,
        *,
        on_include: Callable[[Resource], None] | None = None,
        on_warning: Callable[[OutcomeIssue], None] | None = None,
        max_pages: int | None = None,
    ) -> SearchResults:
        """Search one resource type; iterate the result to fetch pages lazily.

        After iteration, check `SearchResults.incomplete_reasons` and `self_link`.
        Errors surface while iterating (see `SearchResults.__next__`).
        """
        prepared = requests.PreparedRequest()
        prepared.prepare_url(self.url(resource_type), params)
        return SearchResults(
            self.get_json,
            str(prepared.url),
            base_url=self.base_url,
            resource_type=resource_type,
            max_pages=max_pages if max_pages is not None else self.config.max_pages,
            on_include=on_include,
            on_warning=on_warning,
        )

    def map_concurrent(self, fn: Callable[[T], R], items: Iterable[T]) -> Iterator[R]:
        """Apply `fn` to independent items on the client's thread pool, yielding in input order.

        At most twice the pool size is in flight, so a long item list is not queued at once.
        The first exception raised by `fn` is re-raised here once the work already running has
        finished; work not yet started is cancelled.

        Raises:
            RuntimeError: outside the ``with`` block.
        """
        if self._pool is None:
            raise RuntimeError("use FhirClient inside a 'with' block")
        pool, pending = self._pool, deque[Future[R]]()
        try:
            for item in items:
                pending.append(pool.submit(fn, item))
                if len(pending) >= 2 * self.config.concurrency:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()
            wait(pending)  # nothing started here runs on after this returns or raises

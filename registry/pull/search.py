"""Searching and reading with exact decimals, and turning what comes back into `SourceItem`s.

`FhirClient.get_json` parses bodies with `response.json()`, which turns FHIR decimals into
floats (``2.250`` -> ``2.25``, ``0.1`` -> 0.1000000000000000055...). The registry hashes and
stores canonical JSON with exact decimals, so the pull parses every body with
`adapter.jsontext.parse_json` instead; a body that does not parse is a truncated one and retried.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import requests

from adapter.client import FHIR_JSON, FhirClient
from adapter.errors import FatalHTTPError, TemporaryHTTPError
from adapter.items import SourceItem
from adapter.jsontext import dump_json, parse_json
from adapter.messages import safe_url
from adapter.paging import Resource, SearchResults

MAX_LOCATOR = 64  # source_record.locator is a 64-character column
# Parameters a server may rewrite or drop without changing what matches.
_PRESENTATION = frozenset({"_count", "_include", "_revinclude", "_sort", "_total", "_format"})


def exact_json(response: requests.Response) -> dict[str, Any]:
    """Consumer parsing a JSON object with exact decimals (see the module docstring).

    Raises:
        TemporaryHTTPError: the body is not valid JSON (truncated), so the request is retried.
        FatalHTTPError: the body is JSON but not an object.
    """
    try:
        body = parse_json(response.content)
    except ValueError as exc:
        message = f"{response.request.method} {safe_url(response.url)}: invalid JSON body"
        raise TemporaryHTTPError(message, status=None, response=response) from exc
    if not isinstance(body, dict):
        message = f"{response.request.method} {safe_url(response.url)}: JSON is not an object"
        raise FatalHTTPError(message, status=response.status_code, response=response)
    return body


def get_exact(client: FhirClient, url: str) -> dict[str, Any]:
    """GET a FHIR JSON object through the client's retry function, with exact decimals."""
    return client.request("GET", url, exact_json, headers={"Accept": FHIR_JSON})


def read_exact(client: FhirClient, resource_type: str, resource_id: str) -> Resource:
    """Read ``Type/id`` and check the server returned that resource.

    Raises:
        FatalHTTPError: 404/410 and other refusals, or another resource came back.
        HTTPError, OriginError, AuthError: see `FhirClient.request`.
    """
    resource = get_exact(client, f"{resource_type}/{quote(resource_id, safe='')}")
    if resource.get("resourceType") != resource_type or resource.get("id") != resource_id:
        raise FatalHTTPError(f"reading a {resource_type} returned another resource")
    return resource


def search(
    client: FhirClient,
    resource_type: str,
    params: Sequence[tuple[str, str]],
    *,
    on_include: Callable[[Resource], None] | None = None,
) -> SearchResults:
    """Start a search (pages are fetched while iterating), parsing pages with exact decimals."""
    prepared = requests.PreparedRequest()
    prepared.prepare_url(client.url(resource_type), list(params))
    return SearchResults(
        lambda url: get_exact(client, url),
        str(prepared.url),
        base_url=client.base_url,
        resource_type=resource_type,
        max_pages=client.config.max_pages,
        on_include=on_include,
    )


def ignored_params(asked: Sequence[tuple[str, str]], self_link: str | None) -> list[str]:
    """Names of the filtering parameters asked for that the self link does not show.

    Servers drop parameters they do not support and say so in the self link (if at all).
    No self link: nothing can be told, so nothing is reported.

    >>> ignored_params([("patient", "p1"), ("code", "x")], "https://h/Observation?code=x")
    ['patient']
    """
    if not self_link:
        return []
    shown = {key.split(":")[0] for key, _ in parse_qsl(urlsplit(self_link).query)}
    wanted = dict.fromkeys(key.split(":")[0] for key, _ in asked)
    return [key for key in wanted if key not in _PRESENTATION and key not in shown]


def make_item(resource: Resource, *, origin: str, locator: str, release: str) -> SourceItem:
    """A `SourceItem` for a fetched resource, with canonical raw bytes.

    Raises:
        ValueError: the resource cannot be written as JSON (a lone surrogate in a string).
    """
    rid = resource.get("id")
    return SourceItem(
        resource=resource,
        raw=dump_json(resource),
        origin=origin,
        locator=locator[:MAX_LOCATOR],
        fhir_version=release,
        bundle_context=None,
        resource_type=str(resource.get("resourceType")),
        resource_id=rid if isinstance(rid, str) else None,
    )

"""A `responses`-based fake FHIR server on https://fhir.example.invalid/R4, with SMART auth.

One dispatcher answers every request to the base: queued replies per URL (exact URL with query
first, then the path alone), a CapabilityStatement on /metadata, a SMART configuration and a
token endpoint on another origin. Each test breaks one thing on the working default and checks
with `assert_all_consumed` that every queued reply was used.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import requests
import responses

BASE = "https://fhir.example.invalid/R4"
TOKEN_URL = "https://auth.example.invalid/oauth2/token"
FILES = "https://fhir.example.invalid/bulkfiles"
OTHER_ORIGIN = "https://files.elsewhere.invalid"
START = 1_700_000_000.0  # 2023-11-14T22:13:20Z, the fake clock's start


class FakeClock:
    """Injected clock and sleep: sleeping advances the clock and is recorded, never real."""

    def __init__(self, now: float = START) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@dataclass
class Reply:
    """One canned reply; `error` is raised instead of answering (a transport fault)."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    error: Exception | None = None


def outcome(text: str, severity: str = "error", code: str = "processing") -> dict[str, Any]:
    """A one-issue OperationOutcome."""
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": code, "details": {"text": text}}],
    }


def bundle(
    resources: list[dict[str, Any]],
    *,
    next_url: str | None = None,
    self_url: str | None = None,
    total: int | None = None,
    includes: list[dict[str, Any]] | None = None,
    outcomes: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A searchset Bundle page."""
    entries = [{"resource": r, "search": {"mode": "match"}} for r in resources]
    entries += [{"resource": r, "search": {"mode": "include"}} for r in includes or []]
    entries += [{"resource": r, "search": {"mode": "outcome"}} for r in outcomes or []]
    links = [{"relation": "self", "url": self_url}] if self_url else []
    links += [{"relation": "next", "url": next_url}] if next_url else []
    page: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset", "link": links}
    page["entry"] = entries
    if total is not None:
        page["total"] = total
    return page


def capability_statement(version: str = "4.0.1") -> dict[str, Any]:
    """A CapabilityStatement: Observation by subject only, MedicationRequest by patient."""

    def resource(kind: str, params: list[str], **extra: Any) -> dict[str, Any]:
        return {
            "type": kind,
            "interaction": [{"code": "read"}, {"code": "search-type"}],
            "searchParam": [{"name": p, "type": "token"} for p in params],
            **extra,
        }

    export = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/"
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "kind": "instance",
        "fhirVersion": version,
        "software": {"name": "FakeFHIR", "version": "1.0"},
        "format": ["json"],
        "rest": [
            {
                "mode": "server",
                "resource": [
                    resource(
                        "Patient",
                        ["_id", "identifier"],
                        operation=[{"name": "export", "definition": export + "patient-export"}],
                    ),
                    resource("Observation", ["subject", "code", "category", "date"]),
                    resource(
                        "MedicationRequest",
                        ["patient", "subject"],
                        searchInclude=["MedicationRequest:medication"],
                    ),
                    resource("Group", [], operation=[{"name": "group-export"}]),
                ],
                "searchParam": [{"name": "_count", "type": "number"}],
                "operation": [{"name": "export", "definition": export + "export"}],
            }
        ],
    }


class FakeServer:
    """The working default server. `require_token` makes the FHIR base demand a valid token."""

    def __init__(self, mock: responses.RequestsMock, *, require_token: bool = False) -> None:
        self.mock = mock
        self.require_token = require_token
        self.routes: dict[str, deque[Reply]] = {}
        self.sticky: dict[str, Reply] = {}
        self.requests: list[requests.PreparedRequest] = []
        self.assertions: list[str] = []
        self.token_forms: list[dict[str, str]] = []
        self.valid_tokens: set[str] = set()
        self.token_lifetime = 300
        self.smart_configuration: dict[str, Any] | None = {
            "token_endpoint": TOKEN_URL,
            "capabilities": ["client-confidential-asymmetric", "permission-v2"],
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
        }
        self.token_replies: deque[Reply] = deque()
        pattern = re.compile(r"https?://[a-z.]+\.invalid(:\d+)?(/.*)?$")
        for method in (responses.GET, responses.POST, responses.DELETE):
            mock.add_callback(method, pattern, self._dispatch)
        self.sticky["GET /R4/metadata"] = Reply(body=capability_statement())

    def on(self, method: str, url: str, *replies: Reply, sticky: bool = False) -> None:
        """Queue replies for a URL (absolute or relative to BASE; with a query = exact match)."""
        key = self._key(method, url if "://" in url else f"{BASE}/{url}")
        if sticky:
            self.sticky[key] = replies[-1]
        else:
            self.routes.setdefault(key, deque()).extend(replies)

    def assert_all_consumed(self) -> None:
        """Fail if a queued reply was never asked for."""
        left = {key: len(queue) for key, queue in self.routes.items() if queue}
        assert not left, f"replies never consumed: {left}"
        assert not self.token_replies, "token replies never consumed"

    def calls(self, method: str, url_prefix: str) -> list[requests.PreparedRequest]:
        """The requests made with this method to URLs starting with the prefix."""
        return [
            r for r in self.requests if r.method == method and str(r.url).startswith(url_prefix)
        ]

    @staticmethod
    def _key(method: str, url: str) -> str:
        parts = urllib.parse.urlsplit(url)
        pairs = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
        query = f"?{urllib.parse.urlencode(pairs)}" if pairs else ""
        netloc = "" if parts.netloc == "fhir.example.invalid" else parts.netloc
        return f"{method} {netloc}{parts.path}{query}"

    def _dispatch(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], bytes]:
        self.requests.append(request)
        url = str(request.url)
        if url == TOKEN_URL:
            return self._token(request)
        if url.startswith(f"{BASE}/.well-known/smart-configuration"):
            if self.smart_configuration is None:
                return _render(Reply(404, outcome("not found")))
            return _render(Reply(body=self.smart_configuration))
        if self.require_token and url.startswith(BASE) and not self._authorized(request):
            return _render(Reply(401, outcome("token expired or missing")))
        key = self._key(str(request.method), url)
        for candidate in (key, key.split("?", 1)[0]):
            queue = self.routes.get(candidate)
            if queue:
                return _render(queue.popleft())
            if candidate in self.sticky:
                return _render(self.sticky[candidate])
        return _render(Reply(404, outcome("not found")))

    def _authorized(self, request: requests.PreparedRequest) -> bool:
        header = request.headers.get("Authorization", "")
        return header.startswith("Bearer ") and header[7:] in self.valid_tokens

    def _token(self, request: requests.PreparedRequest) -> tuple[int, dict[str, str], bytes]:
        body = request.body if isinstance(request.body, str) else (request.body or b"").decode()
        form = dict(urllib.parse.parse_qsl(body))
        self.token_forms.append(form)
        self.assertions.append(form.get("client_assertion", ""))
        if self.token_replies:
            return _render(self.token_replies.popleft())
        token = f"token-{len(self.assertions)}"
        self.valid_tokens.add(token)
        reply = {"access_token": token, "token_type": "bearer", "expires_in": self.token_lifetime}
        return _render(Reply(body={**reply, "scope": form.get("scope", "")}))


def _render(reply: Reply) -> tuple[int, dict[str, str], bytes]:
    if reply.error is not None:
        raise reply.error
    if isinstance(reply.body, bytes):
        body = reply.body
    elif isinstance(reply.body, str):
        body = reply.body.encode()
    else:
        body = json.dumps(reply.body).encode() if reply.body is not None else b""
    headers = {"Content-Type": "application/fhir+json", **reply.headers}
    return reply.status, headers, body

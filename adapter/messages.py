"""Safe texts for errors and warnings: OperationOutcome and OAuth fields, and redacted URLs.

Response bodies, headers and query strings may carry patient identifiers or secrets, so error
messages are built only from OperationOutcome ``details.text``/``diagnostics`` or OAuth
``error_description``/``error``, and URLs lose their query, credentials and resource ids.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

_TYPE_SEGMENT = re.compile(r"^[A-Z][A-Za-z]+$")
_MAX_DETAIL = 300


@dataclass(frozen=True)
class OutcomeIssue:
    """One OperationOutcome issue, reduced to what may be shown and recorded."""

    severity: str
    code: str
    text: str


def error_detail(response: requests.Response) -> str:
    """A short, safe description of an error response: OperationOutcome or OAuth text only."""
    try:
        body = response.json()
    except ValueError:
        body = None
    detail = ""
    if isinstance(body, dict):
        if body.get("resourceType") == "OperationOutcome":
            detail = "; ".join(issue.text for issue in outcome_issues(body) if issue.text)
        elif isinstance(body.get("error_description"), str):
            detail = body["error_description"]
        elif isinstance(body.get("error"), str):
            detail = body["error"]
    detail = detail or response.reason or "no details"
    return detail if len(detail) <= _MAX_DETAIL else detail[: _MAX_DETAIL - 1] + "…"


def outcome_issues(outcome: Mapping[str, Any]) -> list[OutcomeIssue]:
    """The issues of an OperationOutcome, each with ``details.text`` or else ``diagnostics``."""
    issues = []
    for issue in outcome.get("issue") or []:
        if not isinstance(issue, dict):
            continue
        details = issue.get("details") if isinstance(issue.get("details"), dict) else {}
        text = (details or {}).get("text") or issue.get("diagnostics") or ""
        severity, code = issue.get("severity"), issue.get("code")
        issues.append(OutcomeIssue(str(severity or ""), str(code or ""), str(text)))
    return issues


def safe_url(url: str) -> str:
    """A URL fit for messages: no credentials, query or fragment, and ids replaced by ``{id}``.

    >>> safe_url("https://u:p@h.org/R4/Patient/123/_history/2?identifier=mrn|42")
    'https://h.org/R4/Patient/{id}/_history/{id}'
    """
    parts = urlsplit(url)
    segments = parts.path.split("/")
    for index in range(1, len(segments)):
        previous, segment = segments[index - 1], segments[index]
        is_id = _TYPE_SEGMENT.match(previous) or previous == "_history"
        if is_id and segment and not segment.startswith(("$", "_")):
            segments[index] = "{id}"
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{'/'.join(segments)}"

"""Iterate a search's Bundle pages by following ``link[relation=next]`` verbatim.

Never rebuild a page URL from offsets or the original parameters: servers use opaque cursors
and reorder parameters, so rebuilt URLs skip or repeat pages (STYLE 7.1). Pages are followed in
a loop, with guards against a repeated next link, a next link to another origin (it would carry
the token there) and an endless chain (page cap).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import urljoin

from adapter.config import origin_of
from adapter.errors import PagingError
from adapter.messages import OutcomeIssue, outcome_issues

logger = logging.getLogger(__name__)

FetchPage = Callable[[str], Mapping[str, Any]]
Resource = dict[str, Any]


class SearchResults(Iterator[Resource]):
    """The matches of one search, yielded lazily, with what a caller needs to judge completeness.

    Entries with ``search.mode`` ``match`` (or no mode) and of the searched type are results;
    ``include`` entries (and other types) go to `on_include`; OperationOutcome entries (mode
    ``outcome``, or a 200 whose body is an OperationOutcome) become warnings.

    Attributes:
        pages: pages fetched so far.
        matches: distinct resources yielded (same type and id counted once).
        duplicates: resources yielded again on a later page (kept: the loader is idempotent).
        includes: included resources passed to `on_include`.
        total: ``Bundle.total`` of the first page that has one, else None.
        self_link: the first page's ``link[relation=self]``: what the server actually searched,
            to compare with what was asked (unsupported parameters are silently dropped).
        warnings: OperationOutcome issues received.
        finished: the last page was reached.
    """

    def __init__(
        self,
        fetch: FetchPage,
        first_url: str,
        *,
        base_url: str,
        resource_type: str | None = None,
        max_pages: int | None = None,
        on_include: Callable[[Resource], None] | None = None,
        on_warning: Callable[[OutcomeIssue], None] | None = None,
    ) -> None:
        self._fetch = fetch
        self._base = base_url.rstrip("/") + "/"
        self._type = resource_type
        self._max_pages = max_pages
        self._on_include = on_include
        self._on_warning = on_warning
        self._ids: set[tuple[str, str]] = set()
        self._entries = self._iterate(first_url)
        self.pages = 0
        self.matches = 0
        self.duplicates = 0
        self.includes = 0
        self.total: int | None = None
        self.self_link: str | None = None
        self.warnings: list[OutcomeIssue] = []
        self.finished = False

    def __iter__(self) -> SearchResults:
        """Return self: the results can be iterated once."""
        return self

    def __next__(self) -> Resource:
        """Return the next matching resource, fetching the next page when needed.

        Raises:
            StopIteration: after the last page.
            PagingError: a repeated or cross-origin next link, the page cap, or a page that is
                neither a Bundle nor an OperationOutcome.
            HTTPError: from `fetch`, when a page cannot be fetched.
        """
        return next(self._entries)

    @property
    def incomplete_reasons(self) -> list[str]:
        """Why the results may be incomplete (empty when they are complete or not yet finished).

        ``Bundle.total`` above the distinct matches received, or an error-level OperationOutcome.
        """
        reasons = []
        if self.total is not None and self.matches < self.total:
            reasons.append(f"Bundle.total is {self.total} but {self.matches} were received")
        if any(w.severity in ("error", "fatal") for w in self.warnings):
            reasons.append("the server reported an error in an OperationOutcome")
        return reasons

    @property
    def incomplete(self) -> bool:
        """True when `incomplete_reasons` is not empty."""
        return bool(self.incomplete_reasons)

    def _iterate(self, first_url: str) -> Iterator[Resource]:
        """Fetch pages in a loop and yield their results.

        Raises:
            PagingError: see `__next__`.
        """
        url: str | None = first_url
        visited: set[str] = set()
        while url is not None:
            if url in visited:
                raise PagingError(f"the server repeated a next link after page {self.pages}")
            if self._max_pages is not None and self.pages >= self._max_pages:
                raise PagingError(f"the search has more than {self._max_pages} pages (page cap)")
            visited.add(url)
            page = self._fetch(url)
            self.pages += 1
            yield from self._read_page(page)
            url = self._next_url(page)
        self.finished = True
        logger.debug("search done: %d pages, %d matches", self.pages, self.matches)

    def _read_page(self, page: Mapping[str, Any]) -> Iterator[Resource]:
        """Route a page's entries to results, includes and warnings.

        Raises:
            PagingError: the page is neither a Bundle nor an OperationOutcome.
        """
        kind = page.get("resourceType")
        if kind == "OperationOutcome":
            self._warn(page)
            return
        if kind != "Bundle":
            raise PagingError(f"page {self.pages} of the search is not a Bundle")
        if self.total is None and isinstance(page.get("total"), int):
            self.total = page["total"]
        if self.pages == 1:
            self.self_link = _link(page, "self")
        for entry in page.get("entry") or []:
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
                self._note("a Bundle entry without a resource was skipped")
                continue
            search = entry.get("search") if isinstance(entry.get("search"), dict) else {}
            mode = (search or {}).get("mode")
            if mode == "outcome" or (resource["resourceType"] == "OperationOutcome"):
                self._warn(resource)
            elif mode == "include" or (self._type and resource["resourceType"] != self._type):
                self.includes += 1
                if self._on_include is not None:
                    self._on_include(resource)
            else:
                self._count(resource)
                yield resource

    def _count(self, resource: Resource) -> None:
        key = (resource["resourceType"], str(resource.get("id")))
        if resource.get("id") is not None and key in self._ids:
            self.duplicates += 1
            return
        self._ids.add(key)
        self.matches += 1

    def _next_url(self, page: Mapping[str, Any]) -> str | None:
        """The next link, absolute or resolved against the base; None on the last page.

        Raises:
            PagingError: the next link points to another origin than the base.
        """
        if page.get("resourceType") != "Bundle":
            return None
        link = _link(page, "next")
        if link is None:
            return None
        url = urljoin(self._base, link)
        if origin_of(url) != origin_of(self._base):
            raise PagingError(
                f"page {self.pages} links to another origin ({origin_of(url)[1]}); "
                "refusing to follow it with our credentials"
            )
        return url

    def _warn(self, outcome: Mapping[str, Any]) -> None:
        for issue in outcome_issues(outcome) or [OutcomeIssue("warning", "unknown", "")]:
            self.warnings.append(issue)
            if self._on_warning is not None:
                self._on_warning(issue)

    def _note(self, text: str) -> None:
        self._warn({"issue": [{"severity": "warning", "code": "processing", "diagnostics": text}]})


def _link(page: Mapping[str, Any], relation: str) -> str | None:
    for link in page.get("link") or []:
        if isinstance(link, dict) and link.get("relation") == relation:
            url = link.get("url")
            return url if isinstance(url, str) and url else None
    return None

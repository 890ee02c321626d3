"""Tests for adapter.paging: following Bundle next links and routing entries."""

from __future__ import annotations

import pytest

from adapter.errors import PagingError
from adapter.paging import SearchResults
from tests.fakeserver import BASE, bundle, outcome

FIRST = f"{BASE}/Observation?subject=Patient/p1"


def obs(n):
    return {"resourceType": "Observation", "id": f"o{n}"}


class Pages:
    """A fetch function over a dict of URL -> page, recording what was fetched."""

    def __init__(self, pages):
        self.pages = pages
        self.fetched = []

    def __call__(self, url):
        self.fetched.append(url)
        return self.pages[url]


def search(pages, **kwargs):
    kwargs.setdefault("resource_type", "Observation")
    return SearchResults(pages, FIRST, base_url=BASE, **kwargs)


@pytest.mark.parametrize(
    ("link", "resolved"),
    [
        (f"{BASE}/Observation?page=2&_cursor=a%2Fb", f"{BASE}/Observation?page=2&_cursor=a%2Fb"),
        ("Observation?page=2", f"{BASE}/Observation?page=2"),
        ("/R4/Observation?page=2", f"{BASE}/Observation?page=2"),
        ("?_getpages=abc&_offset=10", f"{BASE}/?_getpages=abc&_offset=10"),
    ],
    ids=["absolute-verbatim", "relative-to-base", "root-relative", "query-only"],
)
def test_paging_follows_next_links(link, resolved):
    pages = Pages({FIRST: bundle([obs(1)], next_url=link), resolved: bundle([obs(2)])})

    results = search(pages)

    assert [r["id"] for r in results] == ["o1", "o2"]
    assert pages.fetched == [FIRST, resolved]
    assert results.pages == 2
    assert results.finished


def test_paging_is_lazy():
    pages = Pages({FIRST: bundle([obs(1)], next_url=f"{BASE}/p2"), f"{BASE}/p2": bundle([])})

    results = search(pages)
    assert pages.fetched == []
    next(results)

    assert pages.fetched == [FIRST]


def test_paging_is_iterative_over_long_chains():
    count = 3000  # deeper than Python's recursion limit
    urls = [FIRST] + [f"{BASE}/Observation?page={n}" for n in range(1, count)]
    pages = Pages(
        {
            url: bundle([obs(n)], next_url=urls[n + 1] if n + 1 < count else None)
            for n, url in enumerate(urls)
        }
    )

    assert sum(1 for _ in search(pages, max_pages=count)) == count


@pytest.mark.parametrize(
    "chain",
    [
        {FIRST: bundle([obs(1)], next_url=FIRST)},
        {
            FIRST: bundle([obs(1)], next_url=f"{BASE}/a"),
            f"{BASE}/a": bundle([obs(2)], next_url=f"{BASE}/b"),
            f"{BASE}/b": bundle([obs(3)], next_url=f"{BASE}/a"),
        },
    ],
    ids=["next-is-self", "cycle"],
)
def test_paging_stops_on_repeated_next_link(chain):
    pages = Pages(chain)

    with pytest.raises(PagingError, match="repeated a next link"):
        list(search(pages))

    assert len(pages.fetched) == len(chain)


@pytest.mark.parametrize(
    "link",
    [
        "https://evil.example.invalid/R4/Observation?page=2",
        "http://fhir.example.invalid/R4/Observation?page=2",
        "https://fhir.example.invalid:8443/R4/Observation?page=2",
        "//evil.example.invalid/R4/Observation",
    ],
    ids=["other-host", "other-scheme", "other-port", "scheme-relative"],
)
def test_paging_refuses_next_link_to_another_origin(link):
    pages = Pages({FIRST: bundle([obs(1)], next_url=link)})
    results = search(pages)

    assert next(results)["id"] == "o1"
    with pytest.raises(PagingError, match="another origin"):
        next(results)
    assert pages.fetched == [FIRST]


def test_paging_page_cap():
    pages = Pages(
        {
            FIRST: bundle([obs(1)], next_url=f"{BASE}/p2"),
            f"{BASE}/p2": bundle([obs(2)], next_url=f"{BASE}/p3"),
        }
    )

    with pytest.raises(PagingError, match="more than 2 pages"):
        list(search(pages, max_pages=2))


def test_paging_routes_includes_and_outcomes():
    medication = {"resourceType": "Medication", "id": "m1"}
    unmarked = {"resourceType": "Patient", "id": "p1"}
    page = bundle(
        [obs(1)],
        includes=[medication],
        outcomes=[outcome("Some codes were not recognised", severity="warning")],
    )
    page["entry"].append({"resource": unmarked})  # no search.mode and not the searched type
    page["entry"].append({"resource": obs(2)})  # no search.mode: a match
    page["entry"].append({"fullUrl": "urn:uuid:1"})  # no resource at all
    included, warned = [], []

    results = search(Pages({FIRST: page}), on_include=included.append, on_warning=warned.append)

    assert [r["id"] for r in results] == ["o1", "o2"]
    assert included == [medication, unmarked]
    assert [w.text for w in warned] == [
        "Some codes were not recognised",
        "a Bundle entry without a resource was skipped",
    ]
    assert results.includes == 2
    assert results.matches == 2
    assert not results.incomplete


def test_paging_outcome_body_is_a_warning_and_incomplete():
    pages = Pages({FIRST: outcome("Search failed: too many results")})

    results = search(pages)

    assert list(results) == []
    assert [w.text for w in results.warnings] == ["Search failed: too many results"]
    assert results.incomplete_reasons == ["the server reported an error in an OperationOutcome"]


@pytest.mark.parametrize(
    ("total", "reasons"),
    [
        (3, ["Bundle.total is 3 but 2 were received"]),
        (2, []),
        (None, []),
    ],
    ids=["short", "complete", "no-total"],
)
def test_paging_reports_total_against_received(total, reasons):
    pages = Pages(
        {
            FIRST: bundle([obs(1)], next_url=f"{BASE}/p2", total=total),
            f"{BASE}/p2": bundle([obs(2), obs(1)]),  # o1 again: a shifted page
        }
    )

    results = search(pages)
    list(results)

    assert results.total == total
    assert results.matches == 2
    assert results.duplicates == 1
    assert results.incomplete_reasons == reasons


def test_paging_exposes_the_self_link():
    asked = f"{BASE}/Observation?subject=Patient/p1&code=1-8"
    page = bundle([obs(1)], self_url=f"{BASE}/Observation?subject=Patient/p1")

    results = SearchResults(Pages({asked: page}), asked, base_url=BASE)
    list(results)

    assert results.self_link == f"{BASE}/Observation?subject=Patient/p1"


def test_paging_refuses_a_page_that_is_not_a_bundle():
    with pytest.raises(PagingError, match="not a Bundle"):
        list(search(Pages({FIRST: {"resourceType": "Patient", "id": "p1"}})))
